// One table per filter (filters.h): each row is hosts + request -> the host chosen for the first
// instance and a host rejected with the filter's code, and names the one-line bug it catches.
// Then the filter functions on their boundaries.

#include "controller/scheduler/filters.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "controller/scheduler/fleet.h"
#include "controller/scheduler/scheduler.h"
#include "tests/unit/scheduler/builders.h"

namespace minicloud::scheduler {
namespace {

using testing::MakeGroup;
using testing::MakeHost;
using testing::MakeRequest;

struct FilterRow {
  std::string bug;  // the one-line bug this row catches
  std::vector<HostSnapshot> hosts;
  PlacementRequest req;
  std::string chosen;    // host of the first instance
  std::string rejected;  // a host rejected with `code`
  RejectCode code = RejectCode::kNone;
  std::string reason;  // expected in the rejection's text
};

// Seven active spread members, one per rack r1..r7, and a free host on r8.
std::vector<HostSnapshot> EightRacks() {
  std::vector<HostSnapshot> hosts;
  for (int i = 1; i <= 8; ++i) {
    hosts.push_back(MakeHost("h" + std::to_string(i)).Rack("r" + std::to_string(i)));
  }
  return hosts;
}
MakeGroup SevenMembers() {
  auto g = MakeGroup::Spread("pg");
  for (int i = 1; i <= 7; ++i) g.Member("i-" + std::to_string(i), "h" + std::to_string(i));
  return g;
}

std::vector<FilterRow> Rows() {
  return {
      {"HostUpFilter passes a down host",
       {MakeHost("h1").Memory(65536).Down(), MakeHost("h2")},
       MakeRequest(),
       "h2",
       "h1",
       RejectCode::kHostDown,
       "host is unreachable"},
      {"RegionFilter ignores the requested region",
       {MakeHost("h1").Region("home-2").Memory(65536), MakeHost("h2")},
       MakeRequest().Region("home-1"),
       "h2",
       "h1",
       RejectCode::kRegion,
       "in region home-2, not home-1"},
      {"AvailabilityZoneFilter passes a host of another AZ",
       {MakeHost("h1").Az("home-1b").Memory(65536), MakeHost("h2")},
       MakeRequest().Az("home-1a"),
       "h2",
       "h1",
       RejectCode::kAvailabilityZone,
       "in home-1b, not home-1a"},
      {"AvailabilityZoneFilter reports availability-zone for a cluster lock",
       {MakeHost("h1").Az("home-1b").Memory(65536), MakeHost("h2")},
       MakeRequest().Group(MakeGroup::Cluster("pg").LockedTo("home-1a")),
       "h2",
       "h1",
       RejectCode::kClusterAz,
       "cluster group 'pg' is locked to home-1a"},
      {"VcpuFilter ignores the instances already planned on the host",
       {MakeHost("h1").Vcpus(3)},
       MakeRequest().Count(2, 2),
       "",
       "h1",
       RejectCode::kVcpu,
       "needs 2 vCPU, 1 free"},
      {"VcpuFilter refuses a host with exactly enough vCPU (<= for <)",
       {MakeHost("h1").Vcpus(2).Memory(65536), MakeHost("h2").Vcpus(1)},
       MakeRequest(),
       "h1",
       "h2",
       RejectCode::kVcpu,
       "needs 2 vCPU, 1 free"},
      {"MemoryFilter refuses a host with exactly enough memory (<= for <)",
       {MakeHost("h1").Memory(1024), MakeHost("h2").Memory(1023)},
       MakeRequest(),
       "h1",
       "h2",
       RejectCode::kMemory,
       "needs 1024 MiB, 1023 MiB free"},
      {"MemoryFilter ignores used memory",
       {MakeHost("h1").Memory(65536).Used(0, 65000), MakeHost("h2")},
       MakeRequest(),
       "h2",
       "h1",
       RejectCode::kMemory,
       "needs 1024 MiB, 536 MiB free"},
      {"InstanceStoreFilter ignores used instance store",
       {MakeHost("h1").Memory(65536).Disk(200).UsedDisk(150), MakeHost("h2").Disk(200)},
       MakeRequest().Disk(100),
       "h2",
       "h1",
       RejectCode::kInstanceStore,
       "needs 100 GB instance store, 50 GB free"},
      {"SpreadAzFullFilter allows an 8th active member in an AZ", EightRacks(),
       MakeRequest().Group(SevenMembers()), "", "h8", RejectCode::kSpreadAzFull,
       "already has 7 active instances in home-1a"},
      {"SpreadRackFilter ignores members on the rack",
       {MakeHost("h1").Rack("r1"), MakeHost("h2").Rack("r1").Memory(65536),
        MakeHost("h3").Rack("r2")},
       MakeRequest().Group(MakeGroup::Spread("pg").Member("i-1", "h1")),
       "h3",
       "h2",
       RejectCode::kSpreadRackTaken,
       "rack r1 already holds an instance of spread group 'pg'"},
      {"host-level spread checks the rack instead of the host",
       {MakeHost("h1").Rack("r1").Memory(65536), MakeHost("h2").Rack("r1")},
       MakeRequest().Group(MakeGroup::Spread("pg").HostLevel().Member("i-1", "h1")),
       "h2",
       "h1",
       RejectCode::kSpreadHostTaken,
       "host already holds an instance of spread group 'pg'"},
      {"PartitionRackFilter lets another partition onto an owned rack",
       {MakeHost("h1").Rack("r1").Memory(65536), MakeHost("h2").Rack("r2")},
       MakeRequest().Partition(2).Group(MakeGroup::Partition("pg", 2).Member("i-1", "h1", 1)),
       "h2",
       "h1",
       RejectCode::kPartitionRackTaken,
       "rack r1 belongs to partition 1 of 'pg', not 2"},
      {"RackOwner takes a rack holding two partitions for one of them",
       {MakeHost("h1").Rack("r1").Memory(65536), MakeHost("h2").Rack("r2")},
       MakeRequest().Partition(1).Group(
           MakeGroup::Partition("pg", 2).Member("i-1", "h1", 1).Member("i-2", "h1", 2)),
       "h2",
       "h1",
       RejectCode::kPartitionRackTaken,
       "holds instances of several partitions of 'pg'"},
  };
}

TEST_CASE("each filter rejects with its named reason", "[scheduler][filters]") {
  for (const FilterRow& row : Rows()) {
    SECTION(row.bug) {
      const Fleet fleet(row.hosts);
      const PlacementExplanation e = fleet.Explain(row.req);
      INFO(FormatExplanation(row.req, e));
      if (row.chosen.empty()) {
        REQUIRE_FALSE(e.status.ok());
      } else {
        REQUIRE(e.status.ok());
        REQUIRE(e.result.host_ids.at(0) == row.chosen);
        // The indexed decision agrees.
        auto placed = fleet.Place(row.req);
        REQUIRE(placed.ok());
        REQUIRE(placed->host_ids == e.result.host_ids);
      }
      bool found = false;
      for (const Rejection& r : e.result.rejections) {
        if (r.host_id != row.rejected) continue;
        found = true;
        CHECK(RejectCodeName(r.code) == std::string(RejectCodeName(row.code)));
        CHECK_THAT(r.reason, Catch::Matchers::Contains(row.reason));
      }
      REQUIRE(found);
    }
  }
}

TEST_CASE("filter functions on their boundaries", "[scheduler][filters]") {
  Fleet::Host h;
  h.up = true;
  h.region = "home-1";
  h.az = 0;
  h.alloc_vcpus = 8;
  h.alloc_memory = 4096;
  h.alloc_disk = 100;
  h.used_vcpus = 2;
  h.used_memory = 1024;
  h.used_disk = 40;
  // Capacity: free after `on_host` planned instances must hold one more.
  CHECK(VcpuFilter(h, 0, 6).ok());
  CHECK(VcpuFilter(h, 0, 7).code == RejectCode::kVcpu);
  CHECK(VcpuFilter(h, 1, 3).ok());
  CHECK(VcpuFilter(h, 1, 4).have == 2);
  CHECK(MemoryFilter(h, 0, 3072).ok());
  CHECK(MemoryFilter(h, 2, 1024).ok());
  CHECK(MemoryFilter(h, 3, 1024).code == RejectCode::kMemory);
  CHECK(InstanceStoreFilter(h, 0, 60).ok());
  CHECK(InstanceStoreFilter(h, 1, 31).code == RejectCode::kInstanceStore);
  CHECK(InstanceStoreFilter(h, 5, 0).ok());  // no instance store asked: never refused
  CHECK(RegionFilter(h, "").ok());
  CHECK(RegionFilter(h, "home-2").code == RejectCode::kRegion);
  CHECK(AvailabilityZoneFilter(h, kAnyAz, false).ok());
  CHECK(AvailabilityZoneFilter(h, 0, false).ok());
  CHECK(AvailabilityZoneFilter(h, kUnknownAz, false).code == RejectCode::kAvailabilityZone);
  CHECK(AvailabilityZoneFilter(h, 1, true).code == RejectCode::kClusterAz);
  h.up = false;
  CHECK(HostFilters(h, 0, MakeRequest()).code == RejectCode::kHostDown);
  // Group rules.
  CHECK(SpreadAzFullFilter(6).ok());
  CHECK(SpreadAzFullFilter(7).code == RejectCode::kSpreadAzFull);
  CHECK(SpreadRackFilter(0).ok());
  CHECK(SpreadRackFilter(1).code == RejectCode::kSpreadRackTaken);
  CHECK(SpreadHostFilter(1).code == RejectCode::kSpreadHostTaken);
  CHECK(RackOwner(0) == 0);
  CHECK(RackOwner(1 << 3) == 3);
  CHECK(RackOwner((1 << 3) | (1 << 4)) == -1);
  CHECK(RackOwner(1) == -1);  // a member with an out-of-range partition number
  CHECK(PartitionRackFilter(0, 2, 1).ok());
  CHECK(PartitionRackFilter(2, 2, 0).ok());  // any partition: the owner takes it
  CHECK(PartitionRackFilter(2, 2, 1).other == 2);
  CHECK(PartitionRackFilter(3, 2, 0).code == RejectCode::kPartitionRackTaken);  // owner > count
  CHECK(PartitionRackFilter(-1, 2, 0).other == 0);
}

TEST_CASE("reject code names are stable", "[scheduler][filters]") {
  // They appear in error messages, CLI output and tests.
  const std::vector<std::pair<RejectCode, std::string>> names = {
      {RejectCode::kHostDown, "host-down"},
      {RejectCode::kRegion, "region"},
      {RejectCode::kAvailabilityZone, "availability-zone"},
      {RejectCode::kClusterAz, "cluster-az"},
      {RejectCode::kVcpu, "vcpu"},
      {RejectCode::kMemory, "memory"},
      {RejectCode::kInstanceStore, "instance-store"},
      {RejectCode::kSpreadAzFull, "spread-az-full"},
      {RejectCode::kSpreadRackTaken, "spread-rack-taken"},
      {RejectCode::kSpreadHostTaken, "spread-host-taken"},
      {RejectCode::kPartitionRackTaken, "partition-rack-taken"},
  };
  for (const auto& [code, name] : names) CHECK(RejectCodeName(code) == name);
}

}  // namespace
}  // namespace minicloud::scheduler
