// /opt/aws/bin/cfn-hup: runs hooks when a resource's metadata changes (hup.h). Stays in the
// foreground (systemd's cfn-hup.service runs it); --no-daemon runs one pass and exits (non-zero
// when a read or an action failed).

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdlib>
#include <thread>

#include "guest/cfn/hup.h"
#include "guest/cfn/log_file.h"
#include "guest/cfn/real_system.h"

using namespace minicloud::guest;

static int Main(int argc, char** argv) {
  CLI::App app{"cfn-hup: runs hooks when CloudFormation resource metadata changes"};
  std::string config_dir = "/etc/cfn";
  bool no_daemon = false, verbose = false;
  app.add_option("-c,--config", config_dir, "directory of cfn-hup.conf and hooks.d")
      ->capture_default_str();
  app.add_flag("--no-daemon", no_daemon, "run one pass and exit");
  app.add_flag("-v,--verbose", verbose, "also log to stderr");
  CLI11_PARSE(app, argc, argv);

  LogFile log("cfn-hup.log");
  StatusOr<HupFiles> files = LoadHupFiles(config_dir);
  if (!files.ok()) {
    log.Line("error: " + files.status().message());
    std::fprintf(stderr, "cfn-hup: %s\n", files.status().message().c_str());
    return 1;
  }
  log.set_echo(verbose || files->config.verbose);
  const char* data_env = std::getenv("MINICLOUD_CFN_HUP_DATA_DIR");
  const std::string data_dir = data_env && *data_env ? data_env : "/var/lib/cfn-hup/data";
  const HupConfig& config = files->config;
  HupDeps deps;
  deps.describe = [&](const std::string& resource) {
    return DescribeStackResource(config.url, config.stack, resource);
  };
  deps.run = [](const ProcessSpec& spec) { return RunProcess(spec); };
  deps.log = [&](const std::string& line) { log.Line(line); };
  log.Line("cfn-hup: stack " + config.stack + ", " + std::to_string(files->hooks.size()) +
           " hooks, every " + std::to_string(config.interval_minutes) + " min");
  while (true) {
    HupPassResult pass = RunHupPass(files->hooks, data_dir, deps);
    if (no_daemon) return pass.failures == 0 ? 0 : 1;
    std::this_thread::sleep_for(
        std::chrono::milliseconds(static_cast<long long>(config.interval_minutes * 60000)));
  }
}

// Nothing the network sends may crash a helper: an unexpected exception is an error line.
int main(int argc, char** argv) {
  try {
    return Main(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cfn-hup: error: %s\n", e.what());
    return 1;
  }
}
