// One table per strategy's ranking (strategy_*.h): each row is hosts + request -> the host an
// instance goes to and the score part that decided it (the first part where the winner beat
// the runner-up, as --explain prints it), and names the one-line bug it catches.

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

struct RankRow {
  std::string bug;  // the one-line bug this row catches
  std::vector<HostSnapshot> hosts;
  PlacementRequest req;
  int instance = 1;    // which instance (1-based)
  std::string chosen;  // its host
  std::string won_on;  // the deciding score part
};

// The deciding part named in the note of instance k ("instance k -> h (...): won on PART: ...").
std::string WonOn(const PlacementExplanation& e, int k) {
  const std::string prefix = "instance " + std::to_string(k) + " -> ";
  for (const std::string& n : e.notes) {
    if (n.rfind(prefix, 0) != 0) continue;
    const size_t at = n.find("won on ");
    if (at == std::string::npos) return "(none: " + n + ")";
    const size_t end = n.find(':', at);
    return n.substr(at + 7, end - at - 7);
  }
  return "(no note)";
}

std::vector<RankRow> NoGroupRows() {
  return {
      {"NoGroupStrategy::Rank drops rack-request-instances (instances pile onto one rack)",
       {MakeHost("h1").Rack("r1").Memory(65536), MakeHost("h2").Rack("r1").Memory(65536),
        MakeHost("h3").Rack("r2")},
       MakeRequest().Count(2, 2),
       2,
       "h3",
       "rack-request-instances"},
      {"NoGroupStrategy::Rank drops host-request-instances (instances pile onto one host)",
       {MakeHost("h1").Memory(65536), MakeHost("h2")},
       MakeRequest().Count(2, 2),
       2,
       "h2",
       "host-request-instances"},
      {"free-memory-after stored without its sign (least free memory first)",
       {MakeHost("h1"), MakeHost("h2").Memory(32768)},
       MakeRequest(),
       1,
       "h2",
       "free-memory-after"},
      {"free-vcpus-after dropped from the ranking",
       {MakeHost("h1"), MakeHost("h2").Vcpus(16)},
       MakeRequest(),
       1,
       "h2",
       "free-vcpus-after"},
      {"NotPreferred inverted (the restart's last host ranked last)",
       {MakeHost("h1").Memory(65536), MakeHost("h2")},
       MakeRequest().Restart("i-1").Prefer("h2"),
       1,
       "h2",
       "preferred-host"},
      {"RanksBefore compares host ids before the tie hash",
       {MakeHost("h1"), MakeHost("h2")},
       MakeRequest().Id("r-tie-2"),
       1,
       "h2",
       "tie-hash"},
  };
}

std::vector<RankRow> SpreadRows() {
  return {
      {"SpreadStrategy::Rank ranks by least free memory",
       {MakeHost("h1").Rack("r1"), MakeHost("h2").Rack("r2").Memory(32768)},
       MakeRequest().Group(MakeGroup::Spread("pg")),
       1,
       "h2",
       "free-memory-after"},
      {"SpreadStrategy::Rank ignores the preferred host",
       {MakeHost("h1").Rack("r1").Memory(65536), MakeHost("h2").Rack("r2")},
       MakeRequest().Group(MakeGroup::Spread("pg").Stopped("i-1", "h2")).Restart("i-1"),
       1,
       "h2",
       "preferred-host"},
  };
}

std::vector<RankRow> ClusterRows() {
  return {
      {"ClusterStrategy::Rank drops rack-has-group (a cluster spreads over racks)",
       {MakeHost("h1").Rack("r1"), MakeHost("h2").Rack("r2").Memory(8192)},
       MakeRequest().Group(MakeGroup::Cluster("pg").MemberAt("i-1", "home-1a", "r1")),
       1,
       "h1",
       "rack-has-group"},
      {"ClusterStrategy::Rank drops fits-remaining-on-rack (best fit splits the cluster)",
       {MakeHost("h1").Rack("r1").Memory(1024), MakeHost("h2").Rack("r2").Memory(8192)},
       MakeRequest().Count(3, 3).Group(MakeGroup::Cluster("pg")),
       1,
       "h2",
       "fits-remaining-on-rack"},
      {"ClusterStrategy::Rank ignores the group's members on the host (host-has-group)",
       {MakeHost("h1").Rack("r1").Memory(32768), MakeHost("h2").Rack("r1").Memory(8192)},
       MakeRequest().Group(MakeGroup::Cluster("pg").Member("i-1", "h1")),
       1,
       "h1",
       "host-has-group"},
      {"cluster ranks by most free memory instead of best fit",
       {MakeHost("h1").Rack("r1").Memory(32768), MakeHost("h2").Rack("r1").Memory(8192)},
       MakeRequest().Group(MakeGroup::Cluster("pg")),
       1,
       "h2",
       "free-memory-after"},
  };
}

