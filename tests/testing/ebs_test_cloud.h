#pragma once

// An in-process cloud (TestCloud: controller and agents with fake hypervisors) whose one zone is
// served by a real minicloud-volumed (qemu-storage-daemon, NBD), wired the way the controller's
// main wires it: the VolumeService on the fleet, AMI imports through qemu-img, the EBS launch
// hooks, over mutual TLS. For integration tests of EBS-backed instances and AMIs; the constructor
// skips the test without qemu-storage-daemon, qemu-img or qemu-io.

#include <grpcpp/grpcpp.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "common/process/spawn.h"
#include "controller/service/volume_service.h"
#include "controller/volumes/disk_writer.h"
#include "controller/volumes/grpc_volume_service_client.h"
#include "tests/testing/nbd_io.h"
#include "tests/testing/skip.h"
#include "tests/testing/test_cloud.h"
#include "tests/testing/volumed_process.h"

namespace minicloud::testing {

inline bool HaveProgram(const std::string& name) { return process::ResolveProgram(name).ok(); }

// Runs `cmd` through the shell, output discarded; true when it exits 0.
inline bool Shell(const std::string& cmd) {
  return std::system((cmd + " >/dev/null 2>&1").c_str()) == 0;
}

class EbsTestCloud {
 public:
  static constexpr char kZone[] = "home-1a";

  // `deadline`: the controller's deadline for each call to the volume service.
  explicit EbsTestCloud(absl::Duration deadline = absl::Seconds(30)) {
    MC_SKIP_UNLESS(HaveProgram("qemu-storage-daemon"), "qemu-storage-daemon not found");
    MC_SKIP_UNLESS(HaveProgram("qemu-img") && HaveProgram("qemu-io"),
                   "qemu-img / qemu-io not found");
    // Mutual TLS with files from the cloud's CA, as `deploy/cloud up` and a homelab set it up.
    daemon =
        std::make_unique<VolumedProcess>(daemon_dir / "state", "127.0.0.1:0", "127.0.0.1:0", kZone,
                                         MakeVolumedTls(cloud.ca(), kZone, daemon_dir / "tls"));
    fleet.Add(kZone, controller::MakeGrpcVolumeServiceClient(daemon->client_options(deadline)));
    // The controller's qemu-img with its NBD client certificate (the exports are over TLS).
    writer = controller::QemuImgDiskWriter("qemu-img", daemon->nbd_client_dir());
    auto& ctl = cloud.controller();
    volumes = std::make_unique<controller::VolumeService>(*ctl.state, ctl.clock, ctl.ids, fleet);
    volumes->SetImageSource(ctl.blobs.get(), &writer);
    ctl.images->SetVolumes(volumes.get());
    ctl.images->SetCompute(ctl.compute.get());
    ctl.compute->SetEbsHooks(
        {.serves_zone = [this](const std::string& z) { return fleet.Serves(z); },
         .launched =
             [this](const std::vector<std::string>& ids) { volumes->FinishLaunchVolumes(ids); },
         .zone_copy =
             [this](const v1::SnapshotRecord& snap, const std::string& zone, bool encrypt) {
               return volumes->CheckZoneCopyLocked(snap, zone, encrypt);
             }});
  }

  controller::ImageService& images() { return *cloud.controller().images; }
  controller::ComputeService& compute() { return *cloud.controller().compute; }

  // True once `pred` holds, reconciling volumes and images (what the controller's loops do)
  // before each look.
  bool Until(const std::function<bool()>& pred,
             std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    return TestCloud::Eventually(
        [&] {
          volumes->Reconcile();
          images().ReconcileImages();
          return pred();
        },
        timeout);
  }

  v1::Volume Volume(const std::string& id) {
    v1::DescribeVolumesRequest d;
    d.add_volume_ids(id);
    auto resp = volumes->DescribeVolumes(d);
    REQUIRE(resp.ok());
    return resp->volumes(0);
  }

  // Volumes attached to `instance`, by device name.
  std::map<std::string, v1::Volume> VolumesOf(const std::string& instance) {
    v1::DescribeVolumesRequest d;
    auto* f = d.add_filters();
    f->set_name("attachment.instance-id");
    f->add_values(instance);
    auto resp = volumes->DescribeVolumes(d);
    REQUIRE(resp.ok());
    std::map<std::string, v1::Volume> out;
    for (const auto& v : resp->volumes()) out[v.attachments(0).device()] = v;
    return out;
  }

  // Runs qemu-io `command` on the volume's NBD export (the daemon exports it on request).
  bool OnExport(const std::string& volume_id, const std::string& command) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    volume::v1::ExportVolumeRequest req;
    req.set_volume_id(volume_id);
    volume::v1::NbdExport nbd;
    if (!daemon->stub().ExportVolume(&ctx, req, &nbd).ok()) return false;
    return QemuIo(TargetOf(nbd, daemon->nbd_client_dir()), command);
  }

  TestCloud cloud;
  TempDir daemon_dir;
  std::unique_ptr<VolumedProcess> daemon;
  controller::VolumeFleet fleet;
  std::unique_ptr<controller::VolumeService> volumes;
  controller::QemuImgDiskWriter writer;
};

}  // namespace minicloud::testing
