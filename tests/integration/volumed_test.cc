// The real minicloud-volumed binary: started as a process on a temp state directory (gRPC and
// NBD on kernel-chosen loopback ports), driven over gRPC, data checked over NBD with qemu-io,
// then stopped with SIGTERM and started again on the same state. Skipped without
// qemu-storage-daemon / qemu-img / qemu-io.
#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <string>

#include "common/file/file_util.h"
#include "common/process/spawn.h"
#include "minicloud/v1/volume_service.grpc.pb.h"
#include "tests/testing/skip.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/volumed_process.h"

namespace minicloud {
namespace {

namespace v1 = minicloud::volume::v1;

bool Have(const std::string& p) { return process::ResolveProgram(p).ok(); }

using Volumed = testing::VolumedProcess;

bool QemuIo(const std::string& uri, const std::string& command) {
  const std::string cmd = "qemu-io -f raw -c '" + command + "' '" + uri + "' >/dev/null 2>&1";
  return std::system(cmd.c_str()) == 0;
}

template <typename Req, typename Resp, typename Call>
grpc::Status Rpc(Call call, const Req& req, Resp* resp) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  grpc::Status status = call(&ctx, req, resp);
  UNSCOPED_INFO("rpc: " << status.error_code() << " " << status.error_message());
  return status;
}

// Catches: the daemon not serving the backend over gRPC, codes lost at the edge (a bad id not
// INVALID_ARGUMENT, a missing volume not NOT_FOUND), the NBD address in ExportVolume wrong,
// state or exports lost across a stop and start of the binary, a SIGTERM not ending it cleanly,
// a qemu-storage-daemon orphaned by a SIGKILLed volumed blocking the next start.
TEST_CASE("volumed: the daemon binary serves volumes over gRPC and NBD, across a restart") {
  MC_SKIP_UNLESS(Have("qemu-storage-daemon"), "qemu-storage-daemon not found");
  MC_SKIP_UNLESS(Have("qemu-img") && Have("qemu-io"), "qemu-img / qemu-io not found");
  testing::TempDir dir;
  const std::string state = dir / "state";
  std::string nbd_address;
  {
    Volumed d(state, "127.0.0.1:0");
    auto& s = d.stub();
    v1::VolumeServiceStatus status;
    REQUIRE(Rpc([&](auto* c, auto& r, auto* o) { return s.GetVolumeServiceStatus(c, r, o); },
                v1::GetVolumeServiceStatusRequest(), &status)
                .ok());
    CHECK(status.availability_zone() == "test-1b");
    CHECK(status.backend() == "qsd");
    CHECK(status.healthy());

    v1::CreateVolumeRequest create;
    create.set_volume_id("vol-1");
    create.set_size_bytes(32 << 20);
    v1::BackendVolume vol;
    REQUIRE(
        Rpc([&](auto* c, auto& r, auto* o) { return s.CreateVolume(c, r, o); }, create, &vol).ok());
    CHECK(vol.size_bytes() == 32u << 20);

    v1::CreateVolumeRequest bad = create;
    bad.set_volume_id("../etc");
    CHECK(Rpc([&](auto* c, auto& r, auto* o) { return s.CreateVolume(c, r, o); }, bad, &vol)
              .error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    v1::GetVolumeRequest missing;
    missing.set_volume_id("vol-none");
    CHECK(Rpc([&](auto* c, auto& r, auto* o) { return s.GetVolume(c, r, o); }, missing, &vol)
              .error_code() == grpc::StatusCode::NOT_FOUND);

    v1::ExportVolumeRequest exp;
    exp.set_volume_id("vol-1");
    v1::NbdExport nbd;
    REQUIRE(
        Rpc([&](auto* c, auto& r, auto* o) { return s.ExportVolume(c, r, o); }, exp, &nbd).ok());
    CHECK(nbd.export_name() == "vol-1");
    CHECK(nbd.uri() == "nbd://127.0.0.1:" + std::to_string(nbd.port()) + "/vol-1");
    REQUIRE(QemuIo(nbd.uri(), "write -P 0xe1 0 1M"));

    v1::CreateSnapshotRequest snap;
    snap.set_volume_id("vol-1");
    snap.set_snapshot_id("snap-1");
    v1::BackendSnapshot snapshot;
    REQUIRE(
        Rpc([&](auto* c, auto& r, auto* o) { return s.CreateSnapshot(c, r, o); }, snap, &snapshot)
            .ok());
    CHECK(snapshot.stored_bytes() >= 1u << 20);
    REQUIRE(QemuIo(nbd.uri(), "write -P 0xe2 0 1M"));
    // Keep the NBD port for the restart, so the export comes back at the same address.
    nbd_address = "127.0.0.1:" + std::to_string(nbd.port());
    d.Stop();
    CHECK(WIFEXITED(d.exit_status()));
    CHECK(WEXITSTATUS(d.exit_status()) == 0);
  }
  Volumed d(state, nbd_address);
  auto& s = d.stub();
  v1::ListVolumesResponse vols;
  REQUIRE(Rpc([&](auto* c, auto& r, auto* o) { return s.ListVolumes(c, r, o); },
              v1::ListVolumesRequest(), &vols)
              .ok());
  REQUIRE(vols.volumes_size() == 1);
  CHECK(vols.volumes(0).exported());
  // The export is back without being asked, with the bytes written after the snapshot.
  CHECK(QemuIo("nbd://" + nbd_address + "/vol-1", "read -P 0xe2 0 1M"));
  v1::CreateVolumeRequest clone;
  clone.set_volume_id("vol-2");
  clone.set_snapshot_id("snap-1");
  v1::BackendVolume vol2;
  REQUIRE(
      Rpc([&](auto* c, auto& r, auto* o) { return s.CreateVolume(c, r, o); }, clone, &vol2).ok());
  CHECK(vol2.size_bytes() == 32u << 20);
  v1::ExportVolumeRequest exp2;
  exp2.set_volume_id("vol-2");
  v1::NbdExport nbd2;
  REQUIRE(
      Rpc([&](auto* c, auto& r, auto* o) { return s.ExportVolume(c, r, o); }, exp2, &nbd2).ok());
  CHECK(QemuIo(nbd2.uri(), "read -P 0xe1 0 1M"));
  v1::DeleteVolumeRequest del;
  del.set_volume_id("vol-2");
  v1::DeleteVolumeResponse deleted;
  CHECK(Rpc([&](auto* c, auto& r, auto* o) { return s.DeleteVolume(c, r, o); }, del, &deleted)
            .error_code() == grpc::StatusCode::FAILED_PRECONDITION);
  REQUIRE(QemuIo(nbd2.uri(), "write -P 0xe3 1M 1M"));

  // Killed outright, it leaves its qemu-storage-daemon behind; the next start ends that one
  // (it holds the files' locks and the NBD port) and serves everything again.
  d.Stop(SIGKILL);
  Volumed again(state, nbd_address);
  v1::ListSnapshotsResponse snaps;
  REQUIRE(Rpc([&](auto* c, auto& r, auto* o) { return again.stub().ListSnapshots(c, r, o); },
              v1::ListSnapshotsRequest(), &snaps)
              .ok());
  REQUIRE(snaps.snapshots_size() == 1);
  CHECK(snaps.snapshots(0).snapshot_id() == "snap-1");
  CHECK(QemuIo(nbd2.uri(), "read -P 0xe1 0 1M"));
  CHECK(QemuIo(nbd2.uri(), "read -P 0xe3 1M 1M"));
  CHECK(QemuIo("nbd://" + nbd_address + "/vol-1", "read -P 0xe2 0 1M"));
}

}  // namespace
}  // namespace minicloud
