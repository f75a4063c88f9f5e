// A whole cloud in one process for the EC2 Query conformance suite: the controller's real
// services over a real RocksDB store, agents on fake hypervisors over real gRPC, the real SigV4
// verifier over the controller's first access key, and the Query API's HTTP server on a loopback
// port chosen by the kernel. The clients under test (aws CLI v1 and v2, boto3, Terraform) are
// separate processes: the suite (query_conformance_test.py, terraform_test.sh) starts this once,
// reads one JSON line from stdout, and closes stdin to stop it.
//
//   query_cloud [--hosts N] [--stacks fake] [--status-check-grace-seconds N]
//   → {"endpoint": "http://127.0.0.1:PORT", "region": "home-1", "access_key_id": "...",
//      "secret_access_key": "...", "image_id": "ami-...", "actions": ["CreateKeyPair", ...],
//      "cloudformation_actions": ["CreateStack", ...], "stacks": "fake"}
//
// CloudFormation's actions (routed by the credential scope) run over a StackApi: the stack engine
// (StackService over these same services, moved on by the ticker) when the build has it, else or
// with --stacks fake the in-memory one of tests/testing/fake_stack_api.h (stacks complete at once,
// nothing launched). "stacks" in the JSON line says which one answers ("real" or "fake"), so the
// suite knows which cases need the engine.

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <functional>
#include <iostream>
#include <memory>
#include <random>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "controller/query/cfn_actions.h"
#include "controller/service/volume_service.h"
#include "tests/testing/fake_stack_api.h"
#if __has_include("controller/service/stack_service.h")
#include "controller/service/stack_service.h"
#endif
#include "controller/auth/secret_box.h"
#include "controller/volumes/disk_writer.h"
#include "controller/volumes/volume_keys.h"
#include "tests/testing/fake_volume_service.h"
#include "tests/testing/query_endpoint.h"
#include "tests/testing/test_cloud.h"

namespace mc = minicloud;

// The StackApi behind the CloudFormation actions, its kind ("fake" or "real") and what moves
// its stacks on (called by the ticker). The stack engine (StackService, which moves stacks with
// Advance()) answers when it is part of the build; --stacks fake forces the in-memory fake.
struct Stacks {
  std::unique_ptr<mc::controller::StackApi> api;
  std::string kind;
  std::function<void()> advance = [] {};
};

Stacks MakeStacks(mc::testing::ControllerFixture& ctl, mc::controller::VolumeService& volumes,
                  bool force_fake) {
#if __has_include("controller/service/stack_service.h")
  if (!force_fake) {
    auto engine = std::make_unique<mc::controller::StackService>(
        *ctl.state, ctl.clock, ctl.ids, *ctl.compute, *ctl.key_pairs, *ctl.groups, &volumes);
    auto* raw = engine.get();
    return {std::move(engine), "real", [raw] { raw->Advance(); }};
  }
#endif
  (void)ctl;
  (void)volumes;
  (void)force_fake;
  auto fake = std::make_unique<mc::testing::FakeStackApi>();
  fake->page_size = 3;  // so that the clients follow NextToken
  return {std::move(fake), "fake"};
}

