// The --explain / describe-placement text against golden files (tests/golden/scheduler/), one
// per strategy plus a restart and a failure:
//
//   MINICLOUD_UPDATE_GOLDEN=1 ctest -R explain   (see tests/testing/golden.h)
//
// review the diff of tests/golden/scheduler/*.txt, then run again without the variable.

#include <catch2/catch.hpp>
#include <filesystem>
#include <string>
#include <vector>

#include "controller/scheduler/scheduler.h"
#include "tests/testing/golden.h"
#include "tests/unit/scheduler/builders.h"

namespace minicloud::scheduler {
namespace {

using testing::MakeGroup;
using testing::MakeHost;
using testing::MakeRequest;

const std::filesystem::path kGoldenDir =
    std::filesystem::path(MINICLOUD_SOURCE_DIR) / "tests" / "golden" / "scheduler";

// Two AZs; in home-1a three racks of mixed hosts, one host down, one nearly full.
std::vector<HostSnapshot> Fleet() {
  return {
      MakeHost("h1").Rack("r1").Memory(32768), MakeHost("h2").Rack("r1"),
      MakeHost("h3").Rack("r2").Used(2, 4096), MakeHost("h4").Rack("r2").Vcpus(16).Memory(32768),
      MakeHost("h5").Rack("r3").Used(7, 1024), MakeHost("h6").Rack("r3").Down(),
      MakeHost("h7").Az("home-1b").Rack("r1")};
}

struct GoldenCase {
  std::string name;  // golden file stem
  PlacementRequest req;
};

TEST_CASE("explanations match golden files", "[scheduler][explain]") {
  const std::vector<GoldenCase> cases = {
      {"no_group", MakeRequest().Id("r-none").Count(3, 3).Az("home-1a")},
      {"spread", MakeRequest()
                     .Id("r-spread")
                     .Count(2, 2)
                     .Group(MakeGroup::Spread("web").Member("i-1", "h7"))},
      {"cluster", MakeRequest()
                      .Id("r-cluster")
                      .Count(3, 3)
                      .Group(MakeGroup::Cluster("hpc").Member("i-1", "h3"))},
      {"partition",
       MakeRequest().Id("r-part").Count(2, 2).Az("home-1a").Group(
           MakeGroup::Partition("db", 3).Member("i-1", "h1", 1).Member("i-2", "h3", 2))},
      {"restart", MakeRequest().Id("r-restart").Restart("i-9").Prefer("h2").Az("home-1a")},
      {"failure", MakeRequest().Id("r-fail").Count(4, 4).Group(MakeGroup::Spread("web"))},
  };
  const SpreadScheduler s;
  for (const auto& c : cases) {
    SECTION(c.name) {
      const std::string text = FormatExplanation(c.req, s.Explain(c.req, Fleet()));
      minicloud::testing::CheckGoldenFile(kGoldenDir / (c.name + ".txt"), text);
    }
  }
}

}  // namespace
}  // namespace minicloud::scheduler
