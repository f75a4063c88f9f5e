#include "agent/runtime/admission.h"

#include "absl/strings/str_cat.h"

namespace minicloud::agent {
namespace {

bool Occupies(const v1::DesiredInstance& d,
              const std::map<std::string, hypervisor::DomainInfo>& domains,
              const std::map<std::string, LocalInstance>& local) {
  if (d.goal() != v1::DESIRED_GOAL_RUNNING && d.goal() != v1::DESIRED_GOAL_STOPPED) return false;
  auto l = local.find(d.instance_id());
  if (l != local.end() && l->second.busy && l->second.admitted) return true;
  auto dom = domains.find(d.instance_id());
  return dom != domains.end() && (dom->second.state == hypervisor::DomainState::kRunning ||
                                  dom->second.state == hypervisor::DomainState::kPaused);
}

absl::Status Refuse(absl::string_view why) {
  return absl::FailedPreconditionError(absl::StrCat("admission: ", why));
}

}  // namespace

absl::Status CheckAdmission(const v1::DesiredInstance& want, const v1::DesiredState& desired,
                            const std::map<std::string, hypervisor::DomainInfo>& domains,
                            const std::map<std::string, LocalInstance>& local) {
  int64_t vcpus = want.vcpus();
  int64_t memory = want.memory_mib();
  for (const auto& d : desired.instances()) {
    if (d.instance_id() == want.instance_id() || !Occupies(d, domains, local)) continue;
    vcpus += d.vcpus();
    memory += d.memory_mib();
    if (want.placement_group().empty() || d.placement_group() != want.placement_group()) continue;
    if (want.placement_strategy() == v1::PLACEMENT_STRATEGY_SPREAD) {
      return Refuse(absl::StrCat("spread group '", want.placement_group(), "' already has ",
                                 d.instance_id(), " on this host"));
    }
    if (want.placement_strategy() == v1::PLACEMENT_STRATEGY_PARTITION &&
        d.partition_number() != want.partition_number()) {
      return Refuse(absl::StrCat("partition ", d.partition_number(), " of group '",
                                 want.placement_group(), "' (", d.instance_id(),
                                 ") is on this host; partition ", want.partition_number(),
                                 " may not share it"));
    }
  }
  const v1::Capacity& cap = desired.allocatable();
  if (cap.vcpus() > 0 && vcpus > cap.vcpus()) {
    return Refuse(absl::StrCat("needs ", want.vcpus(), " vCPU; ", vcpus - want.vcpus(), " of ",
                               cap.vcpus(), " allocatable are in use"));
  }
  if (cap.memory_mib() > 0 && memory > cap.memory_mib()) {
    return Refuse(absl::StrCat("needs ", want.memory_mib(), " MiB; ", memory - want.memory_mib(),
                               " of ", cap.memory_mib(), " MiB allocatable are in use"));
  }
  return absl::OkStatus();
}

}  // namespace minicloud::agent