int main(int argc, char** argv) {
  // stdout carries the one JSON line; logs go to stderr, warnings and up unless asked for.
  spdlog::set_default_logger(spdlog::stderr_color_mt("query_cloud"));
  spdlog::set_level(std::getenv("MINICLOUD_TEST_LOG") ? spdlog::level::info : spdlog::level::warn);
  int hosts = 2;
  bool fake_stacks = false;
  absl::Duration status_check_grace = mc::controller::ControllerConfig{}.status_check_grace;
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--hosts" && i + 1 < argc) hosts = std::atoi(argv[i + 1]);
    if (std::string(argv[i]) == "--stacks" && i + 1 < argc) {
      fake_stacks = std::string(argv[i + 1]) == "fake";
    }
    if (std::string(argv[i]) == "--status-check-grace-seconds" && i + 1 < argc) {
      status_check_grace = absl::Seconds(std::atoi(argv[i + 1]));
    }
  }
  mc::testing::TestCloud cloud(nullptr, status_check_grace);
  const char* azs[] = {"home-1a", "home-1b", "home-1c"};
  for (int i = 0; i < hosts; ++i) cloud.AddHost(azs[i % 3], absl::StrCat("rack-", i + 1));
  const std::string image = cloud.controller().RegisterImage("conformance-image");
  // A second AMI for DeregisterImage (the Query API cannot upload one).
  const std::string spare = cloud.controller().RegisterImage("conformance-spare");

  // The signing clock is the real one: the clients sign with the machine's time.
  // The key is the controller's first one (AccessKeyService: stored sealed in RocksDB, written
  // to <state>/admin-credentials), as a real controller creates it at its first start.
  auto& ctl = cloud.controller();
  auto verifier = mc::testing::RealClockVerifier(ctl);
  // A key that existed and was deleted: the suite checks it no longer signs anything.
  auto deleted = ctl.access_keys->CreateAccessKey({});
  if (!deleted.ok()) {
    std::cerr << "query_cloud: " << deleted.status() << "\n";
    return 1;
  }
  mc::v1::DeleteAccessKeyRequest del;
  del.set_access_key_id(deleted->access_key().access_key_id());
  if (auto s = ctl.access_keys->DeleteAccessKey(del); !s.ok()) {
    std::cerr << "query_cloud: " << s.status() << "\n";
    return 1;
  }
  // EBS volumes in home-1a through an in-memory volume service: this suite checks what the
  // clients see on the wire; the real minicloud-volumed behind the same seam is covered by
  // integration_volume_wiring_test and e2e:volumes. home-1b has no volume service.
  mc::controller::VolumeFleet volume_fleet;
  volume_fleet.Add("home-1a", std::make_shared<mc::testing::FakeVolumeService>());
  mc::controller::VolumeService volumes(*ctl.state, ctl.clock, ctl.ids, volume_fleet);
  ctl.compute->SetVolumeStates([&volumes] { return volumes.ZoneStates(); });
  // Encrypted volumes (and so hibernation's encrypted roots): a key store as main.cc has one.
  auto volume_box = mc::controller::auth::SecretBox::FromKey(std::string(32, 'q'));
  if (!volume_box.ok()) return 1;
  mc::controller::VolumeKeys volume_keys(*volume_box, mc::controller::auth::RandomBytes);
  volumes.SetVolumeKeys(&volume_keys);
  ctl.fleet->SetVolumeKeys(&volume_keys);
  // EBS-backed AMIs and Ebs mappings over the same in-memory service. The AMI's disk is "written"
  // by a writer that only checks its arguments: the real NBD write (qemu-img) is covered by
  // integration_ebs_root_test.
  struct CheckingDiskWriter : mc::controller::DiskWriter {
    absl::Status WriteQcow2(const std::string& path,
                            const mc::controller::NbdEndpoint& to) override {
      if (path.empty() || to.export_name.empty()) return absl::InvalidArgumentError("no target");
      return absl::OkStatus();
    }
    // Only home-1a has a volume service here: nothing is copied across zones.
    absl::Status CopyExport(const mc::controller::NbdEndpoint&, const mc::controller::NbdEndpoint&,
                            const std::string&) override {
      return absl::UnimplementedError("no copies across zones in this cloud");
    }
  } disk_writer;
  volumes.SetImageSource(ctl.blobs.get(), &disk_writer);
  ctl.images->SetVolumes(&volumes);
  ctl.images->SetCompute(ctl.compute.get());
  ctl.compute->SetEbsHooks(
      {.serves_zone = [&](const std::string& zone) { return volume_fleet.Serves(zone); },
       .launched = [&](const std::vector<std::string>& ids) { volumes.FinishLaunchVolumes(ids); }});
  std::string ebs_image;
  {
    mc::v1::RegisterImageRequest req;
    req.set_name("conformance-ebs");
    auto* m = req.add_block_device_mappings();
    m->set_device_name("/dev/xvda");
    m->mutable_ebs()->set_volume_size(2);
    const std::string file = ctl.dir / "conformance-ebs.qcow2";
    if (std::system(("qemu-img create -q -f qcow2 " + file + " 64M").c_str()) != 0) return 1;
    auto reg = mc::testing::UploadImage(*ctl.images, req, mc::testing::ReadFileBytes(file));
    if (!reg.ok()) {
      std::cerr << "query_cloud: " << reg.status() << "\n";
      return 1;
    }
    ebs_image = reg->image_id();
  }
  Stacks stacks = MakeStacks(ctl, volumes, fake_stacks);
  auto endpoint = mc::testing::QueryEndpoint::Start(ctl, *verifier, std::random_device{}(),
                                                    &volumes, stacks.api.get());
  if (!endpoint.ok()) {
    std::cerr << "query_cloud: " << endpoint.status() << "\n";
    return 1;
  }
  // The services' clock is the fixture's fake one: let it follow real time, so that what the
  // clients wait for with the machine's clock (instance-status-ok after the status-check grace)
  // happens as on a real controller.
  std::atomic<bool> stop{false};
  std::thread ticker([&] {
    for (int tick = 1; !stop; ++tick) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      ctl.clock.Advance(absl::Milliseconds(100));
      // As the controller's reconcile loop: exports retried, detached attachments finished.
      if (tick % 5 == 0) volumes.Reconcile();
      if (tick % 5 == 0) ctl.images->ReconcileImages();  // CreateImage's stop, snapshots, start
      stacks.advance();                                  // as the controller's stack driver
    }
  });
  std::vector<std::string> quoted;
  for (const std::string& a : (*endpoint)->api().ActionNames())
    quoted.push_back(absl::StrCat("\"", a, "\""));
  std::vector<std::string> cfn_actions;
  for (const auto& [name, action] : mc::query::CloudFormationActions()) {
    cfn_actions.push_back(absl::StrCat("\"", name, "\""));
  }
  std::sort(cfn_actions.begin(), cfn_actions.end());
  std::cout << "{\"endpoint\": \"" << (*endpoint)->url()
            << "\", \"region\": \"home-1\", \"access_key_id\": \"" << cloud.admin_key()
            << "\", \"secret_access_key\": \"" << cloud.admin_secret()
            << "\", \"deleted_access_key_id\": \"" << deleted->access_key().access_key_id()
            << "\", \"deleted_secret_access_key\": \"" << deleted->access_key().secret_access_key()
            << "\", \"image_id\": \"" << image << "\", \"spare_image_id\": \"" << spare
            << "\", \"ebs_image_id\": \"" << ebs_image << "\", \"actions\": ["
            << absl::StrJoin(quoted, ", ") << "], \"cloudformation_actions\": ["
            << absl::StrJoin(cfn_actions, ", ") << "], \"stacks\": \"" << stacks.kind << "\"}"
            << std::endl;
  // Until the suite closes our stdin (or dies, which closes it too).
  std::string line;
  while (std::getline(std::cin, line)) {
  }
  endpoint->reset();
  stop = true;
  ticker.join();
  return 0;
}
