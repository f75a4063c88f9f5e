#include "agent/runtime/plan.h"

namespace minicloud::agent {
namespace {

bool IsOff(hypervisor::DomainState s) {
  return s == hypervisor::DomainState::kShutoff || s == hypervisor::DomainState::kCrashed;
}

}  // namespace

bool DisksPending(const v1::DesiredInstance& want) {
  return want.volumes_pending() || (want.ebs_root() && want.root_disk().nbd_host().empty());
}

std::vector<Action> PlanActions(const v1::DesiredState& desired,
                                const std::map<std::string, hypervisor::DomainInfo>& domains,
                                const std::map<std::string, LocalInstance>& local) {
  std::vector<Action> actions;
  for (const auto& want : desired.instances()) {
    const std::string& id = want.instance_id();
    auto l = local.find(id);
    const bool busy = l != local.end() && l->second.busy;
    if (busy) continue;
    auto domain = domains.find(id);
    const bool has_domain = domain != domains.end();
    const bool off = has_domain && IsOff(domain->second.state);
    const bool has_files = l != local.end() && l->second.has_files;
    switch (want.goal()) {
      case v1::DESIRED_GOAL_RUNNING: {
        const int booted = l != local.end() ? l->second.booted : 0;
        const bool failed = l != local.end() && l->second.state == v1::OBSERVED_STATE_FAILED &&
                            l->second.failed_boot >= want.boot_count();
        const bool boot = !has_domain || (off && booted < want.boot_count());
        if (boot && !failed && !DisksPending(want)) {
          actions.push_back({ActionKind::kLaunch, id});
        } else if (has_domain && domain->second.state == hypervisor::DomainState::kRunning) {
          const int rebooted = l != local.end() ? l->second.rebooted : 0;
          if (rebooted < want.reboot_count()) actions.push_back({ActionKind::kReboot, id});
        }
        break;
      }
      case v1::DESIRED_GOAL_STOPPED:
        if (has_domain && !off) actions.push_back({ActionKind::kStop, id});
        break;
      case v1::DESIRED_GOAL_TERMINATED:
        if (has_domain || has_files) actions.push_back({ActionKind::kTeardown, id});
        break;
      default:
        break;
    }
  }
  return actions;
}

v1::ObservedState ObserveInstance(const v1::DesiredInstance& want,
                                  const hypervisor::DomainInfo* domain,
                                  const LocalInstance* local) {
  if (local != nullptr && local->busy) {
    return want.goal() == v1::DESIRED_GOAL_RUNNING ? v1::OBSERVED_STATE_PREPARING
                                                   : v1::OBSERVED_STATE_UNSPECIFIED;
  }
  if (domain != nullptr) {
    switch (domain->state) {
      case hypervisor::DomainState::kRunning:
      case hypervisor::DomainState::kPaused:
        return v1::OBSERVED_STATE_RUNNING;
      case hypervisor::DomainState::kShutoff:
      case hypervisor::DomainState::kCrashed:
        return v1::OBSERVED_STATE_SHUTOFF;
      default:
        return v1::OBSERVED_STATE_UNSPECIFIED;
    }
  }
  if (want.goal() == v1::DESIRED_GOAL_TERMINATED && (local == nullptr || !local->has_files)) {
    return v1::OBSERVED_STATE_ABSENT;
  }
  // Asked to stop and nothing runs (the launch never happened or a start failed): it is off.
  if (want.goal() == v1::DESIRED_GOAL_STOPPED) return v1::OBSERVED_STATE_SHUTOFF;
  if (local != nullptr && local->state == v1::OBSERVED_STATE_FAILED) {
    return v1::OBSERVED_STATE_FAILED;
  }
  return want.goal() == v1::DESIRED_GOAL_RUNNING ? v1::OBSERVED_STATE_PREPARING
                                                 : v1::OBSERVED_STATE_UNSPECIFIED;
}

}  // namespace minicloud::agent
