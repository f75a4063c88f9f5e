// Table-driven tests of every placement rule and every rejection reason (what a decision
// carries besides: placement_decision_test.cc).

#include <algorithm>
#include <catch2/catch.hpp>
#include <functional>
#include <random>
#include <set>

#include "controller/scheduler/fleet.h"
#include "controller/scheduler/scheduler.h"
#include "tests/unit/scheduler/builders.h"

// Table rows leave trailing fields at their defaults.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace minicloud::scheduler {
namespace {

using testing::MakeGroup;
using testing::MakeHost;
using testing::MakeRequest;
using Code = absl::StatusCode;

// Hosts h1..hN, one per rack r1..rN, in one AZ.
std::vector<HostSnapshot> OnePerRack(int n, std::string az = "home-1a") {
  std::vector<HostSnapshot> hosts;
  for (int i = 1; i <= n; ++i) {
    hosts.push_back(MakeHost("h" + std::to_string(i)).Az(az).Rack("r" + std::to_string(i)));
  }
  return hosts;
}

MakeGroup SpreadWithMembers(int active, int stopped = 0) {
  auto g = MakeGroup::Spread("pg");
  for (int i = 1; i <= active; ++i) g.Member("i-" + std::to_string(i), "h" + std::to_string(i));
  for (int i = active + 1; i <= active + stopped; ++i) {
    g.Stopped("i-" + std::to_string(i), "h" + std::to_string(i));
  }
  return g;
}

struct Case {
  std::string name;
  std::vector<HostSnapshot> hosts;
  PlacementRequest req;
  Code code = Code::kOk;
  std::vector<std::string> placed;  // sorted host ids; checked when code is OK and non-empty
  std::vector<std::pair<std::string, RejectCode>> rejected;  // expected among the rejections
  std::string fragment;  // expected in the error message, or in some rejection reason on success
  std::function<void(const PlacementResult&)> check = nullptr;
};

std::vector<Case> Cases() {
  std::vector<Case> c;
  // --- no placement group: EC2's default spread -------------------------------------------
  c.push_back({"no group: spreads over racks before hosts",
               {MakeHost("h1").Rack("r1").Memory(32768), MakeHost("h2").Rack("r1"),
                MakeHost("h3").Rack("r2")},
               MakeRequest().Count(2, 2),
               Code::kOk,
               {"h1", "h3"}});
  c.push_back({"no group: spreads over hosts within a rack",
               {MakeHost("h1").Memory(32768), MakeHost("h2")},
               MakeRequest().Count(2, 2),
               Code::kOk,
               {"h1", "h2"}});
  c.push_back({"no group: most free memory wins",
               {MakeHost("h1").Used(0, 8000), MakeHost("h2").Rack("r2")},
               MakeRequest(),
               Code::kOk,
               {"h2"}});
  c.push_back({"no group: a request lands in one AZ",
               {MakeHost("h1").Az("home-1a"), MakeHost("h2").Az("home-1b")},
               MakeRequest().Count(2, 2),
               Code::kOk,
               {},
               {},
               "",
               [](const PlacementResult& r) {
                 REQUIRE(r.host_ids.size() == 2);
                 REQUIRE(r.host_ids[0] == r.host_ids[1]);
                 REQUIRE(r.placements[0].availability_zone == r.availability_zone);
               }});
  c.push_back({"no group: requested AZ",
               {MakeHost("h1").Az("home-1b").Memory(65536), MakeHost("h2").Az("home-1a")},
               MakeRequest().Az("home-1a"),
               Code::kOk,
               {"h2"},
               {{"h1", RejectCode::kAvailabilityZone}},
               "in home-1b, not home-1a"});
  // Bug caught: allowed_zones ignored (an EBS launch lands where its snapshots are not).
  c.push_back({"no group: allowed zones leave out the roomier AZs",
               {MakeHost("h1").Az("home-1b").Memory(65536), MakeHost("h2").Az("home-1a"),
                MakeHost("h3").Az("home-1c").Memory(65536)},
               MakeRequest().AllowedZones({"home-1a", "home-1d"}),
               Code::kOk,
               {"h2"},
               {{"h1", RejectCode::kAvailabilityZone}, {"h3", RejectCode::kAvailabilityZone}},
               "in home-1b, not an availability zone the request can use"});
  // Bug caught: a request whose allowed zones have no hosts placed anywhere.
  c.push_back({"no group: no host in an allowed zone",
               {MakeHost("h1").Az("home-1b"), MakeHost("h2").Az("home-1a")},
               MakeRequest().AllowedZones({"home-1c"}),
               Code::kResourceExhausted,
               {},
               {{"h1", RejectCode::kAvailabilityZone}, {"h2", RejectCode::kAvailabilityZone}}});
  c.push_back({"no group: region",
               {MakeHost("h1").Region("home-2").Memory(65536), MakeHost("h2")},
               MakeRequest().Region("home-1"),
               Code::kOk,
               {"h2"},
               {{"h1", RejectCode::kRegion}},
               "in region home-2, not home-1"});
  c.push_back({"no group: host down",
               {MakeHost("h1").Down().Memory(65536), MakeHost("h2")},
               MakeRequest(),
               Code::kOk,
               {"h2"},
               {{"h1", RejectCode::kHostDown}},
               "host is unreachable"});
  c.push_back({"no group: vCPU",
               {MakeHost("h1").Vcpus(1)},
               MakeRequest(),
               Code::kResourceExhausted,
               {},
               {{"h1", RejectCode::kVcpu}},
               "needs 2 vCPU, 1 free"});
  c.push_back({"no group: memory",
               {MakeHost("h1").Memory(512)},
               MakeRequest(),
               Code::kResourceExhausted,
               {},
               {{"h1", RejectCode::kMemory}},
               "needs 1024 MiB, 512 MiB free"});
  c.push_back({"no group: instance store too small",
               {MakeHost("h1").Disk(50)},
               MakeRequest().Disk(100),
               Code::kResourceExhausted,
               {},
               {{"h1", RejectCode::kInstanceStore}},
               "needs 100 GB instance store, 50 GB free"});
  c.push_back({"no group: instance store counts what is used",
               {MakeHost("h1").Disk(400).UsedDisk(350).Memory(65536),
                MakeHost("h2").Disk(200).UsedDisk(50)},
               MakeRequest().Disk(100),
               Code::kOk,
               {"h2"},
               {{"h1", RejectCode::kInstanceStore}}});
  c.push_back({"no group: max partially met",
               {MakeHost("h1").Memory(2048)},
               MakeRequest().Count(1, 5),
               Code::kOk,
               {"h1", "h1"}});
  c.push_back({"no group: min unmet places nothing",
               {MakeHost("h1").Memory(2048)},
               MakeRequest().Count(3, 5),
               Code::kResourceExhausted,
               {},
               {},
               "placed 2 of the minimum 3"});
  c.push_back(
      {"no hosts", {}, MakeRequest(), Code::kResourceExhausted, {}, {}, "no hosts are registered"});
  c.push_back({"bad counts",
               {MakeHost("h1")},
               MakeRequest().Count(0, 1),
               Code::kInvalidArgument,
               {},
               {},
               "bad counts"});
  c.push_back({"negative size",
               {MakeHost("h1")},
               MakeRequest().Size(-1, 1024),
               Code::kInvalidArgument,
               {},
               {},
               "bad size"});

  // --- cluster ----------------------------------------------------------------------------
  c.push_back({"cluster: the first launch locks the AZ",
               {MakeHost("h1").Az("home-1a"), MakeHost("h2").Az("home-1b")},
               MakeRequest().Group(MakeGroup::Cluster("pg")),
               Code::kOk,
               {},
               {},
               "",
               [](const PlacementResult& r) {
                 REQUIRE_FALSE(r.cluster_locked_az.empty());
                 REQUIRE(r.cluster_locked_az == r.availability_zone);
               }});
  c.push_back({"cluster: a locked group stays in its AZ",
               {MakeHost("h1").Az("home-1a"), MakeHost("h2").Az("home-1b").Memory(65536)},
               MakeRequest().Group(MakeGroup::Cluster("pg").LockedTo("home-1a")),
               Code::kOk,
               {"h1"},
               {{"h2", RejectCode::kClusterAz}},
               "is locked to home-1a",
               [](const PlacementResult& r) { REQUIRE(r.cluster_locked_az == "home-1a"); }});
  c.push_back({"cluster: without a lock the members' AZ holds",
               {MakeHost("h1").Az("home-1a"), MakeHost("h2").Az("home-1b").Memory(65536)},
               MakeRequest().Group(MakeGroup::Cluster("pg").Member("i-1", "h1")),
               Code::kOk,
               {"h1"},
               {{"h2", RejectCode::kClusterAz}}});
  c.push_back({"cluster: asking for another AZ is invalid",
               {MakeHost("h1").Az("home-1a"), MakeHost("h2").Az("home-1b")},
               MakeRequest().Az("home-1b").Group(MakeGroup::Cluster("pg").LockedTo("home-1a")),
               Code::kInvalidArgument,
               {},
               {},
               "locked to availability zone home-1a"});
  c.push_back({"cluster: prefers the rack and host holding members",
               {MakeHost("h1").Rack("r1").Memory(65536), MakeHost("h2").Rack("r2"),
                MakeHost("h3").Rack("r2").Memory(32768)},
               MakeRequest().Group(MakeGroup::Cluster("pg").Member("i-1", "h2")),
               Code::kOk,
               {"h2"}});
  c.push_back({"cluster: bin-packs onto the fullest host that fits",
               {MakeHost("h1"), MakeHost("h2").Used(4, 8192)},
               MakeRequest().Group(MakeGroup::Cluster("pg")),
               Code::kOk,
               {"h2"}});
  c.push_back({"cluster: the whole request on one rack that fits it",
               {MakeHost("h1").Rack("r1").Vcpus(2).Memory(2048), MakeHost("h2").Rack("r2")},
               MakeRequest().Count(3, 3).Group(MakeGroup::Cluster("pg")),
               Code::kOk,
               {"h2", "h2", "h2"}});
  c.push_back({"cluster: insufficient capacity",
               {MakeHost("h1").Vcpus(2)},
               MakeRequest().Count(2, 2).Group(MakeGroup::Cluster("pg")),
               Code::kResourceExhausted,
               {},
               {{"h1", RejectCode::kVcpu}},
               "cluster group 'pg'"});

  // --- spread -------------------------------------------------------------------------------
  c.push_back({"spread: one instance per rack",
               {MakeHost("h1").Rack("r1").Memory(65536), MakeHost("h2").Rack("r1").Memory(32768),
                MakeHost("h3").Rack("r2"), MakeHost("h4").Rack("r3").Memory(8192)},
               MakeRequest().Count(3, 3).Group(MakeGroup::Spread("pg")),
               Code::kOk,
               {"h1", "h3", "h4"},
               {{"h2", RejectCode::kSpreadRackTaken}}});
  c.push_back({"spread: racks holding an active member are rejected",
               {MakeHost("h1").Rack("r1").Memory(65536), MakeHost("h2").Rack("r1").Memory(65536),
                MakeHost("h3").Rack("r2")},
               MakeRequest().Group(MakeGroup::Spread("pg").Member("i-1", "h1")),
               Code::kOk,
               {"h3"},
               {{"h1", RejectCode::kSpreadRackTaken}, {"h2", RejectCode::kSpreadRackTaken}},
               "rack r1 already holds an instance of spread group 'pg'"});
  c.push_back({"spread: stopped members hold no rack",
               {MakeHost("h1").Rack("r1").Memory(65536), MakeHost("h3").Rack("r2")},
               MakeRequest().Group(MakeGroup::Spread("pg").Stopped("i-1", "h1")),
               Code::kOk,
               {"h1"}});
  c.push_back({"spread (host level): another host of the same rack is fine",
               {MakeHost("h1").Memory(65536), MakeHost("h2")},
               MakeRequest().Group(MakeGroup::Spread("pg").HostLevel().Member("i-1", "h1")),
               Code::kOk,
               {"h2"},
               {{"h1", RejectCode::kSpreadHostTaken}},
               "host already holds an instance of spread group 'pg'"});
  c.push_back({"spread: the 8th active instance in an AZ fails",
               OnePerRack(8),
               MakeRequest().Group(SpreadWithMembers(7)),
               Code::kResourceExhausted,
               {},
               {{"h8", RejectCode::kSpreadAzFull}},
               "already has 7 active instances in home-1a (at most 7 per AZ)"});
  {
    auto hosts = OnePerRack(8);
    hosts[7].allocatable_memory_mib = 65536;
    c.push_back({"spread: a stopped member leaves room",
                 hosts,
                 MakeRequest().Group(SpreadWithMembers(6, 1)),
                 Code::kOk,
                 {"h8"}});
  }
  c.push_back({"spread: max 8 in one AZ places 7 on distinct racks",
               OnePerRack(8),
               MakeRequest().Count(1, 8).Group(MakeGroup::Spread("pg")),
               Code::kOk,
               {},
               {},
               "",
               [](const PlacementResult& r) {
                 REQUIRE(r.host_ids.size() == 7);
                 std::set<std::string> racks;
                 for (const auto& p : r.placements) racks.insert(p.rack);
                 REQUIRE(racks.size() == 7);
               }});
  c.push_back({"spread: min 8 in one AZ fails",
               OnePerRack(8),
               MakeRequest().Count(8, 8).Group(MakeGroup::Spread("pg")),
               Code::kResourceExhausted,
               {},
               {},
               "placed 7 of the minimum 8"});
  {
    auto hosts = OnePerRack(7);
    hosts.push_back(MakeHost("h9").Az("home-1b").Rack("r1"));
    c.push_back({"spread: a full AZ sends the request to another AZ",
                 hosts,
                 MakeRequest().Group(SpreadWithMembers(7)),
                 Code::kOk,
                 {"h9"}});
  }
  c.push_back({"spread: members on hosts gone from the snapshot still count",
               {MakeHost("h1").Rack("r1").Memory(65536), MakeHost("h2").Rack("r2")},
               MakeRequest().Group(MakeGroup::Spread("pg").MemberAt("i-1", "home-1a", "r1")),
               Code::kOk,
               {"h2"},
               {{"h1", RejectCode::kSpreadRackTaken}}});
  c.push_back(
      {"spread: members reported by hosts count even if the group lacks them",
       {MakeHost("h1").Rack("r1").Memory(65536).Hosts("pg", "i-9"), MakeHost("h2").Rack("r2")},
       MakeRequest().Group(MakeGroup::Spread("pg")),
       Code::kOk,
       {"h2"},
       {{"h1", RejectCode::kSpreadRackTaken}}});

  // --- partition ----------------------------------------------------------------------------
  auto p3 = MakeGroup::Partition("pg", 3).Member("i-1", "h1", 1).Member("i-2", "h2", 2);
  const std::vector<HostSnapshot> three_racks = {MakeHost("h1").Rack("r1").Memory(32768),
                                                 MakeHost("h2").Rack("r2").Memory(32768),
                                                 MakeHost("h3").Rack("r3").Memory(65536)};
  c.push_back({"partition: a target partition uses its own rack first",
               three_racks,
               MakeRequest().Group(p3).Partition(1),
               Code::kOk,
               {"h1"},
               {{"h2", RejectCode::kPartitionRackTaken}},
               "belongs to partition 2 of 'pg', not 1",
               [](const PlacementResult& r) { REQUIRE(r.placements[0].partition_number == 1); }});
  c.push_back({"partition: another partition's rack is never used",
               three_racks,
               MakeRequest().Group(p3).Partition(3),
               Code::kOk,
               {"h3"},
               {{"h1", RejectCode::kPartitionRackTaken}, {"h2", RejectCode::kPartitionRackTaken}}});
  c.push_back({"partition: not enough distinct racks",
               {MakeHost("h1").Rack("r1"), MakeHost("h2").Rack("r2")},
               MakeRequest().Group(p3).Partition(3),
               Code::kResourceExhausted,
               {},
               {{"h1", RejectCode::kPartitionRackTaken}},
               "belongs to partition 1"});
  c.push_back({"partition: even spread picks the partition with the fewest members",
               {MakeHost("h1").Rack("r1"), MakeHost("h2").Rack("r2"),
                MakeHost("h3").Rack("r3").Memory(65536)},
               MakeRequest().Group(
                   MakeGroup::Partition("pg", 2).Member("i-1", "h1", 1).Member("i-2", "h1", 1)),
               Code::kOk,
               {"h3"},
               {},
               "",
               [](const PlacementResult& r) { REQUIRE(r.placements[0].partition_number == 2); }});
  c.push_back({"partition: a request spreads evenly over partitions and racks",
               OnePerRack(3),
               MakeRequest().Count(3, 3).Group(MakeGroup::Partition("pg", 3)),
               Code::kOk,
               {"h1", "h2", "h3"},
               {},
               "",
               [](const PlacementResult& r) {
                 std::set<int> parts;
                 for (const auto& p : r.placements) parts.insert(p.partition_number);
                 REQUIRE(parts == std::set<int>{1, 2, 3});
               }});
  c.push_back(
      {"partition: stopped members own no rack",
       {MakeHost("h1").Rack("r1").Memory(65536), MakeHost("h2").Rack("r2")},
       MakeRequest().Group(MakeGroup::Partition("pg", 2).Stopped("i-1", "h1", 1)).Partition(2),
       Code::kOk,
       {"h1"}});
  c.push_back(
      {"partition: a rack holding two partitions takes no more",
       {MakeHost("h1").Rack("r1").Memory(65536), MakeHost("h2").Rack("r2")},
       MakeRequest()
           .Group(MakeGroup::Partition("pg", 2).Member("i-1", "h1", 1).Member("i-2", "h1", 2))
           .Partition(1),
       Code::kOk,
       {"h2"},
       {{"h1", RejectCode::kPartitionRackTaken}},
       "holds instances of several partitions"});
  c.push_back({"partition: number out of range",
               three_racks,
               MakeRequest().Group(p3).Partition(4),
               Code::kInvalidArgument,
               {},
               {},
               "partition number 4 is out of range"});
  c.push_back({"partition: count above 7",
               three_racks,
               MakeRequest().Group(MakeGroup::Partition("pg", 8)),
               Code::kInvalidArgument,
               {},
               {},
               "partition count 8"});
  c.push_back({"partition: count 0",
               three_racks,
               MakeRequest().Group(MakeGroup::Partition("pg", 0)),
               Code::kInvalidArgument,
               {},
               {},
               "out of range (1..7)"});
  c.push_back({"partition number without a partition group",
               three_racks,
               MakeRequest().Group(MakeGroup::Spread("pg")).Partition(1),
               Code::kInvalidArgument,
               {},
               {},
               "only valid with a partition placement group"});
  {
    auto g = MakeGroup::Spread("pg");
    g.g.strategy = static_cast<PlacementStrategy>(9);
    c.push_back({"unknown strategy",
                 three_racks,
                 MakeRequest().Group(g),
                 Code::kInvalidArgument,
                 {},
                 {},
                 "unknown strategy"});
  }
  {
    auto g = MakeGroup::Spread("pg");
    g.g.spread_level = static_cast<SpreadLevel>(7);
    c.push_back({"unknown spread level",
                 three_racks,
                 MakeRequest().Group(g),
                 Code::kInvalidArgument,
                 {},
                 {},
                 "unknown spread level"});
  }

  // --- StartInstances of a stopped member ------------------------------------------------------
  c.push_back({"restart: a stopped spread member restarts where it ran",
               OnePerRack(8),
               MakeRequest().Group(SpreadWithMembers(6, 1)).Restart("i-7"),
               Code::kOk,
               {"h7"}});
  c.push_back({"restart: a stopped spread member cannot be the 8th",
               OnePerRack(9),
               MakeRequest().Group(SpreadWithMembers(7, 1)).Restart("i-8"),
               Code::kResourceExhausted,
               {},
               {{"h9", RejectCode::kSpreadAzFull}},
               "already has 7 active instances"});
  c.push_back({"restart: a partition member restarts in its own partition",
               {MakeHost("h1").Rack("r1").Memory(65536), MakeHost("h2").Rack("r2"),
                MakeHost("h3").Rack("r3").Memory(32768)},
               MakeRequest()
                   .Group(MakeGroup::Partition("pg", 2)
                              .Member("i-1", "h1", 1)
                              .Member("i-2", "h2", 2)
                              .Stopped("i-3", "h1", 2))
                   .Restart("i-3"),
               Code::kOk,
               {"h2"},
               {{"h1", RejectCode::kPartitionRackTaken}},
               "",
               [](const PlacementResult& r) { REQUIRE(r.placements[0].partition_number == 2); }});
  c.push_back({"restart: without a group it prefers the previous host",
               {MakeHost("h1").Memory(65536), MakeHost("h2")},
               MakeRequest().Restart("i-1").Prefer("h2"),
               Code::kOk,
               {"h2"}});
  c.push_back({"restart: the previous host is skipped when full",
               {MakeHost("h1"), MakeHost("h2").Vcpus(1)},
               MakeRequest().Restart("i-1").Prefer("h2"),
               Code::kOk,
               {"h1"},
               {{"h2", RejectCode::kVcpu}}});
  c.push_back({"restart: places exactly one",
               {MakeHost("h1")},
               MakeRequest().Restart("i-1").Count(1, 2),
               Code::kInvalidArgument,
               {},
               {},
               "places exactly one"});
  return c;
}

}  // namespace

