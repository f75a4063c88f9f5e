#pragma once

// Every setting of the agent process and where it comes from: a command-line flag wins over the
// --config file, which wins over the built-in default. main() only adds the flags, parses, and
// calls ApplyConfigFile and ResolveDerived in that order.

#include <CLI/CLI.hpp>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "agent/config/agent_config_file.h"

namespace minicloud::agent {

inline constexpr char kDefaultCfnBootstrapArchive[] =
    "/usr/local/share/minicloud/cfn-bootstrap.tar.gz";

struct AgentSettings {
  std::string controller = "127.0.0.1:7702";  // the controller's agent listener (TLS)
  // The join token, used once while the agent has no certificate (SECURITY.md); given inline or
  // as a file (root-only, e.g. a copy of the controller's <state>/join-token). Inline wins.
  std::string join_token;
  std::string join_token_file;
  std::string listen = "127.0.0.1:0";
  std::string advertise;  // empty: derived from listen once the port is bound
  std::string state_dir = "/var/lib/minicloud/agent";
  std::string libvirt_uri;  // empty: qemu:///embed?root=<state_dir>/libvirt (ResolveDerived)
  std::string accel = "auto";
  double probe_seconds = 5;
  std::string region = "home-1";
  std::string availability_zone = "home-1a";
  std::string rack = "rack-1";
  std::string hostname;            // DefaultAgentSettings: this machine's host name
  int vcpus = 0;                   // 0: the host's CPUs
  int64_t memory_mib = 0;          // 0: the host's memory
  int64_t instance_store_gb = -1;  // < 0: free space of state_dir
  std::string bridge = "br-mc0";
  bool nat = false;
  // Resolvers guests' DNS questions are forwarded to; empty = the machine's (resolv.conf).
  std::vector<std::string> dns_upstream;
  std::vector<std::string> metadata_listen = {"169.254.169.254:80", "[fd00:ec2::254]:80"};
  // The EC2 Query API as guests reach it: relayed from this address on the bridge to the
  // controller's Query endpoint (empty upstream: the --controller host, port 8773).
  std::string query_relay_listen = "169.254.169.254:8773";
  std::string query_relay_upstream;
  int stop_timeout_s = 120;
  std::string qemu_user = "minicloud-qemu";  // "root": QEMU unconfined (qemu_account.h)
  // The cfn helpers' archive guests fetch from
  // http://169.254.169.254/minicloud/cfn-bootstrap.tar.gz (built as
  // build/guest/cfn-bootstrap.tar.gz; installed under share/minicloud of the prefix).
  std::string cfn_bootstrap_archive = std::string(kDefaultCfnBootstrapArchive);
  std::string config_file;  // --config
};

// The defaults, with hostname set from gethostname(2) ("localhost" if that fails).
AgentSettings DefaultAgentSettings();

// Adds the agent's flags to `app`, bound to `settings` (whose values are shown as defaults).
// Out-of-range values (--accel, --probe-seconds, --vcpus, --memory-mib, --stop-timeout) are
// CLI11 parse errors that name the flag.
void AddAgentFlags(CLI::App& app, AgentSettings& settings);

// Takes each value the file has, unless `flag_given(flag)` says the same setting was on the
// command line (a flag wins even when it repeats the default).
void MergeFileConfig(const AgentFileConfig& file,
                     const std::function<bool(const std::string& flag)>& flag_given,
                     AgentSettings& settings);

// After parsing `app`: when --config was given, loads that file and merges it (flags win).
// NotFound / InvalidArgument name the file and, for bad values, the key and line.
absl::Status ApplyConfigFile(const CLI::App& app, AgentSettings& settings);

// Settings derived from others: state_dir made absolute and normal, the libvirt URI defaulted to
// the embedded driver under state_dir.
void ResolveDerived(AgentSettings& settings);

}  // namespace minicloud::agent
