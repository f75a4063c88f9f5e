// How the agent's settings combine: a flag wins over the --config file, which wins over the
// default; bad values are errors that name the flag or the file's key and line.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "absl/strings/match.h"
#include "agent/config/agent_settings.h"

namespace minicloud::agent {
namespace {

// Parses `args` (without the program name) with the agent's flags, then applies the config file
// the args name, as main() does.
struct Parsed {
  AgentSettings settings = DefaultAgentSettings();
  std::string parse_error;  // CLI11's message, when parsing failed
  absl::Status file_status;
};

Parsed Parse(std::vector<std::string> args) {
  Parsed p;
  CLI::App app{"agent"};
  AddAgentFlags(app, p.settings);
  std::reverse(args.begin(), args.end());  // CLI11 takes a vector back to front
  try {
    app.parse(args);
  } catch (const CLI::ParseError& e) {
    p.parse_error = e.what();
    return p;
  }
  p.file_status = ApplyConfigFile(app, p.settings);
  return p;
}

struct TempConfig {
  explicit TempConfig(const std::string& yaml) {
    static int next = 0;
    path = (std::filesystem::temp_directory_path() /
            ("minicloud-agent-settings-" + std::to_string(::getpid()) + "-" +
             std::to_string(next++) + ".yaml"))
               .string();
    std::ofstream(path) << yaml;
  }
  ~TempConfig() { std::filesystem::remove(path); }
  std::string path;
};

// One setting reachable by flag and file.
struct SettingCase {
  std::string flag, flag_value;
  std::string yaml;  // the file setting it to another value
  std::function<std::string(const AgentSettings&)> get;
  std::string default_value, file_value;
};

std::vector<SettingCase> SettingCases() {
  auto str = [](std::string AgentSettings::*m) {
    return [m](const AgentSettings& s) { return s.*m; };
  };
  auto num = [](auto AgentSettings::*m) {
    return [m](const AgentSettings& s) { return std::to_string(s.*m); };
  };
  return {
      {"--controller", "10.0.0.1:7702", "controller: 10.0.0.2:7702",
       str(&AgentSettings::controller), "127.0.0.1:7702", "10.0.0.2:7702"},
      {"--join-token", "mcjoin1.flag", "join_token: mcjoin1.file", str(&AgentSettings::join_token),
       "", "mcjoin1.file"},
      {"--join-token-file", "/etc/flag-token", "join_token_file: /etc/file-token",
       str(&AgentSettings::join_token_file), "", "/etc/file-token"},
      {"--listen", "0.0.0.0:7701", "listen: 0.0.0.0:7702", str(&AgentSettings::listen),
       "127.0.0.1:0", "0.0.0.0:7702"},
      {"--advertise", "10.0.0.5:7701", "advertise: 10.0.0.6:7701", str(&AgentSettings::advertise),
       "", "10.0.0.6:7701"},
      {"--state-dir", "/srv/flag", "state_dir: /srv/file", str(&AgentSettings::state_dir),
       "/var/lib/minicloud/agent", "/srv/file"},
      {"--hostname", "flag-host", "hostname: file-host", str(&AgentSettings::hostname),
       DefaultAgentSettings().hostname, "file-host"},
      {"--accel", "kvm", "accel: tcg", str(&AgentSettings::accel), "auto", "tcg"},
      // A flag that repeats the default still wins over the file.
      {"--accel", "auto", "accel: kvm", str(&AgentSettings::accel), "auto", "kvm"},
      {"--region", "home-2", "topology: {region: home-3}", str(&AgentSettings::region), "home-1",
       "home-3"},
      {"--az", "home-1b", "topology: {availability_zone: home-1c}",
       str(&AgentSettings::availability_zone), "home-1a", "home-1c"},
      {"--rack", "rack-2", "topology: {rack: rack-3}", str(&AgentSettings::rack), "rack-1",
       "rack-3"},
      {"--vcpus", "4", "capacity: {vcpus: 8}", num(&AgentSettings::vcpus), "0", "8"},
      {"--memory-mib", "2048", "capacity: {memory_mib: 4096}", num(&AgentSettings::memory_mib), "0",
       "4096"},
      {"--instance-store-gb", "10", "capacity: {instance_store_gb: 20}",
       num(&AgentSettings::instance_store_gb), "-1", "20"},
      {"--bridge", "br-flag", "network: {bridge: br-file}", str(&AgentSettings::bridge), "br-mc0",
       "br-file"},
      {"--stop-timeout", "30", "stop_timeout_seconds: 60", num(&AgentSettings::stop_timeout_s),
       "120", "60"},
      {"--qemu-user", "qemu-flag", "qemu_user: qemu-file", str(&AgentSettings::qemu_user),
       "minicloud-qemu", "qemu-file"},
      {"--cfn-bootstrap-archive", "/flag/cfn.tgz", "cfn_bootstrap_archive: /file/cfn.tgz",
       str(&AgentSettings::cfn_bootstrap_archive), kDefaultCfnBootstrapArchive, "/file/cfn.tgz"},
  };
}

TEST_CASE("agent settings: flag > file > default, for every setting", "[agent][config]") {
  for (const auto& c : SettingCases()) {
    DYNAMIC_SECTION(c.flag << " " << c.flag_value << " / " << c.yaml) {
      TempConfig file(c.yaml);
      INFO("default");
      CHECK(c.get(Parse({}).settings) == c.default_value);
      INFO("file only");
      const auto from_file = Parse({"--config", file.path});
      REQUIRE(from_file.file_status.ok());
      CHECK(c.get(from_file.settings) == c.file_value);
      INFO("flag only");
      CHECK(c.get(Parse({c.flag, c.flag_value}).settings) == c.flag_value);
      INFO("flag and file");
      const auto both = Parse({"--config", file.path, c.flag, c.flag_value});
      REQUIRE(both.file_status.ok());
      CHECK(c.get(both.settings) == c.flag_value);
      // Before or after --config makes no difference.
      CHECK(c.get(Parse({c.flag, c.flag_value, "--config", file.path}).settings) == c.flag_value);
    }
  }
}

TEST_CASE("agent settings: --nat, a flag without a value", "[agent][config]") {
  TempConfig off("network: {nat: false}");
  TempConfig on("network: {nat: true}");
  CHECK_FALSE(Parse({}).settings.nat);
  CHECK(Parse({"--config", on.path}).settings.nat);
  CHECK(Parse({"--nat", "--config", off.path}).settings.nat);
  CHECK_FALSE(Parse({"--config", off.path}).settings.nat);
}

TEST_CASE("agent settings: --dns-upstream, a list from the flag or the file", "[agent][config]") {
  using List = std::vector<std::string>;
  TempConfig file("network: {dns_upstream: [192.0.2.53, '2001:db8::53']}");
  CHECK(Parse({}).settings.dns_upstream.empty());
  CHECK(Parse({"--config", file.path}).settings.dns_upstream == List{"192.0.2.53", "2001:db8::53"});
  CHECK(Parse({"--dns-upstream", "198.51.100.1,198.51.100.2"}).settings.dns_upstream ==
        List{"198.51.100.1", "198.51.100.2"});
  CHECK(Parse({"--config", file.path, "--dns-upstream", "198.51.100.1"}).settings.dns_upstream ==
        List{"198.51.100.1"});
  TempConfig scalar("network: {dns_upstream: 192.0.2.53}");
  CHECK(absl::StrContains(Parse({"--config", scalar.path}).file_status.message(),
                          "'network.dns_upstream' must be a list of strings"));
}

TEST_CASE("agent settings: bad values are errors naming the flag or key", "[agent][config]") {
  struct Case {
    std::vector<std::string> args;
    std::string error;
  };
  const std::vector<Case> flag_cases = {
      {{"--accel", "fast"}, "--accel: fast not in {auto,kvm,tcg}"},
      {{"--stop-timeout", "0"}, "--stop-timeout"},
      {{"--stop-timeout", "5000"}, "--stop-timeout"},
      {{"--probe-seconds", "0.1"}, "--probe-seconds"},
      {{"--vcpus", "-1"}, "--vcpus"},
      {{"--memory-mib", "lots"}, "--memory-mib"},
      {{"--unknown-flag", "1"}, "--unknown-flag"},
  };
  for (const auto& c : flag_cases) {
    const auto p = Parse(c.args);
    INFO(c.args[0] << " -> " << p.parse_error);
    CHECK(p.parse_error.find(c.error) != std::string::npos);
  }

  TempConfig bad("capacity:\n  vcpus: many\n");
  const auto p = Parse({"--config", bad.path});
  CHECK(p.parse_error.empty());
  CHECK(p.file_status.code() == absl::StatusCode::kInvalidArgument);
  CHECK(std::string(p.file_status.message()) ==
        bad.path + ":2: 'capacity.vcpus' must be a whole number, got 'many'");
  // A bad file is an error even when a flag would override the bad key.
  CHECK_FALSE(Parse({"--config", bad.path, "--vcpus", "2"}).file_status.ok());

  const auto missing = Parse({"--config", "/nonexistent/agent.yaml"});
  CHECK(missing.file_status.code() == absl::StatusCode::kNotFound);
  CHECK(std::string(missing.file_status.message()) ==
        "cannot read config file /nonexistent/agent.yaml");
}

TEST_CASE("agent settings: derived values", "[agent][config]") {
  AgentSettings s = DefaultAgentSettings();
  s.state_dir = "/srv/./agent/../agent2";
  ResolveDerived(s);
  CHECK(s.state_dir == "/srv/agent2");
  CHECK(s.libvirt_uri == "qemu:///embed?root=/srv/agent2/libvirt");

  AgentSettings given = DefaultAgentSettings();
  given.libvirt_uri = "qemu:///system";
  ResolveDerived(given);
  CHECK(given.libvirt_uri == "qemu:///system");

  AgentSettings relative = DefaultAgentSettings();
  relative.state_dir = "state";
  ResolveDerived(relative);
  CHECK(relative.state_dir == (std::filesystem::current_path() / "state").string());

  CHECK_FALSE(DefaultAgentSettings().hostname.empty());
}

}  // namespace
}  // namespace minicloud::agent