TEST_CASE("placement rules and rejection reasons", "[scheduler]") {
  SpreadScheduler s;
  for (const Case& c : Cases()) {
    SECTION(c.name) {
      auto result = s.Place(c.req, c.hosts);
      const PlacementExplanation e = s.Explain(c.req, c.hosts);
      INFO(FormatExplanation(c.req, e));
      REQUIRE(result.status().code() == c.code);
      REQUIRE(e.status.code() == c.code);
      if (c.code == Code::kOk) {
        REQUIRE(result->host_ids == e.result.host_ids);
        REQUIRE(result->placements.size() == result->host_ids.size());
        REQUIRE(static_cast<int>(result->host_ids.size()) >= c.req.min_count);
        REQUIRE(static_cast<int>(result->host_ids.size()) <= c.req.max_count);
        if (!c.placed.empty()) {
          auto placed = result->host_ids;
          std::sort(placed.begin(), placed.end());
          REQUIRE(placed == c.placed);
        }
        if (c.check) c.check(*result);
      } else {
        REQUIRE(e.result.host_ids.empty());
      }
      for (const auto& [host, code] : c.rejected) {
        INFO("expected rejection " << host << " " << RejectCodeName(code));
        bool found = false;
        for (const auto& r : e.result.rejections) found |= r.host_id == host && r.code == code;
        REQUIRE(found);
      }
      if (!c.fragment.empty()) {
        if (c.code == Code::kOk) {
          bool found = false;
          for (const auto& r : e.result.rejections) {
            found |= r.reason.find(c.fragment) != std::string::npos;
          }
          REQUIRE(found);
        } else {
          REQUIRE_THAT(std::string(result.status().message()),
                       Catch::Matchers::Contains(c.fragment));
        }
      }
    }
  }
}

}  // namespace minicloud::scheduler
