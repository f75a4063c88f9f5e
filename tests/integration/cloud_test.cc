// Controller + several agents in one process, over real gRPC, on fake hypervisors.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "common/ec2_error.h"
#include "tests/testing/test_cloud.h"

namespace minicloud {
namespace {

using testing::TestCloud;
namespace fs = std::filesystem;

v1::Reservation Run(TestCloud& cloud, const std::string& image, int count,
                    grpc::Status* status = nullptr) {
  grpc::ClientContext ctx;
  v1::RunInstancesRequest req;
  req.set_image_id(image);
  req.set_instance_type("t3.micro");
  req.set_min_count(count);
  req.set_max_count(count);
  v1::Reservation resp;
  cloud.Sign(ctx, "RunInstances", &req);
  grpc::Status s = cloud.api().RunInstances(&ctx, req, &resp);
  if (status != nullptr) *status = s;
  return resp;
}

grpc::Status Terminate(TestCloud& cloud, const std::string& id) {
  grpc::ClientContext ctx;
  v1::TerminateInstancesRequest req;
  req.add_instance_ids(id);
  v1::TerminateInstancesResponse resp;
  cloud.Sign(ctx, "TerminateInstances", &req);
  return cloud.api().TerminateInstances(&ctx, req, &resp);
}

TestCloud::Host* HostOf(TestCloud& cloud, const std::string& id) {
  for (auto& h : cloud.hosts()) {
    if (h->hypervisor->Get(id).ok()) return h.get();
  }
  return nullptr;
}

}  // namespace

TEST_CASE("instances launch across several agents and terminate cleanly", "[integration]") {
  TestCloud cloud;
  // One RunInstances call lands in one AZ (one subnet), as on EC2; within it, hosts share load.
  cloud.AddHost("home-1a", "rack-1");
  cloud.AddHost("home-1a", "rack-2");
  cloud.AddHost("home-1a", "rack-3");
  const std::string image = cloud.controller().RegisterImage();
  REQUIRE(TestCloud::Eventually(
      [&] { return cloud.controller().compute->DescribeHosts({})->hosts_size() == 3; }));

  grpc::Status status;
  auto res = Run(cloud, image, 6, &status);
  REQUIRE(status.ok());
  REQUIRE(res.instances_size() == 6);
  std::set<std::string> hosts_used;
  for (const auto& i : res.instances()) {
    INFO(i.instance_id());
    REQUIRE(TestCloud::Eventually([&] { return cloud.StateOf(i.instance_id()) == "running"; }));
    auto* host = HostOf(cloud, i.instance_id());
    REQUIRE(host != nullptr);
    hosts_used.insert(host->config.hostname);
    // The root disk is a real qcow2 overlay over the AMI fetched from the controller.
    const std::string root = host->agent->InstanceDir(i.instance_id()).value() + "/root.qcow2";
    REQUIRE(fs::exists(root));
    auto spec = host->hypervisor->SpecOf(i.instance_id());
    REQUIRE(spec.has_value());
    REQUIRE(spec->root_disk == root);
    REQUIRE(spec->smbios_uuid.substr(0, 3) == "ec2");
    REQUIRE(spec->smbios_serial == spec->smbios_uuid);
    REQUIRE(spec->vcpus == 2);
    REQUIRE(spec->memory_mib == 1024);
  }
  REQUIRE(hosts_used.size() == 3);  // spread over every host

  const std::string id = res.instances(0).instance_id();
  auto* host = HostOf(cloud, id);
  REQUIRE(Terminate(cloud, id).ok());
  REQUIRE(TestCloud::Eventually([&] { return cloud.StateOf(id) == "terminated"; }));
  REQUIRE_FALSE(host->hypervisor->Get(id).ok());
  REQUIRE_FALSE(fs::exists(host->agent->InstanceDir(id).value()));
}

TEST_CASE("restarting an agent or the controller neither loses nor reboots guests",
          "[integration]") {
  TestCloud cloud;
  auto& host = cloud.AddHost("home-1a", "rack-1");
  const std::string image = cloud.controller().RegisterImage();
  auto res = Run(cloud, image, 2);
  for (const auto& i : res.instances()) {
    REQUIRE(TestCloud::Eventually([&] { return cloud.StateOf(i.instance_id()) == "running"; }));
  }
  const int creates = host.hypervisor->create_calls();
  const int starts = host.hypervisor->starts();

  cloud.RestartAgent(host);
  cloud.RestartController();
  cloud.RestartAgent(host);
  // Give the restarted pieces time to exchange several rounds of state.
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  for (const auto& i : res.instances()) {
    REQUIRE(cloud.StateOf(i.instance_id()) == "running");
  }
  REQUIRE(host.hypervisor->create_calls() == creates);
  REQUIRE(host.hypervisor->starts() == starts);

  // And the restarted pair still does work: terminate goes through.
  const std::string id = res.instances(0).instance_id();
  REQUIRE(Terminate(cloud, id).ok());
  REQUIRE(TestCloud::Eventually([&] { return cloud.StateOf(id) == "terminated"; }));
}

// Bug: CancelWatches not cancelling the long-poll in flight (the agent's stop then waits out
// the watch: `deploy/cloud down` ended up killing agents), or a Watch after it still blocking.
TEST_CASE("an agent's stop cancels the watch of its desired state in flight", "[integration]") {
  TestCloud cloud;
  auto& host = cloud.AddHost("home-1a", "rack-1");
  v1::WatchDesiredRequest req;
  req.set_host_id(host.agent->host_id());
  auto now = host.link->Watch(req);  // known generation 0: answers at once
  REQUIRE(now.ok());
  req.set_known_generation(now->generation());
  req.set_max_wait_ms(120'000);  // nothing changes: without a cancel, this call takes 2 minutes
  absl::StatusOr<v1::DesiredState> waited = absl::UnknownError("not returned");
  std::thread watcher([&] { waited = host.link->Watch(req); });
  // The call is in flight once the controller holds it; cancel while it waits.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  host.link->CancelWatches();
  watcher.join();
  CHECK(waited.status().code() == absl::StatusCode::kCancelled);
  CHECK(host.link->Watch(req).status().code() == absl::StatusCode::kCancelled);
}

TEST_CASE("a failed domain start leaves nothing behind", "[integration]") {
  TestCloud cloud;
  auto& host = cloud.AddHost("home-1a", "rack-1");
  const std::string image = cloud.controller().RegisterImage();
  host.hypervisor->FailNextCreate(absl::InternalError("qemu: could not open disk"));
  auto res = Run(cloud, image, 1);
  const std::string id = res.instances(0).instance_id();
  REQUIRE(TestCloud::Eventually([&] { return cloud.StateOf(id) == "terminated"; }));
  auto described = cloud.controller().Describe(id);
  REQUIRE(described.state_reason().code() == "Server.InternalError");
  REQUIRE_THAT(described.state_reason().message(),
               Catch::Matchers::Contains("could not open disk"));
  REQUIRE_FALSE(host.hypervisor->Get(id).ok());
  REQUIRE_FALSE(fs::exists(host.agent->InstanceDir(id).value()));
}

TEST_CASE("console output travels from the agent through the controller", "[integration]") {
  TestCloud cloud;
  auto& host = cloud.AddHost("home-1a", "rack-1");
  const std::string image = cloud.controller().RegisterImage();
  const std::string id = Run(cloud, image, 1).instances(0).instance_id();
  REQUIRE(TestCloud::Eventually([&] { return cloud.StateOf(id) == "running"; }));
  std::ofstream(host.agent->InstanceDir(id).value() + "/console.log")
      << std::string(70000, '.') << "\nLinux version 6.1.0\ncloud-init ran\n";
  grpc::ClientContext ctx;
  v1::GetConsoleOutputRequest req;
  req.set_instance_id(id);
  v1::GetConsoleOutputResponse resp;
  cloud.Sign(ctx, "GetConsoleOutput", &req);
  grpc::Status s = cloud.api().GetConsoleOutput(&ctx, req, &resp);
  INFO(s.error_message());
  REQUIRE(s.ok());
  REQUIRE(resp.output().size() == 64 * 1024);  // the last 64 KiB, as EC2
  REQUIRE_THAT(resp.output(), Catch::Matchers::EndsWith("cloud-init ran\n"));
}

TEST_CASE("an unreachable host is not scheduled on", "[integration]") {
  TestCloud cloud;
  auto& host = cloud.AddHost("home-1a", "rack-1");
  const std::string image = cloud.controller().RegisterImage();
  cloud.StopAgent(host);
  cloud.controller().clock.Advance(absl::Minutes(1));
  grpc::Status status;
  Run(cloud, image, 1, &status);
  REQUIRE(status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED);
  REQUIRE(status.error_details() == "InsufficientInstanceCapacity");
  REQUIRE(cloud.controller().compute->DescribeInstances({})->reservations_size() == 0);
}

TEST_CASE("the controller's server refuses requests larger than its limit before any handler",
          "[integration]") {
  TestCloud cloud;  // its server has the controller's limits (ApplyServerLimits)
  cloud.AddHost("home-1a", "rack-1");
  const std::string image = cloud.controller().RegisterImage();
  struct Row {
    const char* name;
    size_t user_data_bytes;
    grpc::StatusCode code;  // what the call answers
    std::string ec2_code;   // the service's own answer, when it got the request
  };
  const Row rows[] = {
      // Under the limit: the service sees it and refuses the user data itself.
      {"3 MiB request reaches the service", 3u << 20, grpc::StatusCode::INVALID_ARGUMENT,
       "InvalidParameterValue"},
      // Over it: gRPC refuses the message; the service never sees it.
      {"5 MiB request is refused by the server", 5u << 20, grpc::StatusCode::RESOURCE_EXHAUSTED,
       ""},
  };
  for (const Row& row : rows) {
    INFO(row.name);
    grpc::ClientContext ctx;
    v1::RunInstancesRequest req;
    req.set_image_id(image);
    req.set_instance_type("t3.micro");
    req.set_min_count(1);
    req.set_max_count(1);
    req.set_user_data(std::string(row.user_data_bytes, 'x'));
    v1::Reservation resp;
    cloud.Sign(ctx, "RunInstances", &req);
    grpc::Status s = cloud.api().RunInstances(&ctx, req, &resp);
    CHECK(s.error_code() == row.code);
    if (!row.ec2_code.empty()) CHECK(s.error_details() == row.ec2_code);
  }
  CHECK(controller::kMaxRequestBytes == 4 << 20);
}

// Would catch: a reboot that never reaches the hypervisor, one repeated by a restarted agent
// (the count not kept next to the disk), one that re-creates the domain or changes its state.
TEST_CASE("RebootInstances reboots the domain once, across an agent restart", "[integration]") {
  TestCloud cloud;
  auto& host = cloud.AddHost("home-1a", "rack-1");
  const std::string image = cloud.controller().RegisterImage();
  const std::string id = Run(cloud, image, 1).instances(0).instance_id();
  REQUIRE(TestCloud::Eventually([&] { return cloud.StateOf(id) == "running"; }));
  const int creates = host.hypervisor->create_calls();

  grpc::ClientContext ctx;
  v1::RebootInstancesRequest req;
  req.add_instance_ids(id);
  v1::RebootInstancesResponse resp;
  cloud.Sign(ctx, "RebootInstances", &req);
  REQUIRE(cloud.api().RebootInstances(&ctx, req, &resp).ok());
  REQUIRE(TestCloud::Eventually([&] { return host.hypervisor->Reboots(id) == 1; }));
  REQUIRE(cloud.StateOf(id) == "running");

  cloud.RestartAgent(host);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  REQUIRE(host.hypervisor->Reboots(id) == 1);
  REQUIRE(host.hypervisor->create_calls() == creates);

  // A stopped instance cannot be rebooted (EC2: IncorrectInstanceState).
  host.hypervisor->SetState(id, hypervisor::DomainState::kShutoff).IgnoreError();
  grpc::ClientContext stop_ctx;
  v1::StopInstancesRequest stop;
  stop.add_instance_ids(id);
  v1::StopInstancesResponse stopped;
  cloud.Sign(stop_ctx, "StopInstances", &stop);
  REQUIRE(cloud.api().StopInstances(&stop_ctx, stop, &stopped).ok());
  REQUIRE(TestCloud::Eventually([&] { return cloud.StateOf(id) == "stopped"; }));
  grpc::ClientContext again;
  cloud.Sign(again, "RebootInstances", &req);
  grpc::Status refused = cloud.api().RebootInstances(&again, req, &resp);
  REQUIRE_FALSE(refused.ok());
  REQUIRE(refused.error_code() == grpc::StatusCode::FAILED_PRECONDITION);
}

// Would catch: a gRPC handler not wired to its service (UNIMPLEMENTED), tags not reaching the
// host's metadata view, or the status call listing a stopped instance by default.
TEST_CASE("tags and instance status over the gRPC API", "[integration]") {
  TestCloud cloud;
  cloud.AddHost("home-1a", "rack-1");
  const std::string image = cloud.controller().RegisterImage();
  const std::string id = Run(cloud, image, 1).instances(0).instance_id();
  REQUIRE(TestCloud::Eventually([&] { return cloud.StateOf(id) == "running"; }));

  grpc::ClientContext c1;
  v1::CreateTagsRequest create;
  create.add_resources(id);
  create.add_resources(image);
  auto* t = create.add_tags();
  t->set_key("Name");
  t->set_value("web");
  v1::CreateTagsResponse created;
  cloud.Sign(c1, "CreateTags", &create);
  REQUIRE(cloud.api().CreateTags(&c1, create, &created).ok());

  grpc::ClientContext c2;
  v1::DescribeTagsRequest describe;
  auto* f = describe.add_filters();
  f->set_name("resource-type");
  f->add_values("instance");
  v1::DescribeTagsResponse tags;
  cloud.Sign(c2, "DescribeTags", &describe);
  REQUIRE(cloud.api().DescribeTags(&c2, describe, &tags).ok());
  REQUIRE(tags.tags_size() == 1);
  REQUIRE(tags.tags(0).resource_id() == id);

  grpc::ClientContext c3;
  v1::DescribeInstancesRequest di;
  auto* tf = di.add_filters();
  tf->set_name("tag:Name");
  tf->add_values("web");
  v1::DescribeInstancesResponse instances;
  cloud.Sign(c3, "DescribeInstances", &di);
  REQUIRE(cloud.api().DescribeInstances(&c3, di, &instances).ok());
  REQUIRE(instances.reservations_size() == 1);

  grpc::ClientContext c4;
  v1::DeleteTagsRequest del;
  del.add_resources(id);
  v1::DeleteTagsResponse deleted;
  cloud.Sign(c4, "DeleteTags", &del);
  REQUIRE(cloud.api().DeleteTags(&c4, del, &deleted).ok());
  grpc::ClientContext c5;
  v1::DescribeInstancesResponse after;
  cloud.Sign(c5, "DescribeInstances", &di);
  REQUIRE(cloud.api().DescribeInstances(&c5, di, &after).ok());
  REQUIRE(after.reservations_size() == 0);

  grpc::ClientContext c6;
  v1::DescribeInstanceStatusRequest sreq;
  v1::DescribeInstanceStatusResponse status;
  cloud.Sign(c6, "DescribeInstanceStatus", &sreq);
  REQUIRE(cloud.api().DescribeInstanceStatus(&c6, sreq, &status).ok());
  REQUIRE(status.instance_statuses_size() == 1);
  REQUIRE(status.instance_statuses(0).system_status().status() == "ok");

  grpc::ClientContext c7;
  v1::DescribeRegionsResponse regions;
  const v1::DescribeRegionsRequest regions_req;
  cloud.Sign(c7, "DescribeRegions", &regions_req);
  REQUIRE(cloud.api().DescribeRegions(&c7, regions_req, &regions).ok());
  REQUIRE(regions.regions_size() == 1);
}

}  // namespace minicloud
