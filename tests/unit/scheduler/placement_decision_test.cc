// Placement beyond the rules table (placement_test.cc): group validation, the restart request of a
// stopped member, explanations and how long failures are summarised, replay independent of host
// order, and a Fleet kept across Adjust and SetUp.

#include <algorithm>
#include <catch2/catch.hpp>
#include <random>
#include <set>

#include "controller/scheduler/fleet.h"
#include "controller/scheduler/scheduler.h"
#include "tests/unit/scheduler/builders.h"

// Table rows leave trailing fields at their defaults.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace minicloud::scheduler {

using testing::MakeGroup;
using testing::MakeHost;
using testing::MakeRequest;
using Code = absl::StatusCode;

TEST_CASE("placement groups are validated", "[scheduler]") {
  REQUIRE(ValidatePlacementGroup(MakeGroup::Spread("pg").g).ok());
  REQUIRE(ValidatePlacementGroup(MakeGroup::Cluster("pg").LockedTo("a").g).ok());
  REQUIRE(ValidatePlacementGroup(MakeGroup::Partition("pg", 7).g).ok());
  REQUIRE(ValidatePlacementGroup(MakeGroup::Partition("pg", 8).g).code() == Code::kInvalidArgument);
  REQUIRE(ValidatePlacementGroup(MakeGroup::Spread("").g).code() == Code::kInvalidArgument);
  auto spread_with_count = MakeGroup::Spread("pg");
  spread_with_count.g.partition_count = 2;
  REQUIRE(ValidatePlacementGroup(spread_with_count.g).code() == Code::kInvalidArgument);
  REQUIRE(ValidatePlacementGroup(MakeGroup::Spread("pg").LockedTo("a").g).code() ==
          Code::kInvalidArgument);
  REQUIRE(*ParsePlacementStrategy("cluster") == PlacementStrategy::kCluster);
  REQUIRE(*ParsePlacementStrategy("spread") == PlacementStrategy::kSpread);
  REQUIRE(*ParsePlacementStrategy("partition") == PlacementStrategy::kPartition);
  REQUIRE(ParsePlacementStrategy("clump").status().code() == Code::kInvalidArgument);
  REQUIRE(*ParseSpreadLevel("") == SpreadLevel::kRack);
  REQUIRE(*ParseSpreadLevel("host") == SpreadLevel::kHost);
  REQUIRE(ParseSpreadLevel("row").status().code() == Code::kInvalidArgument);
}

TEST_CASE("MakeRestartRequest carries the member's AZ, partition and host", "[scheduler]") {
  GroupMember m;
  m.instance_id = "i-3";
  m.host_id = "h2";
  m.availability_zone = "home-1a";
  m.partition_number = 2;
  m.active = false;
  auto r = MakeRestartRequest("r-1", m, MakeGroup::Partition("pg", 2).Build(), 2, 1024, 0);
  REQUIRE(r.min_count == 1);
  REQUIRE(r.max_count == 1);
  REQUIRE(r.availability_zone == "home-1a");
  REQUIRE(r.partition_number == 2);
  REQUIRE(r.preferred_host_id == "h2");
  REQUIRE(r.restart_instance_id == "i-3");
  REQUIRE(
      MakeRestartRequest("r-1", m, MakeGroup::Spread("pg").Build(), 2, 1024, 0).partition_number ==
      0);
}

TEST_CASE("the explanation names every host and is stable", "[scheduler]") {
  SpreadScheduler s;
  std::vector<HostSnapshot> hosts = {MakeHost("h1").Rack("r1").Memory(65536),
                                     MakeHost("h2").Rack("r1"), MakeHost("h3").Rack("r2"),
                                     MakeHost("h4").Rack("r3").Down()};
  PlacementRequest req = MakeRequest().Count(2, 2).Group(MakeGroup::Spread("pg"));
  const auto a = s.Explain(req, hosts);
  std::reverse(hosts.begin(), hosts.end());
  const auto b = s.Explain(req, hosts);
  const std::string text = FormatExplanation(req, a);
  REQUIRE(text == FormatExplanation(req, b));
  INFO(text);
  REQUIRE(a.hosts.size() == 4);
  REQUIRE_THAT(text, Catch::Matchers::Contains("result: placed 2 in home-1a"));
  // The chosen host says why it won (the first score part where it beat the runner-up) and
  // every host that passed shows its score parts.
  REQUIRE_THAT(text, Catch::Matchers::Contains(
                         "chosen   h1  x1  instance 1: won on free-memory-after: 64512 vs 15360"));
  REQUIRE_THAT(text, Catch::Matchers::Contains("rack r1 holds no other instance"));
  REQUIRE_THAT(text, Catch::Matchers::Contains(
                         "score: preferred-host=no free-memory-after=64512 free-vcpus-after=6"));
  REQUIRE_THAT(text, Catch::Matchers::Contains("rejected h2  [spread-rack-taken]"));
  REQUIRE_THAT(text, Catch::Matchers::Contains("chosen   h3  x1"));
  REQUIRE_THAT(text, Catch::Matchers::Contains("rejected h4  [host-down] host is unreachable"));

  // A failure explains too.
  PlacementRequest big = MakeRequest().Count(4, 4).Group(MakeGroup::Spread("pg"));
  const auto f = s.Explain(big, hosts);
  REQUIRE(f.status.code() == Code::kResourceExhausted);
  const std::string ftext = FormatExplanation(big, f);
  REQUIRE_THAT(ftext, Catch::Matchers::Contains("result: RESOURCE_EXHAUSTED: placed 2 of"));
  REQUIRE_THAT(ftext, Catch::Matchers::Contains("rejected h3  [spread-rack-taken]"));
}

