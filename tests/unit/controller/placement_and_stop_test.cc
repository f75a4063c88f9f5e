// Placement groups, StopInstances/StartInstances and DescribeAvailabilityZones over a real store
// with a fake clock (no agents: the tests report observed states themselves).
#include <catch2/catch.hpp>

#include "common/ec2_error.h"
#include "common/ec2_names.h"
#include "tests/testing/controller_fixture.h"

namespace minicloud {
namespace {

using testing::ControllerFixture;

// Strategy and level by their EC2 names; "" leaves them UNSPECIFIED, and a name EC2 does not
// have becomes a number the enum does not name (what a client built with other enums could send).
v1::CreatePlacementGroupRequest Group(std::string name, std::string strategy, int partitions = 0,
                                      std::string level = "") {
  constexpr int kUnnamed = 99;
  v1::CreatePlacementGroupRequest r;
  r.set_group_name(std::move(name));
  if (!strategy.empty()) {
    r.set_strategy(
        ParsePlacementStrategy(strategy).value_or(static_cast<v1::PlacementStrategy>(kUnnamed)));
  }
  r.set_partition_count(partitions);
  if (!level.empty()) {
    r.set_spread_level(ParseSpreadLevel(level).value_or(static_cast<v1::SpreadLevel>(kUnnamed)));
  }
  return r;
}

std::string Code(const absl::Status& s) { return Ec2CodeOf(s); }

}  // namespace

TEST_CASE("CreatePlacementGroup validates like EC2", "[controller][placement]") {
  ControllerFixture f;
  REQUIRE(f.groups->CreatePlacementGroup(Group("web", "spread")).ok());
  struct Case {
    const char* name;
    v1::CreatePlacementGroupRequest req;
    const char* code;
  };
  const Case cases[] = {
      {"duplicate name", Group("web", "cluster"), "InvalidPlacementGroup.Duplicate"},
      {"no name", Group("", "spread"), "MissingParameter"},
      {"no strategy", Group("x", ""), "MissingParameter"},
      {"unknown strategy", Group("x", "ring"), "InvalidParameterValue"},
      {"8 partitions", Group("x", "partition", 8), "InvalidParameterValue"},
      {"partitions on a spread group", Group("x", "spread", 2), "InvalidParameterValue"},
      {"spread level on a cluster group", Group("x", "cluster", 0, "host"),
       "InvalidParameterValue"},
      {"unknown spread level", Group("x", "spread", 0, "row"), "InvalidParameterValue"},
      {"name too long", Group(std::string(256, 'n'), "spread"), "InvalidParameterValue"},
      {"control characters", Group("a\nb", "spread"), "InvalidParameterValue"},
  };
  for (const auto& c : cases) {
    SECTION(c.name) {
      auto r = f.groups->CreatePlacementGroup(c.req);
      REQUIRE_FALSE(r.ok());
      REQUIRE(Code(r.status()) == c.code);
    }
  }
  SECTION("a partition group without a count gets 2, as EC2") {
    auto r = f.groups->CreatePlacementGroup(Group("db", "partition"));
    REQUIRE(r.ok());
    CHECK(r->placement_group().partition_count() == 2);
    CHECK(r->placement_group().state() == "available");
    CHECK(r->placement_group().group_id().rfind("pg-", 0) == 0);
  }
  SECTION("groups survive a controller restart") {
    f.Reopen();
    auto d = f.groups->DescribePlacementGroups({});
    REQUIRE(d.ok());
    REQUIRE(d->placement_groups_size() == 1);
    CHECK(d->placement_groups(0).spread_level() == v1::SPREAD_LEVEL_RACK);
  }
}

TEST_CASE("RunInstances into groups, delete only when empty", "[controller][placement]") {
  ControllerFixture f;
  const std::string host = f.AddHost("home-1a", 8, 16384);
  const std::string image = f.RegisterImage();
  REQUIRE(f.groups->CreatePlacementGroup(Group("db", "partition", 3)).ok());
  REQUIRE(f.groups->CreatePlacementGroup(Group("hpc", "cluster")).ok());

  auto req = f.Run(image);
  req.mutable_placement()->set_group_name("nope");
  CHECK(Code(f.compute->RunInstances(req).status()) == "InvalidPlacementGroup.Unknown");
  req.mutable_placement()->set_group_name("db");
  req.mutable_placement()->set_partition_number(4);
  CHECK(Code(f.compute->RunInstances(req).status()) == "InvalidParameterValue");
  req.mutable_placement()->set_partition_number(2);
  auto res = f.compute->RunInstances(req);
  REQUIRE(res.ok());
  const v1::Instance& inst = res->instances(0);
  CHECK(inst.placement().group_name() == "db");
  CHECK(inst.placement().partition_number() == 2);

  v1::DescribeInstancesRequest filter;
  auto* fl = filter.add_filters();
  fl->set_name("placement-partition-number");
  fl->add_values("2");
  CHECK(f.compute->DescribeInstances(filter)->reservations_size() == 1);
  fl->set_values(0, "1");
  CHECK(f.compute->DescribeInstances(filter)->reservations_size() == 0);

  // The first launch locks a cluster group's AZ; a request for another AZ is refused.
  auto cluster = f.Run(image);
  cluster.mutable_placement()->set_group_name("hpc");
  REQUIRE(f.compute->RunInstances(cluster).ok());
  v1::DescribePlacementGroupsRequest which;
  which.add_group_names("hpc");
  CHECK(f.groups->DescribePlacementGroups(which)->placement_groups(0).locked_availability_zone() ==
        "home-1a");
  cluster.mutable_placement()->set_availability_zone("home-1b");
  CHECK(Code(f.compute->RunInstances(cluster).status()) == "InvalidParameterValue");

  // --explain returns the scheduler's reasoning with the reservation.
  auto explained = f.Run(image);
  explained.set_explain(true);
  auto e = f.compute->RunInstances(explained);
  REQUIRE(e.ok());
  CHECK(e->placement_explanation().find(host) != std::string::npos);

  v1::DeletePlacementGroupRequest del;
  del.set_group_name("db");
  CHECK(Code(f.groups->DeletePlacementGroup(del).status()) == "InvalidPlacementGroup.InUse");
  v1::TerminateInstancesRequest term;
  term.add_instance_ids(inst.instance_id());
  REQUIRE(f.compute->TerminateInstances(term).ok());
  REQUIRE(f.Report(host, inst.instance_id(), v1::OBSERVED_STATE_ABSENT).ok());
  REQUIRE(f.Describe(inst.instance_id()).state().name() == "terminated");
  REQUIRE(f.groups->DeletePlacementGroup(del).ok());
  del.set_group_name("db");
  CHECK(Code(f.groups->DeletePlacementGroup(del).status()) == "InvalidPlacementGroup.Unknown");
}

TEST_CASE("stop and start follow EC2's states", "[controller][stop]") {
  ControllerFixture f;
  const std::string host = f.AddHost("home-1a", 2, 1024 + 512);  // room for one t3.micro
  const std::string image = f.RegisterImage();
  auto res = f.compute->RunInstances(f.Run(image));
  REQUIRE(res.ok());
  const std::string id = res->instances(0).instance_id();
  REQUIRE(f.Report(host, id, v1::OBSERVED_STATE_RUNNING).ok());

  v1::StartInstancesRequest start;
  start.add_instance_ids(id);
  v1::StopInstancesRequest stop;
  stop.add_instance_ids(id);
  // Starting a running instance changes nothing.
  auto started = f.compute->StartInstances(start);
  REQUIRE(started.ok());
  CHECK(started->starting_instances(0).current_state().name() == "running");

  auto stopped = f.compute->StopInstances(stop);
  REQUIRE(stopped.ok());
  CHECK(stopped->stopping_instances(0).previous_state().code() == 16);
  CHECK(stopped->stopping_instances(0).current_state().code() == 64);
  CHECK(f.Describe(id).state().name() == "stopping");
  REQUIRE(f.Report(host, id, v1::OBSERVED_STATE_SHUTOFF).ok());
  CHECK(f.Describe(id).state().name() == "stopped");
  const std::string ip = f.Describe(id).private_ip_address();

  // A stopped instance frees its capacity: another launch fits, and then it cannot start.
  auto other = f.compute->RunInstances(f.Run(image));
  REQUIRE(other.ok());
  CHECK(Code(f.compute->StartInstances(start).status()) == "InsufficientInstanceCapacity");
  CHECK(f.Describe(id).state().name() == "stopped");
  v1::TerminateInstancesRequest term;
  term.add_instance_ids(other->instances(0).instance_id());
  REQUIRE(f.compute->TerminateInstances(term).ok());
  REQUIRE(f.Report(host, other->instances(0).instance_id(), v1::OBSERVED_STATE_ABSENT).ok());

  f.clock.Advance(absl::Minutes(5));
  REQUIRE(f.Report(host, id, v1::OBSERVED_STATE_SHUTOFF).ok());  // the host is alive
  started = f.compute->StartInstances(start);
  REQUIRE(started.ok());
  CHECK(started->starting_instances(0).previous_state().name() == "stopped");
  CHECK(started->starting_instances(0).current_state().name() == "pending");
  CHECK(f.Describe(id).private_ip_address() == ip);  // kept across stop/start
  CHECK(f.Describe(id).placement().host_id() == host);
  // A stale SHUTOFF report (the old boot) does not stop the new one.
  REQUIRE(f.Report(host, id, v1::OBSERVED_STATE_SHUTOFF).ok());
  CHECK(f.Describe(id).state().name() == "pending");
  REQUIRE(f.Report(host, id, v1::OBSERVED_STATE_RUNNING).ok());
  CHECK(f.Describe(id).state().name() == "running");

  // A failed start leaves it stopped, with the reason; the disk is kept.
  REQUIRE(f.compute->StopInstances(stop).ok());
  REQUIRE(f.Report(host, id, v1::OBSERVED_STATE_SHUTOFF).ok());
  REQUIRE(f.compute->StartInstances(start).ok());
  REQUIRE(f.Report(host, id, v1::OBSERVED_STATE_FAILED, "qemu died").ok());
  CHECK(f.Describe(id).state().name() == "stopped");
  CHECK(f.Describe(id).state_reason().code() == "Server.InternalError");
  // A start the host's own re-check refuses is a capacity problem, and says so.
  REQUIRE(f.compute->StartInstances(start).ok());
  REQUIRE(f.Report(host, id, v1::OBSERVED_STATE_FAILED, "admission: needs 2 vCPU",
                   v1::BOOT_FAILURE_ADMISSION)
              .ok());
  CHECK(f.Describe(id).state().name() == "stopped");
  CHECK(f.Describe(id).state_reason().code() == "Server.InsufficientInstanceCapacity");
  CHECK_THAT(f.Describe(id).state_reason().message(),
             Catch::Matchers::Contains("the host refused the start: admission: needs 2 vCPU"));

  // Terminated instances can be neither stopped nor started.
  term.set_instance_ids(0, id);
  REQUIRE(f.compute->TerminateInstances(term).ok());
  CHECK(Code(f.compute->StopInstances(stop).status()) == "IncorrectInstanceState");
  CHECK(Code(f.compute->StartInstances(start).status()) == "IncorrectInstanceState");
  stop.set_instance_ids(0, "i-0123456789abcdef0");
  CHECK(Code(f.compute->StopInstances(stop).status()) == "InvalidInstanceID.NotFound");
  stop.set_instance_ids(0, "bogus");
  CHECK(Code(f.compute->StopInstances(stop).status()) == "InvalidInstanceID.Malformed");
}

TEST_CASE("DescribeAvailabilityZones lists zones from the hosts", "[controller][zones]") {
  ControllerFixture f;
  f.AddHost("home-1a");
  f.AddHost("home-1a");
  f.AddHost("home-1b");
  auto z = f.compute->DescribeAvailabilityZones({});
  REQUIRE(z.ok());
  REQUIRE(z->availability_zones_size() == 2);
  CHECK(z->availability_zones(0).zone_name() == "home-1a");
  CHECK(z->availability_zones(0).host_count() == 2);
  CHECK(z->availability_zones(0).state() == "available");
  CHECK(z->availability_zones(0).region_name() == "home-1");
  CHECK(z->availability_zones(1).zone_id() == "home-1-az2");
  // Hosts that stop reporting make their zone unavailable.
  f.clock.Advance(absl::Minutes(1));
  CHECK(f.compute->DescribeAvailabilityZones({})->availability_zones(0).state() == "unavailable");
  v1::DescribeAvailabilityZonesRequest bad;
  bad.add_zone_names("mars-1a");
  CHECK(Code(f.compute->DescribeAvailabilityZones(bad).status()) == "InvalidParameterValue");
}

}  // namespace minicloud

