#pragma once

#include <cstdlib>
#include <map>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/ids.h"
#include "controller/agent_client/agent_client.h"
#include "controller/auth/access_key_service.h"
#include "controller/identity/cloud_identity_signer.h"
#include "controller/scheduler/scheduler.h"
#include "controller/service/cache_blob_store.h"
#include "controller/service/cloud_state.h"
#include "controller/service/compute_service.h"
#include "controller/service/fleet_service.h"
#include "controller/service/image_service.h"
#include "controller/service/key_pair_service.h"
#include "controller/service/placement_group_service.h"
#include "controller/service/tag_service.h"
#include "controller/store/rocksdb_store.h"
#include "tests/testing/image_upload.h"
#include "tests/testing/temp_dir.h"

namespace minicloud::testing {

// Console output served from a map; unknown endpoints are unreachable.
class FakeAgentClient : public controller::AgentClient {
 public:
  absl::StatusOr<std::string> GetConsoleOutput(const controller::AgentAddress& agent,
                                               const std::string& instance_id,
                                               int64_t max_bytes) override {
    auto it = consoles.find(agent.endpoint + "/" + instance_id);
    if (it == consoles.end()) return absl::UnavailableError("connection refused");
    return it->second;
  }
  std::map<std::string, std::string> consoles;  // "endpoint/instance-id" -> output
};

// A controller's services over a real RocksDB store in a temp dir, with a fake clock.
// Reopen() simulates a controller restart on the same state.
struct ControllerFixture {
  TempDir dir;
  FakeClock clock;
  IdGenerator ids{7};
  controller::ControllerConfig config;
  std::unique_ptr<controller::RocksDbStore> store;
  std::unique_ptr<controller::CacheBlobStore> blobs;
  std::unique_ptr<controller::CloudState> state;
  scheduler::SpreadScheduler scheduler;
  FakeAgentClient agents;
  controller::AgentClient* agent_client = &agents;  // what ComputeService dials agents with
  std::unique_ptr<controller::CloudIdentitySigner> signer;
  std::unique_ptr<controller::ComputeService> compute;
  std::unique_ptr<controller::KeyPairService> key_pairs;
  std::unique_ptr<controller::PlacementGroupService> groups;
  std::unique_ptr<controller::ImageService> images;
  std::unique_ptr<controller::FleetService> fleet;
  std::unique_ptr<controller::TagService> tags;
  std::unique_ptr<controller::auth::AccessKeyService> access_keys;

  ControllerFixture() { Reopen(); }

  void Reopen() {
    tags.reset();
    access_keys.reset();
    fleet.reset();
    groups.reset();
    key_pairs.reset();
    images.reset();
    compute.reset();
    state.reset();
    blobs.reset();
    store.reset();
    store = std::move(*controller::RocksDbStore::Open(dir / "db"));
    blobs = std::move(*controller::CacheBlobStore::Open(dir / "blobs"));
    state = std::make_unique<controller::CloudState>(*store, config);
    auto s = state->Load(clock.Now());
    if (!s.ok()) throw std::runtime_error(std::string(s.message()));
    if (!signer)
      signer = std::move(*controller::CloudIdentitySigner::Open(dir / "identity", clock));
    compute =
        std::make_unique<controller::ComputeService>(*state, clock, ids, scheduler, *agent_client);
    key_pairs = std::make_unique<controller::KeyPairService>(*state, clock, ids);
    groups = std::make_unique<controller::PlacementGroupService>(*state, clock, ids);
    images = std::make_unique<controller::ImageService>(*state, clock, ids, *blobs);
    fleet = std::make_unique<controller::FleetService>(*state, clock, ids, *signer);
    tags = std::make_unique<controller::TagService>(*state);
    auto box = controller::auth::SecretBox::LoadOrCreate(dir / "master.key");
    if (!box.ok()) throw std::runtime_error(std::string(box.status().message()));
    access_keys =
        std::make_unique<controller::auth::AccessKeyService>(*store, clock, *std::move(box));
    if (auto s = access_keys->Load(); !s.ok()) throw std::runtime_error(std::string(s.message()));
  }

  // A small qcow2 made by qemu-img, registered as an AMI.
  std::string RegisterImage(const std::string& name = "test-image") {
    std::string file = dir / (name + ".qcow2");
    std::string cmd = absl::StrCat("qemu-img create -q -f qcow2 ", file, " 64M");
    if (std::system(cmd.c_str()) != 0) throw std::runtime_error("qemu-img create failed");
    v1::RegisterImageRequest req;
    req.set_name(name);
    auto resp = UploadImage(*images, req, ReadFileBytes(file));
    if (!resp.ok()) throw std::runtime_error(std::string(resp.status().message()));
    return resp->image_id();
  }

  std::string AddHost(const std::string& az = "home-1a", int vcpus = 4, int64_t mem = 8192) {
    v1::RegisterHostRequest req;
    req.set_hostname("host");
    req.set_endpoint("agent:1");
    req.mutable_topology()->set_region("home-1");
    req.mutable_topology()->set_availability_zone(az);
    req.mutable_topology()->set_rack("rack-1");
    req.mutable_capacity()->set_vcpus(vcpus);
    req.mutable_capacity()->set_memory_mib(mem);
    req.set_accelerator(v1::ACCELERATOR_TCG);
    auto resp = fleet->RegisterHost(req);
    if (!resp.ok()) throw std::runtime_error(std::string(resp.status().message()));
    return resp->host_id();
  }

  v1::RunInstancesRequest Run(const std::string& image, int count = 1) {
    v1::RunInstancesRequest req;
    req.set_image_id(image);
    req.set_instance_type("t3.micro");
    req.set_min_count(count);
    req.set_max_count(count);
    return req;
  }

  v1::Instance Describe(const std::string& id) {
    v1::DescribeInstancesRequest req;
    req.add_instance_ids(id);
    auto resp = compute->DescribeInstances(req);
    if (!resp.ok()) throw std::runtime_error(std::string(resp.status().message()));
    return resp->reservations(0).instances(0);
  }

  absl::Status Report(const std::string& host, const std::string& id, v1::ObservedState s,
                      const std::string& message = "",
                      v1::BootFailure failure = v1::BOOT_FAILURE_UNSPECIFIED) {
    v1::ReportStatusRequest req;
    req.set_host_id(host);
    auto* o = req.add_instances();
    o->set_instance_id(id);
    o->set_state(s);
    o->set_message(message);
    o->set_failure(failure);
    return fleet->ReportStatus(req);
  }
};

}  // namespace minicloud::testing
