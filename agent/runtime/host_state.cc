#include "agent/runtime/host_state.h"

#include <spdlog/spdlog.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "common/logging.h"

namespace minicloud::agent {

absl::Status EnsureStateDir(const std::string& state_dir) {
  std::error_code ec;
  std::filesystem::create_directories(state_dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot create ", state_dir, ": ", ec.message()));
  return absl::OkStatus();
}

absl::Status CleanupHost(hypervisor::Hypervisor& hypervisor, const std::string& state_dir,
                         const NetworkFactory& network_factory) {
  int failures = 0;
  auto domains = hypervisor.List();
  if (!domains.ok()) {
    spdlog::error("{}", domains.status().message());
    return domains.status();
  }
  for (const auto& d : *domains) {
    if (auto s = hypervisor.Destroy(d.instance_id); !s.ok()) {
      spdlog::error("destroy {}: {}", d.instance_id, s.message());
      ++failures;
    } else {
      spdlog::info("destroyed {}", d.instance_id);
    }
  }
  std::error_code ec;
  std::filesystem::remove_all(state_dir + "/instances", ec);
  if (ec) {
    spdlog::error("remove {}/instances: {}", state_dir, ec.message());
    ++failures;
  }
  std::ifstream subnet_file(state_dir + "/subnet");
  std::string subnet, vpc_cidr;
  if (subnet_file >> subnet) {
    subnet_file >> vpc_cidr;
    auto net = network_factory(subnet, vpc_cidr);
    if (!net.ok()) {
      spdlog::error("remove host network of {}: {}", subnet, net.status().message());
      ++failures;
    } else if (absl::Status s = (*net)->Teardown(); !s.ok()) {
      spdlog::error("remove host network {}: {}", (*net)->bridge(), s.message());
      ++failures;
    } else {
      spdlog::info("removed host network {}", (*net)->bridge());
      std::filesystem::remove(state_dir + "/subnet", ec);
    }
  }
  if (failures > 0) {
    return absl::InternalError(
        absl::StrCat("cleanup of ", state_dir, ": ", failures, " step(s) failed (see the log)"));
  }
  return absl::OkStatus();
}

}  // namespace minicloud::agent
