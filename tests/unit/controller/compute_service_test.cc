#include <catch2/catch.hpp>
#include <fstream>

#include "common/ec2_error.h"
#include "controller/service/instance_types.h"
#include "tests/testing/controller_fixture.h"

namespace minicloud::controller {
namespace {

using testing::ControllerFixture;

std::string CodeOf(const absl::Status& s) { return Ec2CodeOf(s); }

}  // namespace

TEST_CASE("instance type catalog matches AWS sizes", "[catalog]") {
  struct Case {
    const char* name;
    int vcpus;
    int64_t mib;
  };
  const Case cases[] = {{"t3.nano", 2, 512},    {"t3.micro", 2, 1024},   {"t3.small", 2, 2048},
                        {"t3.medium", 2, 4096}, {"t3.large", 2, 8192},   {"t3.xlarge", 4, 16384},
                        {"m5.large", 2, 8192},  {"m5.xlarge", 4, 16384}, {"m5.2xlarge", 8, 32768},
                        {"c5.large", 2, 4096},  {"r5.large", 2, 16384}};
  for (const auto& c : cases) {
    INFO(c.name);
    auto t = FindInstanceType(c.name);
    REQUIRE(t.has_value());
    REQUIRE(t->vcpus == c.vcpus);
    REQUIRE(t->memory_mib == c.mib);
  }
  REQUIRE_FALSE(FindInstanceType("t3.huge").has_value());
}

TEST_CASE("RunInstances rejects bad input with EC2 codes and stores nothing", "[compute]") {
  ControllerFixture f;
  const std::string image = f.RegisterImage();
  f.AddHost();
  struct Case {
    std::string name;
    std::function<void(v1::RunInstancesRequest&)> edit;
    std::string code;
  };
  const std::vector<Case> cases = {
      {"unknown image", [](auto& r) { r.set_image_id("ami-0123456789abcdef0"); },
       "InvalidAMIID.NotFound"},
      {"malformed image id", [](auto& r) { r.set_image_id("image-1"); }, "InvalidAMIID.Malformed"},
      {"missing image id", [](auto& r) { r.clear_image_id(); }, "MissingParameter"},
      {"unknown type", [](auto& r) { r.set_instance_type("t9.mega"); }, "InvalidParameterValue"},
      {"zero count",
       [](auto& r) {
         r.set_min_count(0);
         r.set_max_count(0);
       },
       "InvalidParameterValue"},
      {"negative count",
       [](auto& r) {
         r.set_min_count(-1);
         r.set_max_count(-1);
       },
       "InvalidParameterValue"},
      {"max below min",
       [](auto& r) {
         r.set_min_count(3);
         r.set_max_count(2);
       },
       "InvalidParameterValue"},
      {"user data too big", [](auto& r) { r.set_user_data(std::string(16385, 'x')); },
       "InvalidParameterValue"},
      {"too many for capacity",
       [](auto& r) {
         r.set_min_count(50);
         r.set_max_count(50);
       },
       "InsufficientInstanceCapacity"},
      {"long client token", [](auto& r) { r.set_client_token(std::string(65, 'a')); },
       "InvalidParameterValue"},
      {"dry run", [](auto& r) { r.set_dry_run(true); }, "DryRunOperation"},
  };
  for (const auto& c : cases) {
    SECTION(c.name) {
      auto req = f.Run(image);
      c.edit(req);
      auto resp = f.compute->RunInstances(req);
      REQUIRE_FALSE(resp.ok());
      REQUIRE(CodeOf(resp.status()) == c.code);
      auto all = f.compute->DescribeInstances({});
      REQUIRE(all.ok());
      REQUIRE(all->reservations_size() == 0);
    }
  }
}

TEST_CASE("RunInstances holds MinCount and MaxCount to the per-call instance limit", "[compute]") {
  struct Row {
    int min_count, max_count;
    int launched;      // 0: refused
    std::string code;  // when refused
  };
  const Row rows[] = {
      {1, 3, 3, ""},
      {3, 3, 3, ""},
      {1, 5, 3, ""},  // MaxCount above the limit: cut to it
      {2, 0, 2, ""},  // no MaxCount: MinCount
      {4, 0, 0, "InstanceLimitExceeded"},
      {4, 4, 0, "InstanceLimitExceeded"},
      {4, 9, 0, "InstanceLimitExceeded"},
  };
  for (const Row& row : rows) {
    INFO(row.min_count << ":" << row.max_count);
    ControllerFixture f;
    f.config.max_instances_per_call = 3;
    f.Reopen();
    const std::string image = f.RegisterImage();
    f.AddHost("home-1a", 16, 32768);
    auto req = f.Run(image);
    req.set_min_count(row.min_count);
    req.set_max_count(row.max_count);
    auto resp = f.compute->RunInstances(req);
    auto all = f.compute->DescribeInstances({});
    REQUIRE(all.ok());
    if (row.launched == 0) {
      REQUIRE_FALSE(resp.ok());
      CHECK(CodeOf(resp.status()) == row.code);
      CHECK(all->reservations_size() == 0);
    } else {
      REQUIRE(resp.ok());
      CHECK(resp->instances_size() == row.launched);
      REQUIRE(all->reservations_size() == 1);
      CHECK(all->reservations(0).instances_size() == row.launched);
    }
  }
  SECTION("the default limit is 1,000 per call") {
    ControllerFixture f;
    CHECK(f.config.max_instances_per_call == 1000);
    const std::string image = f.RegisterImage();
    f.AddHost();
    auto req = f.Run(image, 1001);
    auto resp = f.compute->RunInstances(req);
    REQUIRE_FALSE(resp.ok());
    CHECK(CodeOf(resp.status()) == "InstanceLimitExceeded");
  }
}

TEST_CASE("user data of exactly 16384 bytes is accepted", "[compute]") {
  ControllerFixture f;
  const std::string image = f.RegisterImage();
  f.AddHost();
  auto req = f.Run(image);
  req.set_user_data(std::string(16384, 'x'));
  REQUIRE(f.compute->RunInstances(req).ok());
}

TEST_CASE("RunInstances with no reachable host is InsufficientInstanceCapacity", "[compute]") {
  ControllerFixture f;
  const std::string image = f.RegisterImage();
  f.AddHost();
  f.clock.Advance(absl::Minutes(1));  // the host stops reporting
  auto resp = f.compute->RunInstances(f.Run(image));
  REQUIRE(CodeOf(resp.status()) == "InsufficientInstanceCapacity");
  REQUIRE_THAT(std::string(resp.status().message()), Catch::Matchers::Contains("unreachable"));
}

TEST_CASE("instance lifecycle: pending, running, shutting-down, terminated", "[compute]") {
  ControllerFixture f;
  const std::string image = f.RegisterImage();
  const std::string host = f.AddHost();
  auto res = f.compute->RunInstances(f.Run(image, 3));
  REQUIRE(res.ok());
  REQUIRE(IsValidId(res->reservation_id(), "r"));
  REQUIRE(res->instances_size() == 3);
  for (int i = 0; i < 3; ++i) {
    REQUIRE(IsValidId(res->instances(i).instance_id(), "i"));
    REQUIRE(res->instances(i).ami_launch_index() == i);
    REQUIRE(res->instances(i).state().code() == 0);
    REQUIRE(res->instances(i).state().name() == "pending");
  }
  const std::string id = res->instances(0).instance_id();

  // The agent sees the instance in its desired state.
  v1::WatchDesiredRequest watch;
  watch.set_host_id(host);
  auto desired = f.fleet->WatchDesired(watch);
  REQUIRE(desired.ok());
  REQUIRE(desired->instances_size() == 3);
  REQUIRE(desired->instances(0).smbios_uuid().substr(0, 3) == "ec2");

  REQUIRE(f.Report(host, id, v1::OBSERVED_STATE_RUNNING).ok());
  REQUIRE(f.Describe(id).state().code() == 16);

  v1::TerminateInstancesRequest term;
  term.add_instance_ids(id);
  auto t = f.compute->TerminateInstances(term);
  REQUIRE(t.ok());
  REQUIRE(t->terminating_instances(0).previous_state().name() == "running");
  REQUIRE(t->terminating_instances(0).current_state().name() == "shutting-down");
  REQUIRE(t->terminating_instances(0).current_state().code() == 32);

  REQUIRE(f.Report(host, id, v1::OBSERVED_STATE_ABSENT).ok());
  REQUIRE(f.Describe(id).state().code() == 48);

  // Terminating again is harmless and reports terminated -> terminated.
  auto again = f.compute->TerminateInstances(term);
  REQUIRE(again->terminating_instances(0).previous_state().name() == "terminated");

  // Terminated instances disappear after about an hour.
  f.clock.Advance(absl::Minutes(61));
  f.AddHost();  // keep some host alive; irrelevant to the purge
  REQUIRE(f.fleet->Reconcile().ok());
  v1::DescribeInstancesRequest d;
  d.add_instance_ids(id);
  REQUIRE(CodeOf(f.compute->DescribeInstances(d).status()) == "InvalidInstanceID.NotFound");
}

TEST_CASE("a failed launch ends terminated with Server.InternalError", "[compute]") {
  ControllerFixture f;
  const std::string image = f.RegisterImage();
  const std::string host = f.AddHost();
  auto res = f.compute->RunInstances(f.Run(image));
  const std::string id = res->instances(0).instance_id();
  REQUIRE(f.Report(host, id, v1::OBSERVED_STATE_FAILED, "disk full").ok());
  auto i = f.Describe(id);
  REQUIRE(i.state().name() == "shutting-down");
  REQUIRE(i.state_reason().code() == "Server.InternalError");
  REQUIRE_THAT(i.state_reason().message(), Catch::Matchers::Contains("disk full"));
  REQUIRE(f.Report(host, id, v1::OBSERVED_STATE_ABSENT).ok());
  REQUIRE(f.Describe(id).state().name() == "terminated");
}

TEST_CASE("a launch the host refuses is told apart by the report's typed kind", "[compute]") {
  ControllerFixture f;
  const std::string image = f.RegisterImage();
  const std::string host = f.AddHost();
  const std::string refused = f.compute->RunInstances(f.Run(image))->instances(0).instance_id();
  const std::string failed = f.compute->RunInstances(f.Run(image))->instances(0).instance_id();
  REQUIRE(f.Report(host, refused, v1::OBSERVED_STATE_FAILED, "no room on this host",
                   v1::BOOT_FAILURE_ADMISSION)
              .ok());
  // The message text plays no part: a boot error whose text looks like a refusal stays one.
  REQUIRE(f.Report(host, failed, v1::OBSERVED_STATE_FAILED, "admission: disk full",
                   v1::BOOT_FAILURE_ERROR)
              .ok());
  const v1::Instance r = f.Describe(refused);
  CHECK(r.state().name() == "shutting-down");
  CHECK(r.state_reason().code() == "Server.InsufficientInstanceCapacity");
  CHECK(r.state_reason().message() ==
        "Server.InsufficientInstanceCapacity: the host refused the launch: no room on this host");
  CHECK(f.Describe(failed).state_reason().code() == "Server.InternalError");
}

TEST_CASE("a launch that never starts times out", "[compute]") {
  ControllerFixture f;
  const std::string image = f.RegisterImage();
  f.AddHost();
  auto res = f.compute->RunInstances(f.Run(image));
  const std::string id = res->instances(0).instance_id();
  f.clock.Advance(absl::Minutes(11));
  REQUIRE(f.fleet->Reconcile().ok());
  REQUIRE(f.Describe(id).state().name() == "shutting-down");
  REQUIRE(f.Describe(id).state_reason().code() == "Server.InternalError");
}

TEST_CASE("an instance powered off from inside is stopped", "[compute]") {
  ControllerFixture f;
  const std::string image = f.RegisterImage();
  const std::string host = f.AddHost();
  const std::string id = f.compute->RunInstances(f.Run(image))->instances(0).instance_id();
  REQUIRE(f.Report(host, id, v1::OBSERVED_STATE_RUNNING).ok());
  REQUIRE(f.Report(host, id, v1::OBSERVED_STATE_SHUTOFF).ok());
  REQUIRE(f.Describe(id).state().code() == 80);
  REQUIRE(f.Describe(id).state_reason().code() == "Client.InstanceInitiatedShutdown");
}

TEST_CASE("reports from the wrong host or for unknown hosts change nothing", "[compute]") {
  ControllerFixture f;
  const std::string image = f.RegisterImage();
  const std::string host = f.AddHost();
  const std::string other = f.AddHost("home-1b");
  auto req = f.Run(image);
  req.mutable_placement()->set_availability_zone("home-1a");
  const std::string id = f.compute->RunInstances(req)->instances(0).instance_id();
  REQUIRE(f.Report(other, id, v1::OBSERVED_STATE_RUNNING).ok());
  REQUIRE(f.Describe(id).state().name() == "pending");
  REQUIRE(f.Report("h-0123456789abcdef0", id, v1::OBSERVED_STATE_RUNNING).code() ==
          absl::StatusCode::kNotFound);
  REQUIRE(f.Describe(id).state().name() == "pending");
}

TEST_CASE("ClientToken makes RunInstances idempotent", "[compute]") {
  ControllerFixture f;
  const std::string image = f.RegisterImage();
  f.AddHost();
  auto req = f.Run(image);
  req.set_client_token("token-1");
  auto a = f.compute->RunInstances(req);
  auto b = f.compute->RunInstances(req);
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  REQUIRE(a->reservation_id() == b->reservation_id());
  REQUIRE(a->instances(0).instance_id() == b->instances(0).instance_id());
  req.set_instance_type("t3.small");
  REQUIRE(CodeOf(f.compute->RunInstances(req).status()) == "IdempotentParameterMismatch");
}

TEST_CASE("DescribeInstances filters and errors", "[compute]") {
  ControllerFixture f;
  const std::string image = f.RegisterImage();
  const std::string host = f.AddHost();
  auto r1 = f.compute->RunInstances(f.Run(image, 2));
  auto small = f.Run(image);
  small.set_instance_type("t3.small");
  auto r2 = f.compute->RunInstances(small);
  REQUIRE(f.Report(host, r1->instances(0).instance_id(), v1::OBSERVED_STATE_RUNNING).ok());

  auto count = [&](std::vector<std::pair<std::string, std::vector<std::string>>> filters) {
    v1::DescribeInstancesRequest req;
    for (auto& [name, values] : filters) {
      auto* fl = req.add_filters();
      fl->set_name(name);
      for (auto& v : values) fl->add_values(v);
    }
    auto resp = f.compute->DescribeInstances(req);
    REQUIRE(resp.ok());
    int n = 0;
    for (const auto& r : resp->reservations()) n += r.instances_size();
    return n;
  };
  REQUIRE(count({}) == 3);
  REQUIRE(count({{"instance-state-name", {"running"}}}) == 1);
  REQUIRE(count({{"instance-state-name", {"running", "pending"}}}) == 3);
  REQUIRE(count({{"instance-state-code", {"0"}}}) == 2);
  REQUIRE(count({{"instance-type", {"t3.s*"}}}) == 1);
  REQUIRE(count({{"instance-type", {"t3.micro"}}, {"instance-state-name", {"pending"}}}) == 1);
  REQUIRE(count({{"reservation-id", {r2->reservation_id()}}}) == 1);
  REQUIRE(count({{"availability-zone", {"home-1?"}}}) == 3);
  REQUIRE(count({{"private-ip-address", {"172.31.0.4"}}}) == 1);
  REQUIRE(count({{"private-ip-address", {"172.31.0.*"}}}) == 3);

  v1::DescribeInstancesRequest bad;
  bad.add_filters()->set_name("colour");
  REQUIRE(CodeOf(f.compute->DescribeInstances(bad).status()) == "InvalidParameterValue");
  v1::DescribeInstancesRequest unknown;
  unknown.add_instance_ids("i-0123456789abcdef0");
  REQUIRE(CodeOf(f.compute->DescribeInstances(unknown).status()) == "InvalidInstanceID.NotFound");
  v1::DescribeInstancesRequest malformed;
  malformed.add_instance_ids("i-xyz");
  REQUIRE(CodeOf(f.compute->DescribeInstances(malformed).status()) ==
          "InvalidInstanceID.Malformed");
}

TEST_CASE("TerminateInstances with one unknown id changes nothing", "[compute]") {
  ControllerFixture f;
  const std::string image = f.RegisterImage();
  f.AddHost();
  const std::string id = f.compute->RunInstances(f.Run(image))->instances(0).instance_id();
  v1::TerminateInstancesRequest req;
  req.add_instance_ids(id);
  req.add_instance_ids("i-0123456789abcdef0");
  REQUIRE(CodeOf(f.compute->TerminateInstances(req).status()) == "InvalidInstanceID.NotFound");
  REQUIRE(f.Describe(id).state().name() == "pending");
}

TEST_CASE("state survives a controller restart", "[compute]") {
  ControllerFixture f;
  const std::string image = f.RegisterImage();
  const std::string host = f.AddHost();
  const std::string id = f.compute->RunInstances(f.Run(image))->instances(0).instance_id();
  REQUIRE(f.Report(host, id, v1::OBSERVED_STATE_RUNNING).ok());
  f.Reopen();
  REQUIRE(f.Describe(id).state().name() == "running");
  v1::DescribeImagesRequest di;
  REQUIRE(f.images->DescribeImages(di)->images_size() == 1);
  // The host keeps a full liveness window after the restart and can be scheduled on.
  REQUIRE(f.compute->RunInstances(f.Run(image)).ok());
}

TEST_CASE("GetConsoleOutput asks the instance's host", "[compute]") {
  ControllerFixture f;
  const std::string image = f.RegisterImage();
  f.AddHost();
  const std::string id = f.compute->RunInstances(f.Run(image))->instances(0).instance_id();
  v1::GetConsoleOutputRequest req;
  req.set_instance_id(id);
  auto unreachable = f.compute->GetConsoleOutput(req);
  REQUIRE(CodeOf(unreachable.status()) == "Unavailable");
  f.agents.consoles["agent:1/" + id] = "Linux version 6.1\n";
  auto out = f.compute->GetConsoleOutput(req);
  REQUIRE(out.ok());
  REQUIRE(out->output() == "Linux version 6.1\n");
}

TEST_CASE("RunInstances answers when its commit became durable, Describe leaves it 0",
          "[compute]") {
  ControllerFixture f;
  const std::string image = f.RegisterImage();
  f.AddHost();
  auto res = f.compute->RunInstances(f.Run(image, 2));
  REQUIRE(res.ok());
  for (const auto& i : res->instances()) {
    REQUIRE(i.launch_steps().committed_ms() != 0);
    REQUIRE(i.launch_steps().committed_ms() >= i.launch_steps().requested_ms());
  }
  v1::DescribeInstancesRequest d;
  d.add_instance_ids(res->instances(0).instance_id());
  auto desc = f.compute->DescribeInstances(d);
  REQUIRE(desc.ok());
  REQUIRE(desc->reservations(0).instances(0).launch_steps().committed_ms() == 0);
  REQUIRE(desc->reservations(0).instances(0).launch_steps().requested_ms() ==
          res->instances(0).launch_steps().requested_ms());
}

}  // namespace minicloud::controller
