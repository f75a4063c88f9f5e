#pragma once

// The agent's configuration file (YAML). Every key is optional; flags given on the command line
// win over the file. Unknown keys and values of the wrong type are errors that name the key and
// line, so a typo never silently falls back to a default.
//
//   controller: 10.0.0.1:7702     # the controller's --agent-listen
//   join_token_file: /etc/minicloud/join-token   # or join_token: mcjoin1....
//   listen: 0.0.0.0:7701
//   advertise: 10.0.0.5:7701
//   state_dir: /var/lib/minicloud/agent
//   hostname: node-5
//   accel: auto              # auto | kvm | tcg
//   topology:
//     region: home-1
//     availability_zone: home-1b
//     rack: rack-3
//   capacity:
//     vcpus: 8
//     memory_mib: 16384
//     instance_store_gb: 200
//   network:
//     bridge: mcbr0
//     nat: true
//     dns_upstream: [192.168.1.1]   # guests' DNS forwarded here (default: the machine's
//                                   # resolv.conf)
//   stop_timeout_seconds: 120
//   qemu_user: minicloud-qemu   # the account QEMU runs under; root = unconfined
//   cfn_bootstrap_archive: /usr/local/share/minicloud/cfn-bootstrap.tar.gz  # served to guests

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace minicloud::agent {

struct AgentFileConfig {
  std::optional<std::string> controller, listen, advertise, state_dir, hostname, accel;
  std::optional<std::string> join_token, join_token_file;
  std::optional<std::string> region, availability_zone, rack;
  std::optional<int> vcpus;
  std::optional<int64_t> memory_mib, instance_store_gb;
  std::optional<std::string> bridge;
  std::optional<bool> nat;
  std::optional<std::vector<std::string>> dns_upstream;
  std::optional<int> stop_timeout_seconds;
  std::optional<std::string> qemu_user;
  std::optional<std::string> cfn_bootstrap_archive;
};

// Parses the YAML text; `source` names it in errors (e.g. the file path). InvalidArgument for
// malformed YAML, unknown keys, wrong types and out-of-range values.
absl::StatusOr<AgentFileConfig> ParseAgentConfig(absl::string_view yaml, absl::string_view source);

// Reads and parses a file. NotFound when it cannot be read.
absl::StatusOr<AgentFileConfig> LoadAgentConfig(const std::string& path);

}  // namespace minicloud::agent
