#include "agent/runtime/admission.h"

#include <catch2/catch.hpp>

#include "common/ec2_names.h"

namespace minicloud::agent {
namespace {

using hypervisor::DomainState;

v1::DesiredInstance Instance(std::string id, std::string group = "", std::string strategy = "",
                             int partition = 0) {
  v1::DesiredInstance d;
  d.set_instance_id(std::move(id));
  d.set_goal(v1::DESIRED_GOAL_RUNNING);
  d.set_vcpus(2);
  d.set_memory_mib(1024);
  d.set_placement_group(std::move(group));
  if (!strategy.empty()) d.set_placement_strategy(ParsePlacementStrategy(strategy).value());
  d.set_partition_number(partition);
  return d;
}

}  // namespace

TEST_CASE("host re-check before a boot", "[agent][admission]") {
  struct Case {
    std::string name;
    v1::DesiredInstance want;
    std::vector<v1::DesiredInstance> others;
    std::map<std::string, DomainState> domains;  // of the others
    std::map<std::string, LocalInstance> local;
    std::string refusal;  // "" = admitted; else a substring of the message
  };
  LocalInstance in_flight;
  in_flight.busy = true;
  in_flight.admitted = true;
  LocalInstance queued;  // busy, not yet past its own check
  queued.busy = true;
  const std::vector<Case> cases = {
      {"empty host", Instance("i-new"), {}, {}, {}, ""},
      {"fits next to others",
       Instance("i-new"),
       {Instance("i-1")},
       {{"i-1", DomainState::kRunning}},
       {},
       ""},
      {"vCPU exhausted",
       Instance("i-new"),
       {Instance("i-1"), Instance("i-2"), Instance("i-3")},
       {{"i-1", DomainState::kRunning},
        {"i-2", DomainState::kRunning},
        {"i-3", DomainState::kRunning}},
       {},
       "needs 2 vCPU; 6 of 7 allocatable"},
      {"shut-off domains hold nothing",
       Instance("i-new"),
       {Instance("i-1"), Instance("i-2"), Instance("i-3")},
       {{"i-1", DomainState::kShutoff},
        {"i-2", DomainState::kShutoff},
        {"i-3", DomainState::kRunning}},
       {},
       ""},
      {"a boot in flight counts once admitted",
       Instance("i-new"),
       {Instance("i-1"), Instance("i-2"), Instance("i-3")},
       {{"i-1", DomainState::kRunning}, {"i-2", DomainState::kRunning}},
       {{"i-3", in_flight}},
       "vCPU"},
      {"a queued boot does not count yet",
       Instance("i-new"),
       {Instance("i-1"), Instance("i-2"), Instance("i-3")},
       {{"i-1", DomainState::kRunning}, {"i-2", DomainState::kRunning}},
       {{"i-3", queued}},
       ""},
      {"spread: a second member on one host",
       Instance("i-new", "web", "spread"),
       {Instance("i-1", "web", "spread")},
       {{"i-1", DomainState::kRunning}},
       {},
       "spread group 'web' already has i-1"},
      {"spread: a stopped member does not count",
       Instance("i-new", "web", "spread"),
       {Instance("i-1", "web", "spread")},
       {{"i-1", DomainState::kShutoff}},
       {},
       ""},
      {"spread: other groups do not matter",
       Instance("i-new", "web", "spread"),
       {Instance("i-1", "db", "spread")},
       {{"i-1", DomainState::kRunning}},
       {},
       ""},
      {"partition: same partition shares",
       Instance("i-new", "db", "partition", 2),
       {Instance("i-1", "db", "partition", 2)},
       {{"i-1", DomainState::kRunning}},
       {},
       ""},
      {"partition: another partition may not share",
       Instance("i-new", "db", "partition", 2),
       {Instance("i-1", "db", "partition", 1)},
       {{"i-1", DomainState::kRunning}},
       {},
       "partition 1 of group 'db'"},
      {"cluster: packing is the point",
       Instance("i-new", "hpc", "cluster"),
       {Instance("i-1", "hpc", "cluster")},
       {{"i-1", DomainState::kRunning}},
       {},
       ""},
  };
  for (const auto& c : cases) {
    SECTION(c.name) {
      v1::DesiredState desired;
      desired.mutable_allocatable()->set_vcpus(7);
      desired.mutable_allocatable()->set_memory_mib(8192);
      *desired.add_instances() = c.want;
      for (const auto& o : c.others) *desired.add_instances() = o;
      std::map<std::string, hypervisor::DomainInfo> domains;
      for (const auto& [id, st] : c.domains) domains[id] = {id, st};
      absl::Status s = CheckAdmission(c.want, desired, domains, c.local);
      if (c.refusal.empty()) {
        REQUIRE(s.ok());
      } else {
        REQUIRE(s.code() == absl::StatusCode::kFailedPrecondition);
        INFO(s.message());
        REQUIRE(std::string(s.message()).find("admission: ") == 0);
        REQUIRE(std::string(s.message()).find(c.refusal) != std::string::npos);
      }
    }
  }
}

TEST_CASE("host re-check: memory", "[agent][admission]") {
  v1::DesiredState desired;
  desired.mutable_allocatable()->set_memory_mib(1500);
  auto want = Instance("i-new");
  *desired.add_instances() = want;
  *desired.add_instances() = Instance("i-1");
  std::map<std::string, hypervisor::DomainInfo> domains{{"i-1", {"i-1", DomainState::kRunning}}};
  absl::Status s = CheckAdmission(want, desired, domains, {});
  REQUIRE(s.code() == absl::StatusCode::kFailedPrecondition);
  REQUIRE(std::string(s.message()).find("needs 1024 MiB") != std::string::npos);
}

}  // namespace minicloud::agent
