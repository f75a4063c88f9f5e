// RebootInstances, DescribeInstanceStatus, DescribeRegions and MaxResults/NextToken paging of
// DescribeInstances / DescribeImages, through the services over a real RocksDB store with a
// fake clock.
//
// Bugs these would catch (one line each): a reboot that changes the state or is refused for a
// running instance; a reboot of a stopped instance accepted (EC2: IncorrectInstanceState) or of
// a terminated one refused (EC2 ignores it); a reboot the host's agent never hears of (no
// generation bump / no reboot_count in the desired state); a status "ok" before the grace
// period, or "ok" while the host is unreachable; IncludeAllInstances ignored; paging that
// repeats or drops an instance, or accepts MaxResults with InstanceIds.
#include <catch2/catch.hpp>
#include <set>
#include <string>
#include <vector>

#include "common/ec2_error.h"
#include "tests/testing/controller_fixture.h"

namespace minicloud::controller {
namespace {

using testing::ControllerFixture;

struct Cloud {
  ControllerFixture f;
  std::string host = f.AddHost("home-1a", 64, 65536);
  std::string image = f.RegisterImage();

  std::vector<std::string> Launch(int n) {
    auto res = f.compute->RunInstances(f.Run(image, n));
    REQUIRE(res.ok());
    std::vector<std::string> ids;
    for (const auto& i : res->instances()) ids.push_back(i.instance_id());
    return ids;
  }
  std::string InState(const std::string& state) {
    const std::string id = Launch(1)[0];
    if (state == "pending") return id;
    REQUIRE(f.Report(host, id, v1::OBSERVED_STATE_RUNNING).ok());
    if (state == "running") return id;
    if (state == "shutting-down" || state == "terminated") {
      v1::TerminateInstancesRequest t;
      t.add_instance_ids(id);
      REQUIRE(f.compute->TerminateInstances(t).ok());
      if (state == "terminated") REQUIRE(f.Report(host, id, v1::OBSERVED_STATE_ABSENT).ok());
      return id;
    }
    v1::StopInstancesRequest s;
    s.add_instance_ids(id);
    REQUIRE(f.compute->StopInstances(s).ok());
    if (state == "stopped") REQUIRE(f.Report(host, id, v1::OBSERVED_STATE_SHUTOFF).ok());
    return id;
  }
  int RebootCount(const std::string& id) {
    std::lock_guard<std::mutex> lock(f.state->mu());
    return f.state->instances().at(id).reboot_count();
  }
  uint64_t Generation() {
    std::lock_guard<std::mutex> lock(f.state->mu());
    return f.state->GenerationLocked(host);
  }
  absl::Status Reboot(const std::string& id, bool dry_run = false) {
    v1::RebootInstancesRequest req;
    req.add_instance_ids(id);
    req.set_dry_run(dry_run);
    return f.compute->RebootInstances(req).status();
  }
  v1::DescribeInstanceStatusResponse Status(v1::DescribeInstanceStatusRequest req = {}) {
    auto resp = f.compute->DescribeInstanceStatus(req);
    REQUIRE(resp.ok());
    return *resp;
  }
};

}  // namespace

TEST_CASE("RebootInstances follows EC2 per state", "[reboot]") {
  struct Case {
    std::string state;
    std::string code;  // "" = accepted
    bool reboots;
  };
  const std::vector<Case> cases = {
      {"running", "", true},
      {"terminated", "", false},
      {"shutting-down", "", false},
      {"pending", "IncorrectInstanceState", false},
      {"stopping", "IncorrectInstanceState", false},
      {"stopped", "IncorrectInstanceState", false},
  };
  for (const auto& c : cases) {
    SECTION(c.state) {
      Cloud cloud;
      const std::string id = cloud.InState(c.state);
      const uint64_t generation = cloud.Generation();
      absl::Status s = cloud.Reboot(id);
      if (c.code.empty()) {
        REQUIRE(s.ok());
      } else {
        REQUIRE(Ec2CodeOf(s) == c.code);
      }
      REQUIRE(cloud.RebootCount(id) == (c.reboots ? 1 : 0));
      REQUIRE((cloud.Generation() > generation) == c.reboots);
      REQUIRE(cloud.f.Describe(id).state().name() == c.state);  // the state never changes
    }
  }
}

TEST_CASE("RebootInstances: the agent is handed the reboot, errors and DryRun", "[reboot]") {
  Cloud cloud;
  const std::string id = cloud.InState("running");
  REQUIRE(Ec2CodeOf(cloud.Reboot(id, true)) == "DryRunOperation");
  REQUIRE(cloud.RebootCount(id) == 0);
  REQUIRE(cloud.Reboot(id).ok());
  REQUIRE(cloud.Reboot(id).ok());
  v1::WatchDesiredRequest w;
  w.set_host_id(cloud.host);
  auto desired = cloud.f.fleet->WatchDesired(w);
  REQUIRE(desired.ok());
  bool found = false;
  for (const auto& d : desired->instances()) {
    if (d.instance_id() == id) found = d.reboot_count() == 2;
  }
  REQUIRE(found);
  cloud.f.Reopen();  // the count is in the store
  REQUIRE(cloud.RebootCount(id) == 2);

  REQUIRE(Ec2CodeOf(cloud.Reboot("i-0123456789abcdef0")) == "InvalidInstanceID.NotFound");
  REQUIRE(Ec2CodeOf(cloud.Reboot("bogus")) == "InvalidInstanceID.Malformed");
  REQUIRE(Ec2CodeOf(cloud.f.compute->RebootInstances({}).status()) == "MissingParameter");
  // One instance in a wrong state refuses the whole call.
  const std::string stopped = cloud.InState("stopped");
  v1::RebootInstancesRequest both;
  both.add_instance_ids(id);
  both.add_instance_ids(stopped);
  REQUIRE(Ec2CodeOf(cloud.f.compute->RebootInstances(both).status()) == "IncorrectInstanceState");
  REQUIRE(cloud.RebootCount(id) == 2);
}

TEST_CASE("DescribeInstanceStatus from what the controller knows", "[status]") {
  Cloud cloud;
  const std::string running = cloud.InState("running");
  const std::string stopped = cloud.InState("stopped");
  const std::string pending = cloud.InState("pending");
  (void)pending;

  SECTION("running only by default; initializing, then ok after the grace period") {
    auto s = cloud.Status();
    REQUIRE(s.instance_statuses_size() == 1);
    const auto& st = s.instance_statuses(0);
    REQUIRE(st.instance_id() == running);
    REQUIRE(st.availability_zone() == "home-1a");
    REQUIRE(st.instance_state().name() == "running");
    REQUIRE(st.system_status().status() == "ok");
    REQUIRE(st.system_status().details(0).status() == "passed");
    REQUIRE(st.instance_status().status() == "initializing");
    cloud.f.clock.Advance(cloud.f.config.status_check_grace);
    REQUIRE(cloud.f.Report(cloud.host, running, v1::OBSERVED_STATE_RUNNING).ok());  // host alive
    auto later = cloud.Status();
    REQUIRE(later.instance_statuses(0).instance_status().status() == "ok");
    REQUIRE(later.instance_statuses(0).instance_status().details(0).name() == "reachability");
    REQUIRE(later.instance_statuses(0).instance_status().details(0).status() == "passed");
  }
  SECTION("an unreachable host impairs the system status") {
    cloud.f.clock.Advance(cloud.f.config.host_timeout + absl::Seconds(1));
    auto s = cloud.Status();
    REQUIRE(s.instance_statuses_size() == 1);
    REQUIRE(s.instance_statuses(0).system_status().status() == "impaired");
    REQUIRE(s.instance_statuses(0).system_status().details(0).status() == "failed");
    REQUIRE(s.instance_statuses(0).system_status().details(0).has_impaired_since());
    REQUIRE(s.instance_statuses(0).instance_status().status() == "insufficient-data");
  }
  SECTION("IncludeAllInstances lists the others as not-applicable") {
    v1::DescribeInstanceStatusRequest req;
    req.set_include_all_instances(true);
    auto s = cloud.Status(req);
    REQUIRE(s.instance_statuses_size() == 3);
    for (const auto& st : s.instance_statuses()) {
      if (st.instance_id() == running) continue;
      REQUIRE(st.instance_status().status() == "not-applicable");
      REQUIRE(st.system_status().status() == "not-applicable");
    }
  }
  SECTION("ids and filters") {
    v1::DescribeInstanceStatusRequest req;
    req.add_instance_ids(stopped);
    REQUIRE(cloud.Status(req).instance_statuses_size() == 0);  // not running
    req.set_include_all_instances(true);
    REQUIRE(cloud.Status(req).instance_statuses(0).instance_state().name() == "stopped");

    v1::DescribeInstanceStatusRequest by_state;
    by_state.set_include_all_instances(true);
    auto* f = by_state.add_filters();
    f->set_name("instance-state-name");
    f->add_values("stopped");
    REQUIRE(cloud.Status(by_state).instance_statuses_size() == 1);
    f->set_name("instance-status.status");
    f->set_values(0, "initializing");
    REQUIRE(cloud.Status(by_state).instance_statuses(0).instance_id() == running);
    f->set_name("system-status.status");
    f->set_values(0, "impaired");
    REQUIRE(cloud.Status(by_state).instance_statuses_size() == 0);
    f->set_name("availability-zone");
    f->set_values(0, "home-1*");
    REQUIRE(cloud.Status(by_state).instance_statuses_size() == 3);
    f->set_name("bogus");
    REQUIRE(Ec2CodeOf(cloud.f.compute->DescribeInstanceStatus(by_state).status()) ==
            "InvalidParameterValue");
    v1::DescribeInstanceStatusRequest unknown;
    unknown.add_instance_ids("i-0123456789abcdef0");
    REQUIRE(Ec2CodeOf(cloud.f.compute->DescribeInstanceStatus(unknown).status()) ==
            "InvalidInstanceID.NotFound");
  }
}

TEST_CASE("DescribeInstances and DescribeInstanceStatus page by MaxResults/NextToken", "[paging]") {
  Cloud cloud;
  std::vector<std::string> ids = cloud.Launch(12);
  for (const auto& id : ids)
    REQUIRE(cloud.f.Report(cloud.host, id, v1::OBSERVED_STATE_RUNNING).ok());

  std::vector<std::string> seen;
  std::string token;
  std::vector<int> sizes;
  do {
    v1::DescribeInstancesRequest req;
    req.set_max_results(5);
    req.set_next_token(token);
    auto resp = cloud.f.compute->DescribeInstances(req);
    REQUIRE(resp.ok());
    int n = 0;
    for (const auto& r : resp->reservations()) {
      for (const auto& i : r.instances()) {
        seen.push_back(i.instance_id());
        ++n;
      }
    }
    sizes.push_back(n);
    token = resp->next_token();
    // An instance launched between pages shows up once, on a later page or not at all.
    if (sizes.size() == 1) ids.push_back(cloud.Launch(1)[0]);
  } while (!token.empty());
  std::set<std::string> unique(seen.begin(), seen.end());
  REQUIRE(unique.size() == seen.size());
  for (size_t i = 0; i + 1 < ids.size(); ++i) REQUIRE(unique.contains(ids[i]));
  REQUIRE(sizes.front() == 5);

  v1::DescribeInstanceStatusRequest st;
  st.set_max_results(5);
  auto first = cloud.f.compute->DescribeInstanceStatus(st);
  REQUIRE(first.ok());
  REQUIRE(first->instance_statuses_size() == 5);
  REQUIRE_FALSE(first->next_token().empty());

  SECTION("bounds and combinations") {
    v1::DescribeInstancesRequest req;
    req.set_max_results(4);
    REQUIRE(Ec2CodeOf(cloud.f.compute->DescribeInstances(req).status()) == "InvalidParameterValue");
    req.set_max_results(1001);
    REQUIRE(Ec2CodeOf(cloud.f.compute->DescribeInstances(req).status()) == "InvalidParameterValue");
    req.set_max_results(5);
    req.add_instance_ids(ids[0]);
    REQUIRE(Ec2CodeOf(cloud.f.compute->DescribeInstances(req).status()) ==
            "InvalidParameterCombination");
    // A DescribeInstanceStatus token is not a DescribeInstances token.
    v1::DescribeInstancesRequest foreign;
    foreign.set_next_token(first->next_token());
    REQUIRE(Ec2CodeOf(cloud.f.compute->DescribeInstances(foreign).status()) ==
            "InvalidPaginationToken");
  }
}

TEST_CASE("DescribeImages pages, DescribeRegions answers the controller's region", "[paging]") {
  Cloud cloud;
  for (int i = 0; i < 3; ++i) cloud.f.RegisterImage("image-" + std::to_string(i));
  std::set<std::string> seen;
  std::string token;
  int pages = 0;
  do {
    v1::DescribeImagesRequest req;
    req.set_max_results(2);
    req.set_next_token(token);
    auto resp = cloud.f.images->DescribeImages(req);
    REQUIRE(resp.ok());
    for (const auto& i : resp->images()) REQUIRE(seen.insert(i.image_id()).second);
    token = resp->next_token();
    ++pages;
  } while (!token.empty());
  REQUIRE(seen.size() == 4);
  REQUIRE(pages == 2);

  v1::DescribeRegionsRequest r;
  auto regions = cloud.f.compute->DescribeRegions(r);
  REQUIRE(regions.ok());
  REQUIRE(regions->regions_size() == 1);
  REQUIRE(regions->regions(0).region_name() == cloud.f.config.region);
  REQUIRE(regions->regions(0).opt_in_status() == "opt-in-not-required");
  r.add_region_names("us-east-1");
  REQUIRE(Ec2CodeOf(cloud.f.compute->DescribeRegions(r).status()) == "InvalidParameterValue");
  v1::DescribeRegionsRequest filtered;
  auto* f = filtered.add_filters();
  f->set_name("region-name");
  f->add_values("other-*");
  REQUIRE(cloud.f.compute->DescribeRegions(filtered)->regions_size() == 0);
}

}  // namespace minicloud::controller