TEST_CASE("long failure messages are summarised", "[scheduler]") {
  std::vector<HostSnapshot> hosts;
  for (int i = 0; i < 50; ++i) hosts.push_back(MakeHost("h" + std::to_string(100 + i)).Vcpus(1));
  auto r = SpreadScheduler().Place(MakeRequest(), hosts);
  REQUIRE(r.status().code() == Code::kResourceExhausted);
  REQUIRE_THAT(std::string(r.status().message()),
               Catch::Matchers::Contains("and 30 more hosts (vcpu x30)"));
}

TEST_CASE("decisions replay and do not depend on host order", "[scheduler]") {
  std::mt19937 rng(7);
  std::vector<HostSnapshot> hosts;
  for (int i = 0; i < 60; ++i) {
    hosts.push_back(MakeHost("h" + std::to_string(i))
                        .Az(std::string("home-1") + "abc"[i % 3])
                        .Rack("r" + std::to_string(i % 7))
                        .Memory(8192 * (1 + i % 4)));
  }
  const std::vector<PlacementRequest> reqs = {
      MakeRequest().Id("a").Count(1, 5),
      MakeRequest().Id("b").Count(2, 9).Group(MakeGroup::Spread("pg")),
      MakeRequest().Id("c").Count(3, 3).Group(MakeGroup::Partition("pg", 5)),
      MakeRequest().Id("d").Count(4, 6).Group(MakeGroup::Cluster("pg"))};
  SpreadScheduler s;
  for (const auto& req : reqs) {
    auto first = s.Place(req, hosts);
    REQUIRE(first.ok());
    for (int round = 0; round < 5; ++round) {
      std::shuffle(hosts.begin(), hosts.end(), rng);
      auto again = s.Place(req, hosts);
      REQUIRE(again.ok());
      REQUIRE(again->host_ids == first->host_ids);
      for (size_t i = 0; i < first->placements.size(); ++i) {
        REQUIRE(again->placements[i].partition_number == first->placements[i].partition_number);
      }
    }
  }
  // Different request ids break ties differently (on a homogeneous fleet).
  std::set<std::string> firsts;
  for (int i = 0; i < 20; ++i) {
    firsts.insert(s.Place(MakeRequest().Id("r-" + std::to_string(i)), hosts)->host_ids[0]);
  }
  REQUIRE(firsts.size() > 1);
}

TEST_CASE("a kept Fleet follows Adjust and SetUp", "[scheduler]") {
  Fleet fleet({MakeHost("h1").Memory(4096), MakeHost("h2").Memory(2048)});
  auto a = fleet.Place(MakeRequest());
  REQUIRE(a->host_ids == std::vector<std::string>{"h1"});
  REQUIRE(fleet.Adjust("h1", 2, 3072, 0).ok());
  REQUIRE(fleet.Place(MakeRequest())->host_ids == std::vector<std::string>{"h2"});
  REQUIRE(fleet.SetUp("h2", false).ok());
  REQUIRE(fleet.Place(MakeRequest())->host_ids == std::vector<std::string>{"h1"});
  REQUIRE(fleet.Adjust("nope", 1, 1, 1).code() == Code::kNotFound);
  auto quiet = fleet.Place(MakeRequest(), {.rejections_on_success = false});
  REQUIRE(quiet->rejections.empty());
  REQUIRE_FALSE(fleet.Place(MakeRequest())->rejections.empty());
}

}  // namespace minicloud::scheduler
