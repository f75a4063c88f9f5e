// /opt/aws/bin/cfn-init: AWS::CloudFormation::Init of a stack's resource, run in the guest.
// Flags as aws-cfn-bootstrap's; the console report as the seam with the CLI fixes
// (init_exec.h).

#include <CLI/CLI.hpp>
#include <cstdio>

#include "guest/cfn/cfn_api.h"
#include "guest/cfn/init_exec.h"
#include "guest/cfn/init_plan.h"
#include "guest/cfn/log_file.h"
#include "guest/cfn/real_system.h"

using namespace minicloud::guest;

namespace {

int Fail(const LogFile& log, const std::string& message) {
  log.Line("error: " + message);
  std::fprintf(stderr, "cfn-init: error: %s\n", message.c_str());
  std::fprintf(stderr, "cfn-init: result: failed (exit %d)\n", kInitFailureExit);
  return kInitFailureExit;
}

}  // namespace

static int Main(int argc, char** argv) {
  CLI::App app{"cfn-init: applies a resource's AWS::CloudFormation::Init metadata"};
  std::string stack, resource, region, config_sets, url = kDefaultCfnUrl, ignored;
  bool verbose = false;
  app.add_option("-s,--stack", stack, "stack name or id")->required();
  app.add_option("-r,--resource", resource, "logical id of the resource")->required();
  app.add_option("--region", region, "region (the guest's endpoint serves its own)");
  app.add_option("-c,--configsets", config_sets, "comma-separated configSets to run");
  app.add_option("--url", url, "CloudFormation endpoint")->capture_default_str();
  app.add_flag("-v,--verbose", verbose, "log more to /var/log/cfn-init.log");
  // Accepted for compatibility with templates written for AWS; the host's endpoint
  // authenticates the instance itself.
  for (const char* name : {"--role", "-f,--credential-file", "--access-key", "--secret-key",
                           "--http-proxy", "--https-proxy"}) {
    app.add_option(name, ignored, "ignored (accepted for compatibility)")->group("Compatibility");
  }
  CLI11_PARSE(app, argc, argv);

  LogFile log("cfn-init.log");
  LogFile cmd_log("cfn-init-cmd.log");
  log.Line("cfn-init: stack " + stack + ", resource " + resource +
           (config_sets.empty() ? "" : ", configSets " + config_sets) + ", endpoint " + url);
  StatusOr<ResourceDetail> detail = DescribeStackResource(url, stack, resource);
  if (!detail.ok()) return Fail(log, detail.status().message());
  if (verbose) log.Line("metadata: " + detail->metadata.dump());
  StatusOr<std::vector<Step>> steps = PlanInit(detail->metadata, SplitConfigSets(config_sets));
  if (!steps.ok()) return Fail(log, steps.status().message());
  log.Line("planned " + std::to_string(steps->size()) + " steps");
  if (verbose) {
    for (const Step& step : *steps) log.Line("  " + step.Name());
  }
  RealSystem system;
  InitExecutor executor(
      system, [&](const std::string& line) { log.Line(line); },
      [&](const std::string& line) { cmd_log.Line(line); });
  InitResult result = executor.Run(*steps);
  for (const std::string& line : result.report) {
    log.Line(line);
    std::fprintf(stderr, "%s\n", line.c_str());
  }
  return result.exit_code;
}

// Nothing the network sends may crash a helper: an unexpected exception is an error line.
int main(int argc, char** argv) {
  try {
    return Main(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cfn-init: error: %s\n", e.what());
    std::fprintf(stderr, "cfn-init: result: failed (exit %d)\n", kInitFailureExit);
    return 1;
  }
}
