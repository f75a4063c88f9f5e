// The independent checker finds every kind of broken rule (and nothing on a legal state).

#include "controller/scheduler/checker.h"

#include <catch2/catch.hpp>
#include <functional>

#include "tests/unit/scheduler/builders.h"

namespace minicloud::scheduler {
namespace {

using testing::MakeGroup;
using testing::MakeHost;

CheckedInstance Inst(std::string id, std::string host, std::string group = "", int partition = 0,
                     InstanceState state = InstanceState::kRunning) {
  CheckedInstance i;
  i.instance_id = std::move(id);
  i.host_id = std::move(host);
  i.group_name = std::move(group);
  i.partition_number = partition;
  i.state = state;
  i.vcpus = 2;
  i.memory_mib = 1024;
  return i;
}

std::vector<HostSnapshot> Racks(int n, std::string az = "home-1a") {
  std::vector<HostSnapshot> hosts;
  for (int i = 1; i <= n; ++i) {
    hosts.push_back(MakeHost("h" + std::to_string(i)).Az(az).Rack("r" + std::to_string(i)));
  }
  return hosts;
}

struct Case {
  std::string name;
  std::function<ClusterState()> state;
  std::vector<std::string> rules;  // expected violation rules, in order; empty = legal
  CheckOptions options = {};
};

}  // namespace

TEST_CASE("checker finds every violated rule", "[scheduler][checker]") {
  const std::vector<Case> cases = {
      {"legal mixed state",
       [] {
         ClusterState s;
         s.hosts = Racks(8);
         s.hosts.push_back(MakeHost("h9").Az("home-1b").Rack("r1"));
         s.groups = {MakeGroup::Spread("s").g, MakeGroup::Partition("p", 2).g,
                     MakeGroup::Cluster("c").LockedTo("home-1a").g};
         for (int i = 1; i <= 7; ++i) {
           s.instances.push_back(Inst("s" + std::to_string(i), "h" + std::to_string(i), "s"));
         }
         s.instances.push_back(Inst("s8", "h8", "s", 0, InstanceState::kStopped));
         s.instances.push_back(Inst("s9", "h9", "s"));
         s.instances.push_back(Inst("p1", "h1", "p", 1));
         s.instances.push_back(Inst("p2", "h2", "p", 2));
         s.instances.push_back(Inst("p3", "h1", "p", 2, InstanceState::kStopped));
         s.instances.push_back(Inst("c1", "h3", "c"));
         s.instances.push_back(Inst("c2", "h9", "c", 0, InstanceState::kStopped));
         s.instances.push_back(Inst("x", "h4"));
         return s;
       },
       {}},
      {"vCPU over capacity",
       [] {
         ClusterState s;
         s.hosts = {MakeHost("h1").Vcpus(3)};
         s.instances = {Inst("a", "h1"), Inst("b", "h1")};
         return s;
       },
       {"capacity-vcpu"}},
      {"memory over capacity",
       [] {
         ClusterState s;
         s.hosts = {MakeHost("h1").Memory(1500)};
         s.instances = {Inst("a", "h1"), Inst("b", "h1")};
         return s;
       },
       {"capacity-memory"}},
      {"instance store over capacity",
       [] {
         ClusterState s;
         s.hosts = {MakeHost("h1").Disk(100)};
         s.instances = {Inst("a", "h1")};
         s.instances[0].instance_store_gb = 150;
         return s;
       },
       {"capacity-instance-store"}},
      {"stopped and terminated instances hold no capacity",
       [] {
         ClusterState s;
         s.hosts = {MakeHost("h1").Vcpus(2)};
         s.instances = {Inst("a", "h1"), Inst("b", "h1", "", 0, InstanceState::kStopped),
                        Inst("c", "h1", "", 0, InstanceState::kTerminated)};
         return s;
       },
       {}},
      {"stopping and shutting-down instances still hold capacity",
       [] {
         ClusterState s;
         s.hosts = {MakeHost("h1").Vcpus(2)};
         s.instances = {Inst("a", "h1", "", 0, InstanceState::kStopping),
                        Inst("b", "h1", "", 0, InstanceState::kShuttingDown)};
         return s;
       },
       {"capacity-vcpu"}},
      {"recorded usage differs",
       [] {
         ClusterState s;
         s.hosts = {MakeHost("h1").Used(4, 2048)};
         s.instances = {Inst("a", "h1")};
         return s;
       },
       {"recorded-usage"},
       {.check_recorded_usage = true}},
      {"unknown host, group, duplicates",
       [] {
         ClusterState s;
         s.hosts = {MakeHost("h1"), MakeHost("h1")};
         s.groups = {MakeGroup::Spread("g").g, MakeGroup::Spread("g").g};
         s.instances = {Inst("a", "nowhere"), Inst("a", "h1", "missing")};
         return s;
       },
       {"duplicate-host", "duplicate-group", "unknown-host", "duplicate-instance",
        "unknown-group"}},
      {"spread: 8 active in one AZ",
       [] {
         ClusterState s;
         s.hosts = Racks(8);
         s.groups = {MakeGroup::Spread("s").g};
         for (int i = 1; i <= 8; ++i) {
           s.instances.push_back(Inst("s" + std::to_string(i), "h" + std::to_string(i), "s"));
         }
         return s;
       },
       {"spread-per-az"}},
      {"spread: two on one rack",
       [] {
         ClusterState s;
         s.hosts = {MakeHost("h1").Rack("r1"), MakeHost("h2").Rack("r1")};
         s.groups = {MakeGroup::Spread("s").g};
         s.instances = {Inst("a", "h1", "s"), Inst("b", "h2", "s")};
         return s;
       },
       {"spread-distinct-rack"}},
      {"spread: same rack label in two AZs is two racks",
       [] {
         ClusterState s;
         s.hosts = {MakeHost("h1").Az("home-1a"), MakeHost("h2").Az("home-1b")};
         s.groups = {MakeGroup::Spread("s").g};
         s.instances = {Inst("a", "h1", "s"), Inst("b", "h2", "s")};
         return s;
       },
       {}},
      {"spread (host level): two on one host",
       [] {
         ClusterState s;
         s.hosts = {MakeHost("h1"), MakeHost("h2")};
         s.groups = {MakeGroup::Spread("s").HostLevel().g};
         s.instances = {Inst("a", "h1", "s"), Inst("b", "h1", "s"), Inst("c", "h2", "s")};
         return s;
       },
       {"spread-distinct-host"}},
      {"partition: two partitions share a rack",
       [] {
         ClusterState s;
         s.hosts = {MakeHost("h1").Rack("r1"), MakeHost("h2").Rack("r1")};
         s.groups = {MakeGroup::Partition("p", 2).g};
         s.instances = {Inst("a", "h1", "p", 1), Inst("b", "h2", "p", 2)};
         return s;
       },
       {"partition-shares-rack"}},
      {"partition: number out of range and missing",
       [] {
         ClusterState s;
         s.hosts = Racks(2);
         s.groups = {MakeGroup::Partition("p", 2).g};
         s.instances = {Inst("a", "h1", "p", 3), Inst("b", "h2", "p", 0)};
         return s;
       },
       {"partition-number-range", "partition-number-range"}},
      {"partition: count above 7 and more than 7 partitions in an AZ",
       [] {
         ClusterState s;
         s.hosts = Racks(8);
         s.groups = {MakeGroup::Partition("p", 8).g};
         for (int i = 1; i <= 8; ++i) {
           s.instances.push_back(Inst("p" + std::to_string(i), "h" + std::to_string(i), "p", i));
         }
         return s;
       },
       {"partition-count", "partitions-per-az"}},
      {"partition number outside a partition group",
       [] {
         ClusterState s;
         s.hosts = Racks(1);
         s.groups = {MakeGroup::Spread("s").g};
         s.instances = {Inst("a", "h1", "", 1), Inst("b", "h1", "s", 2)};
         return s;
       },
       {"partition-number-without-partition-group", "partition-number-without-partition-group"}},
      {"cluster: two AZs",
       [] {
         ClusterState s;
         s.hosts = {MakeHost("h1").Az("home-1a"), MakeHost("h2").Az("home-1b")};
         s.groups = {MakeGroup::Cluster("c").g};
         s.instances = {Inst("a", "h1", "c"), Inst("b", "h2", "c")};
         return s;
       },
       {"cluster-single-az"}},
      {"cluster: outside its locked AZ",
       [] {
         ClusterState s;
         s.hosts = {MakeHost("h1").Az("home-1b")};
         s.groups = {MakeGroup::Cluster("c").LockedTo("home-1a").g};
         s.instances = {Inst("a", "h1", "c")};
         return s;
       },
       {"cluster-locked-az"}},
  };
  for (const auto& c : cases) {
    SECTION(c.name) {
      const auto v = CheckPlacement(c.state(), c.options);
      INFO(FormatViolations(v));
      std::vector<std::string> rules;
      for (const auto& x : v) rules.push_back(x.rule);
      REQUIRE(rules == c.rules);
    }
  }
}

}  // namespace minicloud::scheduler
