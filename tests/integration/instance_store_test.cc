// Instance store through the whole stack on fake hypervisors: RunInstances with an instance-store
// type (and a block device mapping), the desired state, the agent's sparse files, the domain
// spec, and their lifetime across reboot, stop/start and terminate.
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "common/ec2_error.h"
#include "tests/testing/test_cloud.h"

namespace minicloud {
namespace {

using testing::TestCloud;
namespace fs = std::filesystem;

template <typename Req, typename Resp>
grpc::Status Call(TestCloud& cloud, const char* action,
                  grpc::Status (v1::ComputeService::Stub::*method)(grpc::ClientContext*, const Req&,
                                                                   Resp*),
                  const Req& req, Resp* resp) {
  grpc::ClientContext ctx;
  cloud.Sign(ctx, action, &req);
  return (cloud.api().*method)(&ctx, req, resp);
}

v1::RunInstancesRequest RunRequest(const std::string& image, const std::string& type) {
  v1::RunInstancesRequest req;
  req.set_image_id(image);
  req.set_instance_type(type);
  req.set_min_count(1);
  req.set_max_count(1);
  return req;
}

// Bytes the file really occupies on disk (sparse files: far below its size).
int64_t Allocated(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<int64_t>(st.st_blocks) * 512 : -1;
}

void Scribble(const std::string& path) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.write("guest data", 10);
}

std::string Head(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::string s(10, '\0');
  f.read(s.data(), 10);
  return s;
}

}  // namespace

// Would catch: the type's volumes not reaching the desired state (no file, no disk in the
// spec), a file that is not sparse or has the wrong size, a reboot that recreates the volume
// (data gone), an agent restart that empties a running guest's volume, a stop that keeps it (data
// still there after start), a terminate that leaves it.
TEST_CASE(
    "instance store: created sparse at boot, kept on reboot, emptied by stop, gone on "
    "terminate",
    "[integration]") {
  TestCloud cloud;
  auto& host = cloud.AddHost("home-1a", "rack-1", 64, 262144, /*instance_store_gb=*/800);
  const std::string image = cloud.controller().RegisterImage();
  v1::Reservation res;
  // m5d.4xlarge: 2 x 300 GB (instance_types.cc).
  REQUIRE(Call(cloud, "RunInstances", &v1::ComputeService::Stub::RunInstances,
               RunRequest(image, "m5d.4xlarge"), &res)
              .ok());
  const std::string id = res.instances(0).instance_id();
  REQUIRE(TestCloud::Eventually([&] { return cloud.StateOf(id) == "running"; }));
  const std::string dir = host.agent->InstanceDir(id).value();
  const std::string e0 = dir + "/ephemeral0.img", e1 = dir + "/ephemeral1.img";
  REQUIRE(fs::file_size(e0) == int64_t{300} << 30);
  REQUIRE(fs::file_size(e1) == int64_t{300} << 30);
  CHECK(Allocated(e0) < (int64_t{1} << 20));  // sparse
  auto spec = host.hypervisor->SpecOf(id);
  REQUIRE(spec.has_value());
  REQUIRE(spec->instance_store.size() == 2);
  CHECK(spec->instance_store[0].path == e0);
  CHECK(spec->instance_store[0].target_dev == "vdb");
  CHECK(spec->instance_store[0].serial == "ephemeral0");
  CHECK(spec->instance_store[1].target_dev == "vdc");
  CHECK(spec->instance_store[1].serial == "ephemeral1");

  // Reboot: the volume keeps what the guest wrote.
  Scribble(e0);
  v1::RebootInstancesRequest reboot;
  reboot.add_instance_ids(id);
  v1::RebootInstancesResponse rebooted;
  REQUIRE(
      Call(cloud, "RebootInstances", &v1::ComputeService::Stub::RebootInstances, reboot, &rebooted)
          .ok());
  REQUIRE(TestCloud::Eventually([&] { return host.hypervisor->Reboots(id) == 1; }));
  CHECK(Head(e0) == "guest data");

  // An agent restarted while the domain runs adopts it and leaves its volumes alone.
  cloud.RestartAgent(host);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  CHECK(cloud.StateOf(id) == "running");
  CHECK(Head(e0) == "guest data");

  // Stop: the files go; start: they come back empty.
  v1::StopInstancesRequest stop;
  stop.add_instance_ids(id);
  v1::StopInstancesResponse stopped;
  REQUIRE(
      Call(cloud, "StopInstances", &v1::ComputeService::Stub::StopInstances, stop, &stopped).ok());
  REQUIRE(TestCloud::Eventually([&] { return cloud.StateOf(id) == "stopped"; }));
  CHECK_FALSE(fs::exists(e0));
  CHECK_FALSE(fs::exists(e1));
  CHECK(fs::exists(dir + "/root.qcow2"));  // the root disk stays
  v1::StartInstancesRequest start;
  start.add_instance_ids(id);
  v1::StartInstancesResponse started;
  REQUIRE(Call(cloud, "StartInstances", &v1::ComputeService::Stub::StartInstances, start, &started)
              .ok());
  REQUIRE(TestCloud::Eventually([&] { return cloud.StateOf(id) == "running"; }));
  REQUIRE(fs::exists(e0));
  CHECK(Head(e0) == std::string(10, '\0'));
  CHECK(fs::file_size(e0) == int64_t{300} << 30);

  v1::TerminateInstancesRequest term;
  term.add_instance_ids(id);
  v1::TerminateInstancesResponse terminated;
  REQUIRE(Call(cloud, "TerminateInstances", &v1::ComputeService::Stub::TerminateInstances, term,
               &terminated)
              .ok());
  REQUIRE(TestCloud::Eventually([&] { return cloud.StateOf(id) == "terminated"; }));
  CHECK_FALSE(fs::exists(e0));
  CHECK_FALSE(fs::exists(dir));
}

