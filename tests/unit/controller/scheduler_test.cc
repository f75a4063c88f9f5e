#include "controller/scheduler/scheduler.h"

#include <catch2/catch.hpp>
#include <set>

#include "controller/scheduler/fleet.h"

namespace minicloud::scheduler {
namespace {

// Builder: MakeHost("h1").Az("a").Vcpus(8).Memory(16384)
struct MakeHost {
  HostSnapshot h;
  explicit MakeHost(std::string id) {
    h.host_id = std::move(id);
    h.region = "home-1";
    h.availability_zone = "home-1a";
    h.rack = "r1";
    h.allocatable_vcpus = 8;
    h.allocatable_memory_mib = 16384;
  }
  MakeHost& Az(std::string az) { return h.availability_zone = std::move(az), *this; }
  MakeHost& Vcpus(int v) { return h.allocatable_vcpus = v, *this; }
  MakeHost& Memory(int64_t m) { return h.allocatable_memory_mib = m, *this; }
  MakeHost& Used(int v, int64_t m) { return h.used_vcpus = v, h.used_memory_mib = m, *this; }
  MakeHost& Down() { return h.up = false, *this; }
  operator HostSnapshot() const { return h; }
};

PlacementRequest Request(int min, int max, int vcpus = 2, int64_t mem = 1024) {
  PlacementRequest r;
  r.request_id = "r-test";
  r.vcpus = vcpus;
  r.memory_mib = mem;
  r.min_count = min;
  r.max_count = max;
  return r;
}

}  // namespace

TEST_CASE("spread scheduler places by free memory and explains rejections", "[scheduler]") {
  SpreadScheduler s;
  struct Case {
    std::string name;
    std::vector<HostSnapshot> hosts;
    PlacementRequest req;
    bool ok;
    std::vector<std::string> placed;  // expected host ids (when ok)
    std::string reason_fragment;      // expected in the error or a rejection
  };
  const std::vector<Case> cases = {
      {"one host fits", {MakeHost("h1")}, Request(1, 1), true, {"h1"}, ""},
      {"most free memory wins",
       {MakeHost("h1").Used(0, 8000), MakeHost("h2")},
       Request(1, 1),
       true,
       {"h2"},
       ""},
      {"spreads across hosts",
       {MakeHost("h1").Memory(4096), MakeHost("h2").Memory(4096)},
       Request(2, 2),
       true,
       {"h1", "h2"},
       ""},
      {"down host is skipped",
       {MakeHost("h1").Down(), MakeHost("h2").Memory(1024)},
       Request(1, 1),
       true,
       {"h2"},
       "unreachable"},
      {"not enough vCPU",
       {MakeHost("h1").Vcpus(1)},
       Request(1, 1),
       false,
       {},
       "needs 2 vCPU, 1 free"},
      {"not enough memory",
       {MakeHost("h1").Memory(512)},
       Request(1, 1),
       false,
       {},
       "needs 1024 MiB, 512 MiB free"},
      {"az filter",
       {MakeHost("h1").Az("home-1b")},
       [] {
         auto r = Request(1, 1);
         r.availability_zone = "home-1a";
         return r;
       }(),
       false,
       {},
       "in home-1b, not home-1a"},
      {"max count partially met",
       {MakeHost("h1").Memory(2048)},
       Request(1, 5),
       true,
       {"h1", "h1"},
       ""},
      {"min count unmet",
       {MakeHost("h1").Memory(2048)},
       Request(3, 5),
       false,
       {},
       "placed 2 of the minimum 3"},
      {"no hosts", {}, Request(1, 1), false, {}, "no hosts are registered"},
  };
  for (const auto& c : cases) {
    SECTION(c.name) {
      auto result = s.Place(c.req, c.hosts);
      REQUIRE(result.ok() == c.ok);
      if (c.ok) {
        auto placed = result->host_ids;
        std::sort(placed.begin(), placed.end());
        REQUIRE(placed == c.placed);
        if (!c.reason_fragment.empty()) {
          bool found = false;
          for (const auto& r : result->rejections) {
            found = found || r.reason.find(c.reason_fragment) != std::string::npos;
          }
          REQUIRE(found);
        }
      } else {
        REQUIRE(result.status().code() == absl::StatusCode::kResourceExhausted);
        REQUIRE_THAT(std::string(result.status().message()),
                     Catch::Matchers::Contains(c.reason_fragment));
      }
    }
  }
}

TEST_CASE("scheduler decisions replay from the request id", "[scheduler]") {
  // Ten equal hosts: only the tie-break decides, and it is the documented stable hash of the
  // request id and the host id (lowest wins). The expected host is computed from that rule,
  // not from an earlier run of the scheduler.
  SpreadScheduler s;
  std::vector<HostSnapshot> hosts;
  for (int i = 0; i < 10; ++i) hosts.push_back(MakeHost("h" + std::to_string(i)));
  CHECK(Fnv1a64("") == 0xcbf29ce484222325ull);  // the published FNV-1a 64 test vectors
  CHECK(Fnv1a64("a") == 0xaf63dc4c8601ec8cull);
  CHECK(Fnv1a64("foobar") == 0x85944171f73967e8ull);
  std::set<std::string> winners;
  for (int r = 0; r < 12; ++r) {
    PlacementRequest req = Request(1, 1);
    req.request_id = "r-" + std::to_string(r);
    std::string expected;
    uint64_t best = 0;
    for (const HostSnapshot& h : hosts) {
      const uint64_t tie = MixHash(Fnv1a64(req.request_id), Fnv1a64(h.host_id));
      if (expected.empty() || tie < best) expected = h.host_id, best = tie;
    }
    auto placed = s.Place(req, hosts);
    REQUIRE(placed.ok());
    CHECK(placed->host_ids == std::vector<std::string>{expected});
    winners.insert(expected);
  }
  CHECK(winners.size() > 1);  // the request id matters
}

}  // namespace minicloud::scheduler