namespace minicloud {

TEST_CASE("a placement group lives in one region", "[controller][placement]") {
  ControllerFixture f;
  f.AddHost("home-1a");  // region home-1, the controller's region
  v1::RegisterHostRequest other;
  other.set_hostname("far");
  other.set_endpoint("agent:2");
  other.mutable_topology()->set_region("lab-2");
  other.mutable_topology()->set_availability_zone("lab-2a");
  other.mutable_topology()->set_rack("rack-9");
  other.mutable_capacity()->set_vcpus(64);
  other.mutable_capacity()->set_memory_mib(262144);
  other.set_accelerator(v1::ACCELERATOR_TCG);
  const std::string far = f.fleet->RegisterHost(other)->host_id();
  const std::string image = f.RegisterImage();
  auto created = f.groups->CreatePlacementGroup(Group("web", "spread"));
  REQUIRE(created.ok());
  CHECK(created->placement_group().region() == "home-1");

  // Without a group any region may take the instance; in the group only home-1 hosts can.
  auto req = f.Run(image);
  req.mutable_placement()->set_group_name("web");
  auto res = f.compute->RunInstances(req);
  REQUIRE(res.ok());
  CHECK(res->instances(0).placement().availability_zone() == "home-1a");
  // The home-1 rack is taken now; the big lab-2 host is in another region, so nothing fits.
  auto refused = f.compute->RunInstances(req);
  REQUIRE(Code(refused.status()) == "InsufficientInstanceCapacity");
  auto why = f.compute->DescribePlacement(req);
  REQUIRE(why.ok());
  CHECK_FALSE(why->would_succeed());
  CHECK(why->error_code() == "InsufficientInstanceCapacity");
  CHECK(why->explanation().find(far) != std::string::npos);
  CHECK(why->explanation().find("region") != std::string::npos);
}

}  // namespace minicloud
