#include "agent/runtime/plan.h"

#include <catch2/catch.hpp>

namespace minicloud::agent {
namespace {

v1::DesiredState Desired(std::vector<std::pair<std::string, v1::DesiredGoal>> items) {
  v1::DesiredState d;
  d.set_generation(1);
  for (auto& [id, goal] : items) {
    auto* i = d.add_instances();
    i->set_instance_id(id);
    i->set_goal(goal);
  }
  return d;
}

v1::DesiredState WithRebootCount(v1::DesiredState d, int reboot_count) {
  for (auto& i : *d.mutable_instances()) i.set_reboot_count(reboot_count);
  return d;
}

v1::DesiredState WithBootCount(v1::DesiredState d, int boot_count) {
  for (auto& i : *d.mutable_instances()) i.set_boot_count(boot_count);
  return d;
}

// An EBS root (with or without its export's endpoint) and/or volumes still pending.
v1::DesiredState WithDisks(v1::DesiredState d, bool ebs_root, bool root_exported,
                           bool volumes_pending) {
  for (auto& i : *d.mutable_instances()) {
    i.set_ebs_root(ebs_root);
    if (ebs_root && root_exported) i.mutable_root_disk()->set_nbd_host("192.0.2.10");
    i.set_volumes_pending(volumes_pending);
  }
  return d;
}

hypervisor::DomainInfo Domain(std::string id, hypervisor::DomainState s) {
  return {std::move(id), s};
}

}  // namespace

TEST_CASE("reconcile plan", "[agent][plan]") {
  using hypervisor::DomainState;
  struct Case {
    std::string name;
    v1::DesiredState desired;
    std::map<std::string, hypervisor::DomainInfo> domains;
    std::map<std::string, LocalInstance> local;
    std::vector<std::pair<ActionKind, std::string>> want;
  };
  LocalInstance busy;
  busy.busy = true;
  LocalInstance failed;
  failed.state = v1::OBSERVED_STATE_FAILED;
  LocalInstance files;
  files.has_files = true;
  LocalInstance booted_once;
  booted_once.has_files = true;
  booted_once.booted = 1;
  LocalInstance restart_failed = booted_once;
  restart_failed.state = v1::OBSERVED_STATE_FAILED;
  restart_failed.failed_boot = 2;
  LocalInstance rebooted_once = booted_once;
  rebooted_once.rebooted = 1;
  // Each reboot case would catch: a reboot on every pass (rebooted ignored), a reboot of a
  // domain that is off, or a reboot instead of the first launch.
  const std::vector<Case> cases = {
      {"a reboot asked for reboots the running domain",
       WithRebootCount(Desired({{"i-1", v1::DESIRED_GOAL_RUNNING}}), 1),
       {{"i-1", Domain("i-1", DomainState::kRunning)}},
       {{"i-1", booted_once}},
       {{ActionKind::kReboot, "i-1"}}},
      {"a reboot done is not done again",
       WithRebootCount(Desired({{"i-1", v1::DESIRED_GOAL_RUNNING}}), 1),
       {{"i-1", Domain("i-1", DomainState::kRunning)}},
       {{"i-1", rebooted_once}},
       {}},
      {"a shut-off domain is not rebooted",
       WithRebootCount(Desired({{"i-1", v1::DESIRED_GOAL_RUNNING}}), 2),
       {{"i-1", Domain("i-1", DomainState::kShutoff)}},
       {{"i-1", rebooted_once}},
       {}},
      {"a missing domain is launched, not rebooted",
       WithRebootCount(Desired({{"i-1", v1::DESIRED_GOAL_RUNNING}}), 1),
       {},
       {},
       {{ActionKind::kLaunch, "i-1"}}},
      {"launch a new instance",
       Desired({{"i-1", v1::DESIRED_GOAL_RUNNING}}),
       {},
       {},
       {{ActionKind::kLaunch, "i-1"}}},
      {"running domain is left alone",
       Desired({{"i-1", v1::DESIRED_GOAL_RUNNING}}),
       {{"i-1", Domain("i-1", DomainState::kRunning)}},
       {},
       {}},
      {"shut-off domain is not restarted",
       Desired({{"i-1", v1::DESIRED_GOAL_RUNNING}}),
       {{"i-1", Domain("i-1", DomainState::kShutoff)}},
       {},
       {}},
      {"busy instance waits",
       Desired({{"i-1", v1::DESIRED_GOAL_RUNNING}}),
       {},
       {{"i-1", busy}},
       {}},
      {"failed launch is not retried",
       Desired({{"i-1", v1::DESIRED_GOAL_RUNNING}}),
       {},
       {{"i-1", failed}},
       {}},
      {"terminate a running domain",
       Desired({{"i-1", v1::DESIRED_GOAL_TERMINATED}}),
       {{"i-1", Domain("i-1", DomainState::kRunning)}},
       {},
       {{ActionKind::kTeardown, "i-1"}}},
      {"terminate leftover files",
       Desired({{"i-1", v1::DESIRED_GOAL_TERMINATED}}),
       {},
       {{"i-1", files}},
       {{ActionKind::kTeardown, "i-1"}}},
      {"terminated and gone: nothing to do",
       Desired({{"i-1", v1::DESIRED_GOAL_TERMINATED}}),
       {},
       {},
       {}},
      {"unlisted domains are never touched",
       Desired({}),
       {{"i-9", Domain("i-9", DomainState::kRunning)}},
       {},
       {}},
      {"stopped goal keeps the domain",
       Desired({{"i-1", v1::DESIRED_GOAL_STOPPED}}),
       {{"i-1", Domain("i-1", DomainState::kShutoff)}},
       {},
       {}},
      {"stopped goal stops a running domain",
       Desired({{"i-1", v1::DESIRED_GOAL_STOPPED}}),
       {{"i-1", Domain("i-1", DomainState::kRunning)}},
       {},
       {{ActionKind::kStop, "i-1"}}},
      {"a busy instance is not stopped twice",
       Desired({{"i-1", v1::DESIRED_GOAL_STOPPED}}),
       {{"i-1", Domain("i-1", DomainState::kRunning)}},
       {{"i-1", busy}},
       {}},
      {"a guest that powered off stays off for the boot it had",
       WithBootCount(Desired({{"i-1", v1::DESIRED_GOAL_RUNNING}}), 1),
       {{"i-1", Domain("i-1", DomainState::kShutoff)}},
       {{"i-1", booted_once}},
       {}},
      {"StartInstances boots the stopped domain again",
       WithBootCount(Desired({{"i-1", v1::DESIRED_GOAL_RUNNING}}), 2),
       {{"i-1", Domain("i-1", DomainState::kShutoff)}},
       {{"i-1", booted_once}},
       {{ActionKind::kLaunch, "i-1"}}},
      {"a failed start is not retried for the same boot",
       WithBootCount(Desired({{"i-1", v1::DESIRED_GOAL_RUNNING}}), 2),
       {},
       {{"i-1", restart_failed}},
       {}},
      {"the next start retries a failed one",
       WithBootCount(Desired({{"i-1", v1::DESIRED_GOAL_RUNNING}}), 3),
       {},
       {{"i-1", restart_failed}},
       {{ActionKind::kLaunch, "i-1"}}},
      // Disks: catch a boot without the EBS root's endpoint, or before the volumes of the
      // block device mapping are there (with a local root too), and a wait that never ends.
      {"an EBS root not exported yet waits",
       WithDisks(Desired({{"i-1", v1::DESIRED_GOAL_RUNNING}}), true, false, false),
       {},
       {},
       {}},
      {"an EBS root exported boots",
       WithDisks(Desired({{"i-1", v1::DESIRED_GOAL_RUNNING}}), true, true, false),
       {},
       {},
       {{ActionKind::kLaunch, "i-1"}}},
      {"a local root waits while its volumes are pending",
       WithDisks(Desired({{"i-1", v1::DESIRED_GOAL_RUNNING}}), false, false, true),
       {},
       {},
       {}},
      {"an exported EBS root waits while other volumes are pending",
       WithDisks(Desired({{"i-1", v1::DESIRED_GOAL_RUNNING}}), true, true, true),
       {},
       {},
       {}},
      {"a start waits while its volumes are pending",
       WithDisks(WithBootCount(Desired({{"i-1", v1::DESIRED_GOAL_RUNNING}}), 2), false, false,
                 true),
       {{"i-1", Domain("i-1", DomainState::kShutoff)}},
       {{"i-1", booted_once}},
       {}},
  };
  for (const auto& c : cases) {
    SECTION(c.name) {
      std::vector<std::pair<ActionKind, std::string>> got;
      for (const auto& a : PlanActions(c.desired, c.domains, c.local)) {
        got.emplace_back(a.kind, a.instance_id);
      }
      REQUIRE(got == c.want);
    }
  }
}

TEST_CASE("observed state per instance", "[agent][plan]") {
  using hypervisor::DomainState;
  v1::DesiredInstance running;
  running.set_goal(v1::DESIRED_GOAL_RUNNING);
  v1::DesiredInstance terminated;
  terminated.set_goal(v1::DESIRED_GOAL_TERMINATED);
  auto dom = [](DomainState s) { return hypervisor::DomainInfo{"i-1", s}; };
  LocalInstance busy;
  busy.busy = true;
  LocalInstance failed;
  failed.state = v1::OBSERVED_STATE_FAILED;
  LocalInstance files;
  files.has_files = true;

  auto d_run = dom(DomainState::kRunning);
  auto d_off = dom(DomainState::kShutoff);
  REQUIRE(ObserveInstance(running, &d_run, nullptr) == v1::OBSERVED_STATE_RUNNING);
  REQUIRE(ObserveInstance(running, &d_off, nullptr) == v1::OBSERVED_STATE_SHUTOFF);
  REQUIRE(ObserveInstance(running, nullptr, &busy) == v1::OBSERVED_STATE_PREPARING);
  REQUIRE(ObserveInstance(running, nullptr, &failed) == v1::OBSERVED_STATE_FAILED);
  REQUIRE(ObserveInstance(terminated, nullptr, nullptr) == v1::OBSERVED_STATE_ABSENT);
  REQUIRE(ObserveInstance(terminated, nullptr, &files) == v1::OBSERVED_STATE_UNSPECIFIED);
  REQUIRE(ObserveInstance(terminated, &d_run, nullptr) == v1::OBSERVED_STATE_RUNNING);
  v1::DesiredInstance stopped;
  stopped.set_goal(v1::DESIRED_GOAL_STOPPED);
  REQUIRE(ObserveInstance(stopped, &d_run, nullptr) == v1::OBSERVED_STATE_RUNNING);
  REQUIRE(ObserveInstance(stopped, &d_off, nullptr) == v1::OBSERVED_STATE_SHUTOFF);
  REQUIRE(ObserveInstance(stopped, nullptr, nullptr) == v1::OBSERVED_STATE_SHUTOFF);
  REQUIRE(ObserveInstance(stopped, nullptr, &busy) == v1::OBSERVED_STATE_UNSPECIFIED);
}

}  // namespace minicloud::agent