std::vector<RankRow> PartitionRows() {
  return {
      {"PartitionStrategy::Rank drops rack-owned-by-partition (free racks used up first)",
       {MakeHost("h1").Rack("r1").Memory(8192), MakeHost("h2").Rack("r2").Memory(65536)},
       MakeRequest().Partition(1).Group(MakeGroup::Partition("pg", 2).Member("i-1", "h1", 1)),
       1,
       "h1",
       "rack-owned-by-partition"},
      {"PartitionStrategy::Rank ranks a partition's own hosts by least free memory",
       {MakeHost("h1").Rack("r1"), MakeHost("h2").Rack("r1").Memory(32768),
        MakeHost("h3").Rack("r2").Memory(65536)},
       MakeRequest().Partition(1).Group(MakeGroup::Partition("pg", 2).Member("i-1", "h1", 1)),
       1,
       "h2",
       "free-memory-after"},
  };
}

void Check(const std::vector<RankRow>& rows) {
  for (const RankRow& row : rows) {
    SECTION(row.bug) {
      const Fleet fleet(row.hosts);
      const PlacementExplanation e = fleet.Explain(row.req);
      INFO(FormatExplanation(row.req, e));
      REQUIRE(e.status.ok());
      REQUIRE(static_cast<int>(e.result.host_ids.size()) >= row.instance);
      CHECK(e.result.host_ids[row.instance - 1] == row.chosen);
      CHECK(WonOn(e, row.instance) == row.won_on);
      // The indexed decision (no explanation) places the same way.
      auto placed = fleet.Place(row.req, {.rejections_on_success = false});
      REQUIRE(placed.ok());
      CHECK(placed->host_ids == e.result.host_ids);
    }
  }
}

TEST_CASE("no group ranking: score parts decide", "[scheduler][ranking]") { Check(NoGroupRows()); }
TEST_CASE("spread ranking: score parts decide", "[scheduler][ranking]") { Check(SpreadRows()); }
TEST_CASE("cluster ranking: score parts decide", "[scheduler][ranking]") { Check(ClusterRows()); }
TEST_CASE("partition ranking: score parts decide", "[scheduler][ranking]") {
  Check(PartitionRows());
}

TEST_CASE("the printed score parts are the ones that decided", "[scheduler][ranking]") {
  // Every host that passed gets its parts; the chosen host's parts rank before every passed-over
  // host's in the same slot (here one instance, so the last slot is the only one).
  const Fleet fleet({MakeHost("h1").Rack("r1").Memory(8192), MakeHost("h2").Rack("r1"),
                     MakeHost("h3").Rack("r2").Memory(32768).Used(0, 16384)});
  const PlacementRequest req = MakeRequest().Id("r-parts");
  const PlacementExplanation e = fleet.Explain(req);
  INFO(FormatExplanation(req, e));
  REQUIRE(e.status.ok());
  for (const HostVerdict& v : e.hosts) {
    REQUIRE(v.score.size() == 6);  // 5 parts of the no-group ranking + tie-hash
    CHECK(v.score[0].name == "preferred-host");
    CHECK(v.score[3].name == "free-memory-after");
    CHECK(v.score[5].name == "tie-hash");
  }
  // h2 and h3 both have 15360 MiB and 6 vCPU free after, so the tie hash decides between
  // them; h1 has less free memory.
  CHECK(e.hosts[0].score[3].value == "7168");
  CHECK(e.hosts[1].score[3].value == "15360");
  CHECK(e.hosts[2].score[3].value == "15360");
  CHECK(e.hosts[0].verdict == Verdict::kPassedOver);
  CHECK(WonOn(e, 1) == "tie-hash");
}

}  // namespace
}  // namespace minicloud::scheduler
