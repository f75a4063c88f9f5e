// Placement groups and stop/start through the whole controller + agents stack (real gRPC, real
// RocksDB, agents on fake hypervisors), checked with the scheduler's independent checker.
#include <catch2/catch.hpp>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "common/ec2_names.h"
#include "controller/scheduler/checker.h"
#include "controller/service/instance_state.h"
#include "tests/testing/test_cloud.h"

namespace minicloud {
namespace {

using testing::TestCloud;

grpc::Status CreateGroup(TestCloud& cloud, const std::string& name, const std::string& strategy,
                         int partitions = 0) {
  grpc::ClientContext ctx;
  v1::CreatePlacementGroupRequest req;
  req.set_group_name(name);
  req.set_strategy(ParsePlacementStrategy(strategy).value());
  req.set_partition_count(partitions);
  v1::CreatePlacementGroupResponse resp;
  cloud.Sign(ctx, "CreatePlacementGroup", &req);
  return cloud.api().CreatePlacementGroup(&ctx, req, &resp);
}

grpc::Status RunInGroup(TestCloud& cloud, const std::string& image, const std::string& group,
                        v1::Reservation* out, int partition = 0) {
  grpc::ClientContext ctx;
  v1::RunInstancesRequest req;
  req.set_image_id(image);
  req.set_instance_type("t3.nano");
  req.set_min_count(1);
  req.set_max_count(1);
  req.mutable_placement()->set_group_name(group);
  req.mutable_placement()->set_partition_number(partition);
  cloud.Sign(ctx, "RunInstances", &req);
  return cloud.api().RunInstances(&ctx, req, out);
}

std::vector<v1::Instance> Describe(TestCloud& cloud) {
  grpc::ClientContext ctx;
  v1::DescribeInstancesResponse resp;
  const v1::DescribeInstancesRequest all;
  cloud.Sign(ctx, "DescribeInstances", &all);
  REQUIRE(cloud.api().DescribeInstances(&ctx, all, &resp).ok());
  std::vector<v1::Instance> out;
  for (const auto& r : resp.reservations()) {
    for (const auto& i : r.instances()) out.push_back(i);
  }
  return out;
}

grpc::Status Stop(TestCloud& cloud, const std::string& id, bool force = false) {
  grpc::ClientContext ctx;
  v1::StopInstancesRequest req;
  req.add_instance_ids(id);
  req.set_force(force);
  v1::StopInstancesResponse resp;
  cloud.Sign(ctx, "StopInstances", &req);
  return cloud.api().StopInstances(&ctx, req, &resp);
}

grpc::Status Start(TestCloud& cloud, const std::string& id) {
  grpc::ClientContext ctx;
  v1::StartInstancesRequest req;
  req.add_instance_ids(id);
  v1::StartInstancesResponse resp;
  cloud.Sign(ctx, "StartInstances", &req);
  return cloud.api().StartInstances(&ctx, req, &resp);
}

// The whole cloud as the independent checker sees it.
std::vector<scheduler::Violation> CheckCloud(TestCloud& cloud) {
  auto& ctl = cloud.controller();
  scheduler::ClusterState cs;
  std::lock_guard<std::mutex> lock(ctl.state->mu());
  for (const auto& [id, h] : ctl.state->hosts()) {
    scheduler::HostSnapshot s;
    s.host_id = id;
    s.region = h.topology().region();
    s.availability_zone = h.topology().availability_zone();
    s.rack = h.topology().rack();
    s.allocatable_vcpus = static_cast<int>(h.capacity().vcpus() * ctl.config.cpu_allocation_ratio);
    s.allocatable_memory_mib = h.capacity().memory_mib() - ctl.config.reserved_host_memory_mib;
    cs.hosts.push_back(s);
  }
  for (const auto& [name, g] : ctl.state->placement_groups()) {
    scheduler::PlacementGroup pg;
    pg.name = name;
    pg.strategy = *scheduler::ParsePlacementStrategy(PlacementStrategyName(g.strategy()));
    pg.spread_level = g.strategy() == v1::PLACEMENT_STRATEGY_SPREAD
                          ? *scheduler::ParseSpreadLevel(SpreadLevelName(g.spread_level()))
                          : scheduler::SpreadLevel::kRack;
    pg.partition_count = g.partition_count();
    pg.locked_az = g.locked_availability_zone();
    cs.groups.push_back(pg);
  }
  for (const auto& [id, r] : ctl.state->instances()) {
    scheduler::CheckedInstance ci;
    ci.instance_id = id;
    ci.host_id = r.host_id();
    ci.group_name = r.placement_group();
    ci.partition_number = r.partition_number();
    ci.vcpus = r.vcpus();
    ci.memory_mib = r.memory_mib();
    switch (r.state()) {
      case v1::INSTANCE_STATE_CODE_PENDING:
        ci.state = scheduler::InstanceState::kPending;
        break;
      case v1::INSTANCE_STATE_CODE_RUNNING:
        ci.state = scheduler::InstanceState::kRunning;
        break;
      case v1::INSTANCE_STATE_CODE_STOPPING:
        ci.state = scheduler::InstanceState::kStopping;
        break;
      case v1::INSTANCE_STATE_CODE_STOPPED:
        ci.state = scheduler::InstanceState::kStopped;
        break;
      case v1::INSTANCE_STATE_CODE_SHUTTING_DOWN:
        ci.state = scheduler::InstanceState::kShuttingDown;
        break;
      default:
        ci.state = scheduler::InstanceState::kTerminated;
        break;
    }
    cs.instances.push_back(ci);
  }
  return scheduler::CheckPlacement(cs);
}

}  // namespace

TEST_CASE("50 concurrent launches into one spread group: exactly 7 per AZ", "[integration]") {
  TestCloud cloud;
  // 3 AZs x 9 hosts, each host its own rack: room for 27 instances, the group allows 21.
  for (const char* az : {"home-1a", "home-1b", "home-1c"}) {
    for (int r = 1; r <= 9; ++r) cloud.AddHost(az, absl::StrCat("rack-", r));
  }
  const std::string image = cloud.controller().RegisterImage();
  REQUIRE(TestCloud::Eventually(
      [&] { return cloud.controller().compute->DescribeHosts({})->hosts_size() == 27; }));
  REQUIRE(CreateGroup(cloud, "web", "spread").ok());

  constexpr int kLaunches = 50;
  std::vector<grpc::Status> results(kLaunches);
  std::vector<v1::Reservation> reservations(kLaunches);
  std::vector<std::thread> threads;
  for (int i = 0; i < kLaunches; ++i) {
    threads.emplace_back(
        [&, i] { results[i] = RunInGroup(cloud, image, "web", &reservations[i]); });
  }
  for (auto& t : threads) t.join();

  std::map<std::string, int> per_az;
  int refused = 0;
  for (int i = 0; i < kLaunches; ++i) {
    if (results[i].ok()) {
      REQUIRE(reservations[i].instances_size() == 1);
      per_az[reservations[i].instances(0).placement().availability_zone()]++;
    } else {
      INFO(results[i].error_message());
      REQUIRE(results[i].error_details() == "InsufficientInstanceCapacity");
      ++refused;
    }
  }
  CHECK(per_az == std::map<std::string, int>{{"home-1a", 7}, {"home-1b", 7}, {"home-1c", 7}});
  CHECK(refused == kLaunches - 21);
  // Refused launches left nothing: only the 21 exist, each on its own rack, all boot.
  const auto instances = Describe(cloud);
  REQUIRE(instances.size() == 21);
  std::set<std::string> hosts;
  for (const auto& i : instances) hosts.insert(i.placement().host_id());
  CHECK(hosts.size() == 21);
  for (const auto& i : instances) {
    INFO(i.instance_id());
    REQUIRE(TestCloud::Eventually([&] { return cloud.StateOf(i.instance_id()) == "running"; }));
  }
  {
    auto violations = CheckCloud(cloud);
    INFO(scheduler::FormatViolations(violations));
    CHECK(violations.empty());
  }
}

TEST_CASE("stop keeps the domain, start boots it again on its host", "[integration]") {
  TestCloud cloud;
  auto& host = cloud.AddHost("home-1a", "rack-1");
  const std::string image = cloud.controller().RegisterImage();
  REQUIRE(CreateGroup(cloud, "solo", "spread").ok());
  v1::Reservation res;
  REQUIRE(RunInGroup(cloud, image, "solo", &res).ok());
  const std::string id = res.instances(0).instance_id();
  REQUIRE(TestCloud::Eventually([&] { return cloud.StateOf(id) == "running"; }));
  REQUIRE(host.hypervisor->starts() == 1);

  REQUIRE(Stop(cloud, id).ok());
  REQUIRE(TestCloud::Eventually([&] { return cloud.StateOf(id) == "stopped"; }));
  REQUIRE(host.hypervisor->Get(id)->state == hypervisor::DomainState::kShutoff);  // still defined
  // A plain stop presses the power button once, and the guest shut down on it.
  CHECK(host.hypervisor->StopRequests(id) ==
        std::vector<hypervisor::StopMode>{hypervisor::StopMode::kGraceful});
  CHECK(host.hypervisor->LastStopMethod(id) == hypervisor::StopMethod::kAcpi);
  // A stopped member does not count: another instance can take the only rack...
  v1::Reservation other;
  REQUIRE(RunInGroup(cloud, image, "solo", &other).ok());
  // ...and then the stopped one cannot start: the rule holds at StartInstances too.
  grpc::Status refused = Start(cloud, id);
  REQUIRE(refused.error_details() == "InsufficientInstanceCapacity");
  REQUIRE(cloud.StateOf(id) == "stopped");
  grpc::ClientContext ctx;
  v1::TerminateInstancesRequest term;
  term.add_instance_ids(other.instances(0).instance_id());
  v1::TerminateInstancesResponse term_resp;
  cloud.Sign(ctx, "TerminateInstances", &term);
  REQUIRE(cloud.api().TerminateInstances(&ctx, term, &term_resp).ok());
  REQUIRE(TestCloud::Eventually(
      [&] { return cloud.StateOf(other.instances(0).instance_id()) == "terminated"; }));

  REQUIRE(Start(cloud, id).ok());
  REQUIRE(TestCloud::Eventually([&] { return cloud.StateOf(id) == "running"; }));
  REQUIRE(host.hypervisor->SpecOf(id)->root_disk ==
          host.agent->InstanceDir(id).value() + "/root.qcow2");

  // A guest that powers itself off is stopped and stays off (it is not booted again).
  const int starts = host.hypervisor->starts();
  REQUIRE(host.hypervisor->SetState(id, hypervisor::DomainState::kShutoff).ok());
  REQUIRE(TestCloud::Eventually([&] { return cloud.StateOf(id) == "stopped"; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  CHECK(host.hypervisor->starts() == starts);
  CHECK(host.hypervisor->LastStopMethod(id) == hypervisor::StopMethod::kGuest);
  CHECK(host.hypervisor->StopRequests(id).size() == 1);  // the agent did not stop it again
  {
    auto violations = CheckCloud(cloud);
    INFO(scheduler::FormatViolations(violations));
    CHECK(violations.empty());
  }
}

TEST_CASE("a guest that ignores the power button is powered off", "[integration]") {
  TestCloud cloud;
  auto& host = cloud.AddHost("home-1a", "rack-1");
  host.config.stop_timeout_ms = 300;
  cloud.RestartAgent(host);
  const std::string image = cloud.controller().RegisterImage();
  host.hypervisor->IgnoreShutdownRequests(true);
  REQUIRE(CreateGroup(cloud, "g", "cluster").ok());
  v1::Reservation a, b;
  REQUIRE(RunInGroup(cloud, image, "g", &a).ok());
  REQUIRE(RunInGroup(cloud, image, "g", &b).ok());
  const std::string slow = a.instances(0).instance_id(), forced = b.instances(0).instance_id();
  for (const auto& id : {slow, forced}) {
    REQUIRE(TestCloud::Eventually([&] { return cloud.StateOf(id) == "running"; }));
  }
  REQUIRE(Stop(cloud, slow).ok());
  REQUIRE(Stop(cloud, forced, /*force=*/true).ok());
  REQUIRE(TestCloud::Eventually([&] { return cloud.StateOf(forced) == "stopped"; }));
  REQUIRE(TestCloud::Eventually([&] { return cloud.StateOf(slow) == "stopped"; }));
  // --force pulls the plug at once; a plain stop presses the button, waits out the stop
  // timeout, then pulls the plug.
  using hypervisor::StopMode;
  CHECK(host.hypervisor->StopRequests(forced) == std::vector<StopMode>{StopMode::kForce});
  CHECK(host.hypervisor->LastStopMethod(forced) == hypervisor::StopMethod::kPowerOff);
  CHECK(host.hypervisor->StopRequests(slow) ==
        std::vector<StopMode>{StopMode::kGraceful, StopMode::kForce});
  CHECK(host.hypervisor->LastStopMethod(slow) == hypervisor::StopMethod::kPowerOff);
  // The first launch locked the cluster group's AZ.
  auto groups = cloud.controller().groups->DescribePlacementGroups({});
  REQUIRE(groups.ok());
  REQUIRE(groups->placement_groups(0).locked_availability_zone() == "home-1a");
}

}  // namespace minicloud

namespace minicloud {

// The host's own re-check: a controller whose view went stale (here: a record written around
// the scheduler, as a restored backup or a second controller could) cannot make a host break a
// rule it can see. The agent refuses the boot and the instance ends with
// Server.InsufficientInstanceCapacity.
TEST_CASE("the agent refuses a boot that breaks spread on its host", "[integration]") {
  TestCloud cloud;
  auto& host = cloud.AddHost("home-1a", "rack-1");
  const std::string image = cloud.controller().RegisterImage();
  REQUIRE(CreateGroup(cloud, "web", "spread").ok());
  v1::Reservation first;
  REQUIRE(RunInGroup(cloud, image, "web", &first).ok());
  const std::string a = first.instances(0).instance_id();
  REQUIRE(TestCloud::Eventually([&] { return cloud.StateOf(a) == "running"; }));

  // A second member on the same host, committed without asking the scheduler.
  auto& state = *cloud.controller().state;
  const std::string b = "i-0badc0ffee0000001";
  {
    std::lock_guard<std::mutex> lock(state.mu());
    v1::InstanceRecord r = state.instances().at(a);
    r.set_instance_id(b);
    r.set_state(v1::INSTANCE_STATE_CODE_PENDING);
    r.mutable_network()->set_private_ip("172.31.0.200");
    r.mutable_network()->set_mac("02:00:00:00:00:c8");
    r.clear_timeline();
    controller::CloudState::Changes changes;
    changes.instances[b] = r;
    REQUIRE(state.CommitLocked(changes).ok());
    state.BumpGenerationLocked(r.host_id());
  }
  REQUIRE(TestCloud::Eventually([&] { return cloud.StateOf(b) == "terminated"; }));
  grpc::ClientContext ctx;
  v1::DescribeInstancesRequest req;
  req.add_instance_ids(b);
  v1::DescribeInstancesResponse resp;
  cloud.Sign(ctx, "DescribeInstances", &req);
  REQUIRE(cloud.api().DescribeInstances(&ctx, req, &resp).ok());
  const auto& reason = resp.reservations(0).instances(0).state_reason();
  CHECK(reason.code() == "Server.InsufficientInstanceCapacity");
  CHECK(reason.message().find("spread group 'web' already has " + a) != std::string::npos);
  CHECK_FALSE(host.hypervisor->Get(b).ok());  // never booted
  CHECK(cloud.StateOf(a) == "running");       // the first member is untouched
}

}  // namespace minicloud