// Would catch: a mapping's device name not reaching the guest's disk (target), NoDevice not
// removing the volume, or an instance without instance store getting files anyway.
TEST_CASE("instance store: the block device mapping chooses names and removes volumes",
          "[integration]") {
  TestCloud cloud;
  auto& host = cloud.AddHost("home-1a", "rack-1", 64, 262144, /*instance_store_gb=*/800);
  const std::string image = cloud.controller().RegisterImage();

  v1::RunInstancesRequest req = RunRequest(image, "m5d.4xlarge");
  auto* m = req.add_block_device_mappings();
  m->set_device_name("/dev/sdc");
  m->set_virtual_name("ephemeral0");
  auto* gone = req.add_block_device_mappings();
  gone->set_device_name("/dev/sdb");  // where ephemeral1 would go
  gone->set_no_device(true);
  v1::Reservation res;
  REQUIRE(Call(cloud, "RunInstances", &v1::ComputeService::Stub::RunInstances, req, &res).ok());
  const std::string id = res.instances(0).instance_id();
  REQUIRE(TestCloud::Eventually([&] { return cloud.StateOf(id) == "running"; }));
  auto spec = host.hypervisor->SpecOf(id);
  REQUIRE(spec.has_value());
  REQUIRE(spec->instance_store.size() == 1);
  CHECK(spec->instance_store[0].serial == "ephemeral0");
  CHECK(spec->instance_store[0].target_dev == "vdc");
  const std::string dir = host.agent->InstanceDir(id).value();
  CHECK_FALSE(fs::exists(dir + "/ephemeral1.img"));

  v1::Reservation plain;
  REQUIRE(Call(cloud, "RunInstances", &v1::ComputeService::Stub::RunInstances,
               RunRequest(image, "t3.micro"), &plain)
              .ok());
  const std::string plain_id = plain.instances(0).instance_id();
  REQUIRE(TestCloud::Eventually([&] { return cloud.StateOf(plain_id) == "running"; }));
  CHECK(host.hypervisor->SpecOf(plain_id)->instance_store.empty());
  CHECK_FALSE(fs::exists(host.agent->InstanceDir(plain_id).value() + "/ephemeral0.img"));

  // A malformed mapping is refused with EC2's code and launches nothing.
  v1::RunInstancesRequest bad = RunRequest(image, "m5d.large");
  auto* b = bad.add_block_device_mappings();
  b->set_device_name("/dev/sdb");
  b->set_virtual_name("ephemeralX");
  v1::Reservation none;
  grpc::Status refused =
      Call(cloud, "RunInstances", &v1::ComputeService::Stub::RunInstances, bad, &none);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error_details() == "InvalidParameterValue");
}

}  // namespace minicloud
