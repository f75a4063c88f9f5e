// EBS-backed instances over the real minicloud-volumed (qemu-storage-daemon, NBD): an AMI
// registered with an Ebs root mapping gets its uploaded disk imported as a snapshot of the zone;
// RunInstances makes the root volume as a copy-on-write clone of it (visible in DescribeVolumes,
// attached at /dev/xvda, DeleteOnTermination), the host boots the fake guest from the NBD export
// (the domain's boot disk), Ebs data mappings are made and attached at boot, a stopped instance
// starts on another host of the zone, and termination deletes what DeleteOnTermination says.
// The controller and the agents run in process (TestCloud, fake hypervisors); the volume service
// is the real daemon, and the disk's bytes are written into it over NBD by qemu-img. Skipped
// without qemu-storage-daemon / qemu-img / qemu-io.
#include <catch2/catch.hpp>
#include <chrono>
#include <memory>
#include <string>

#include "common/ec2_error.h"
#include "tests/testing/ebs_test_cloud.h"
#include "tests/testing/image_upload.h"
#include "tests/testing/test_cloud.h"

namespace minicloud {
namespace {

using testing::TestCloud;

constexpr const char* kZone = testing::EbsTestCloud::kZone;

struct Fixture : testing::EbsTestCloud {
  // A 64 MiB qcow2 whose first MiB holds 0x5a and whose last MiB 0xa5, registered with an Ebs
  // root mapping (or as `root_device_type` says without one).
  absl::StatusOr<v1::RegisterImageResponse> Register(const std::string& name, bool ebs,
                                                     const std::string& root_device_type = "") {
    const std::string file = cloud.controller().dir / (name + ".qcow2");
    REQUIRE(testing::Shell("qemu-img create -q -f qcow2 " + file + " 64M"));
    REQUIRE(testing::Shell("qemu-io -f qcow2 -c 'write -P 0x5a 0 1M' -c 'write -P 0xa5 63M 1M' " +
                           file));
    v1::RegisterImageRequest req;
    req.set_name(name);
    req.set_root_device_type(root_device_type);
    if (ebs) {
      v1::BlockDeviceMapping* m = req.add_block_device_mappings();
      m->set_device_name("/dev/xvda");
      m->mutable_ebs()->set_volume_size(1);
    }
    return testing::UploadImage(*cloud.controller().images, req, testing::ReadFileBytes(file));
  }

  // The domain's boot disk on `host`, if it has one.
  std::optional<hypervisor::EbsDisk> BootDisk(TestCloud::Host& host, const std::string& inst) {
    auto spec = host.hypervisor->SpecOf(inst);
    if (!spec) return std::nullopt;
    for (const auto& d : spec->ebs_disks) {
      if (d.boot) return d;
    }
    return std::nullopt;
  }
  // True when the volume reads `pattern` for 1 MiB at `offset_mib` over its NBD export.
  bool ReadsPattern(const std::string& volume_id, const std::string& pattern, int64_t offset_mib) {
    return OnExport(volume_id, "read -P " + pattern + " " + std::to_string(offset_mib) + "M 1M");
  }
  v1::RunInstancesRequest Run(const std::string& image) { return cloud.controller().Run(image); }
};

TEST_CASE("an EBS-backed AMI: its disk becomes a snapshot, DeleteSnapshot refuses it") {
  // Bugs caught: the AMI shown as instance-store or without its mapping; no snapshot made (or an
  // empty one: the pattern would not read back); the snapshot deletable while the AMI uses it;
  // an instance-store AMI refused or shown as EBS.
  Fixture f;
  auto reg = f.Register("ebs-ami", /*ebs=*/true);
  INFO(reg.status().ToString());
  REQUIRE(reg.ok());
  v1::DescribeImagesRequest d;
  d.add_image_ids(reg->image_id());
  auto images = f.cloud.controller().images->DescribeImages(d);
  REQUIRE(images.ok());
  const v1::Image& img = images->images(0);
  CHECK(img.root_device_type() == "ebs");
  REQUIRE(img.block_device_mappings_size() == 1);
  const v1::BlockDeviceMapping& root = img.block_device_mappings(0);
  CHECK(root.device_name() == "/dev/xvda");
  CHECK(root.ebs().volume_size() == 1);
  CHECK(root.ebs().delete_on_termination());
  const std::string snap = root.ebs().snapshot_id();
  REQUIRE(snap.rfind("snap-", 0) == 0);

  v1::DescribeSnapshotsRequest ds;
  ds.add_snapshot_ids(snap);
  auto snaps = f.volumes->DescribeSnapshots(ds);
  REQUIRE(snaps.ok());
  CHECK(snaps->snapshots(0).state() == v1::SNAPSHOT_STATE_COMPLETED);
  CHECK(snaps->snapshots(0).volume_id() == "vol-ffffffff");
  CHECK(snaps->snapshots(0).description().find(reg->image_id()) != std::string::npos);

  v1::DeleteSnapshotRequest del;
  del.set_snapshot_id(snap);
  auto refused = f.volumes->DeleteSnapshot(del);
  REQUIRE_FALSE(refused.ok());
  CHECK(Ec2CodeOf(refused.status()) == "InvalidSnapshot.InUse");

  auto store = f.Register("store-ami", /*ebs=*/false, "instance-store");
  REQUIRE(store.ok());
  v1::DescribeImagesRequest d2;
  d2.add_image_ids(store->image_id());
  CHECK(f.cloud.controller().images->DescribeImages(d2)->images(0).root_device_type() ==
        "instance-store");
}

TEST_CASE("run-instances of an EBS-backed AMI boots from a clone of its snapshot") {
  // Bugs caught: no root volume (or not attached at /dev/xvda, DeleteOnTermination false); a
  // full copy instead of a clone of the AMI's snapshot (snapshot id not recorded); the host
  // booting a local overlay instead of the NBD export; a larger VolumeSize ignored; the Ebs data
  // volume refused, missing at boot or deleted at terminate although DeleteOnTermination=false;
  // the root kept after terminate.
  Fixture f;
  TestCloud::Host& host = f.cloud.AddHost(kZone, "rack-1");
  auto reg = f.Register("ebs-ami", true);
  REQUIRE(reg.ok());
  v1::RunInstancesRequest run = f.Run(reg->image_id());
  auto* root = run.add_block_device_mappings();
  root->set_device_name("/dev/xvda");
  root->mutable_ebs()->set_volume_size(3);
  auto* data = run.add_block_device_mappings();
  data->set_device_name("/dev/sdf");
  data->mutable_ebs()->set_volume_size(2);
  data->mutable_ebs()->set_delete_on_termination(false);
  auto r = f.cloud.controller().compute->RunInstances(run);
  INFO(r.status().ToString());
  REQUIRE(r.ok());
  const std::string inst = r->instances(0).instance_id();
  CHECK(r->instances(0).root_device_type() == "ebs");
  REQUIRE(f.Until([&] { return f.cloud.StateOf(inst) == "running"; }));

  auto vols = f.VolumesOf(inst);
  REQUIRE(vols.size() == 2);
  const v1::Volume rootv = vols.at("/dev/xvda");
  CHECK(rootv.size() == 3);
  CHECK(rootv.snapshot_id().rfind("snap-", 0) == 0);
  CHECK(rootv.attachments(0).delete_on_termination());
  CHECK(vols.at("/dev/sdf").size() == 2);
  CHECK_FALSE(vols.at("/dev/sdf").attachments(0).delete_on_termination());
  REQUIRE(f.Until([&] {
    return f.Volume(rootv.volume_id()).attachments(0).state() == v1::ATTACHMENT_STATE_ATTACHED;
  }));

  auto boot = f.BootDisk(host, inst);
  REQUIRE(boot.has_value());
  CHECK(boot->volume_id == rootv.volume_id());
  CHECK(boot->target_dev == "vda");
  CHECK(boot->iotune.total_iops_sec == 100);  // gp2 at 3 GiB: the 100 IOPS floor
  CHECK(host.hypervisor->SpecOf(inst)->root_disk.empty());
  // The clone reads as the uploaded disk did (over the same NBD export the host uses).
  CHECK(f.ReadsPattern(rootv.volume_id(), "0x5a", 0));
  CHECK(f.ReadsPattern(rootv.volume_id(), "0xa5", 63));

  v1::TerminateInstancesRequest t;
  t.add_instance_ids(inst);
  REQUIRE(f.cloud.controller().compute->TerminateInstances(t).ok());
  REQUIRE(f.Until([&] { return f.cloud.StateOf(inst) == "terminated"; }));
  const std::string data_id = vols.at("/dev/sdf").volume_id();
  REQUIRE(f.Until([&] {
    v1::DescribeVolumesRequest all;
    auto resp = f.volumes->DescribeVolumes(all);
    if (!resp.ok()) return false;
    bool root_left = false, data_available = false;
    for (const auto& v : resp->volumes()) {
      root_left = root_left || v.volume_id() == rootv.volume_id();
      data_available =
          data_available || (v.volume_id() == data_id && v.state() == v1::VOLUME_STATE_AVAILABLE);
    }
    return !root_left && data_available;
  }));
}

TEST_CASE("a launch whose snapshot the volume service lost ends at once with EC2's reason") {
  // Bugs caught: the instance left pending until the launch timeout (10 min) although the
  // daemon refused the clone for good; a reason code other than EC2's
  // Client.InvalidSnapshot.NotFound, or without the volume's cause; the volume that failed not
  // `error` (or kept although DeleteOnTermination); the root (DeleteOnTermination) left on the
  // daemon; the data volume with DeleteOnTermination false deleted with the instance.
  Fixture f;
  f.cloud.AddHost(kZone, "rack-1");
  auto reg = f.Register("ebs-ami", true);
  REQUIRE(reg.ok());
  // A snapshot of a data volume, then gone from the daemon behind the controller's back.
  v1::CreateVolumeRequest cv;
  cv.set_availability_zone(kZone);
  cv.set_size(1);
  auto source = f.volumes->CreateVolume(cv);
  REQUIRE(source.ok());
  v1::CreateSnapshotRequest cs;
  cs.set_volume_id(source->volume_id());
  auto snap = f.volumes->CreateSnapshot(cs);
  REQUIRE(snap.ok());
  REQUIRE(f.Until([&] {
    v1::DescribeSnapshotsRequest ds;
    ds.add_snapshot_ids(snap->snapshot_id());
    auto d = f.volumes->DescribeSnapshots(ds);
    return d.ok() && d->snapshots(0).state() == v1::SNAPSHOT_STATE_COMPLETED;
  }));
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    volume::v1::DeleteSnapshotRequest del;
    del.set_snapshot_id(snap->snapshot_id());
    volume::v1::DeleteSnapshotResponse out;
    REQUIRE(f.daemon->stub().DeleteSnapshot(&ctx, del, &out).ok());
  }

  v1::RunInstancesRequest run = f.Run(reg->image_id());
  auto* sdf = run.add_block_device_mappings();
  sdf->set_device_name("/dev/sdf");
  sdf->mutable_ebs()->set_snapshot_id(snap->snapshot_id());
  sdf->mutable_ebs()->set_delete_on_termination(true);
  auto* sdg = run.add_block_device_mappings();
  sdg->set_device_name("/dev/sdg");
  sdg->mutable_ebs()->set_volume_size(1);
  sdg->mutable_ebs()->set_delete_on_termination(false);
  const auto start = std::chrono::steady_clock::now();
  auto r = f.cloud.controller().compute->RunInstances(run);
  INFO(r.status().ToString());
  REQUIRE(r.ok());
  const std::string inst = r->instances(0).instance_id();
  const auto vols = f.VolumesOf(inst);
  REQUIRE(vols.size() == 3);
  const std::string root = vols.at("/dev/xvda").volume_id();
  const std::string failed = vols.at("/dev/sdf").volume_id();
  const std::string kept = vols.at("/dev/sdg").volume_id();
  CHECK(vols.at("/dev/sdf").state() == v1::VOLUME_STATE_ERROR);

  // The host removes the instance it was waiting to boot: terminated, seconds after the call.
  REQUIRE(f.Until([&] { return f.cloud.StateOf(inst) == "terminated"; }, std::chrono::seconds(15)));
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(15));
  const v1::Instance shown = f.cloud.controller().Describe(inst);
  CHECK(shown.state_reason().code() == "Client.InvalidSnapshot.NotFound");
  CHECK_THAT(shown.state_reason().message(),
             Catch::StartsWith("Client.InvalidSnapshot.NotFound: The specified snapshot was not "
                               "found: volume " +
                               failed + " (/dev/sdf) from " + snap->snapshot_id()));
  CHECK_THAT(shown.state_reason().message(), Catch::Contains("not found"));

  // DeleteOnTermination: the root and the failed volume go; /dev/sdg stays, available, on the
  // daemon.
  REQUIRE(f.Until([&] {
    v1::DescribeVolumesRequest all;
    auto resp = f.volumes->DescribeVolumes(all);
    if (!resp.ok()) return false;
    bool others_left = false, kept_available = false;
    for (const auto& v : resp->volumes()) {
      others_left = others_left || v.volume_id() == root || v.volume_id() == failed;
      kept_available =
          kept_available || (v.volume_id() == kept && v.state() == v1::VOLUME_STATE_AVAILABLE);
    }
    return !others_left && kept_available;
  }));
  CHECK(f.OnExport(kept, "read 0 1M"));
  CHECK_FALSE(f.OnExport(root, "read 0 1M"));
}

TEST_CASE("a stopped EBS-backed instance starts on another host of its zone") {
  // Bugs caught: start kept on the old host (its capacity taken: the start would fail); the new
  // host not booting from the same root volume; the old host still listing the instance.
  Fixture f;
  // One t3.micro (1 GiB) fits host a (1.5 GiB less the 512 MiB reserve).
  TestCloud::Host& a = f.cloud.AddHost(kZone, "rack-1", 8, 1536);
  auto reg = f.Register("ebs-ami", true);
  REQUIRE(reg.ok());
  auto r = f.cloud.controller().compute->RunInstances(f.Run(reg->image_id()));
  REQUIRE(r.ok());
  const std::string inst = r->instances(0).instance_id();
  REQUIRE(f.Until([&] { return f.cloud.StateOf(inst) == "running"; }));
  const std::string root = f.VolumesOf(inst).at("/dev/xvda").volume_id();
  const std::string host_a = r->instances(0).placement().host_id();

  v1::StopInstancesRequest stop;
  stop.add_instance_ids(inst);
  stop.set_force(true);
  REQUIRE(f.cloud.controller().compute->StopInstances(stop).ok());
  REQUIRE(f.Until([&] { return f.cloud.StateOf(inst) == "stopped"; }));
  // Host a is full now; host b joins the zone.
  auto filler = f.cloud.controller().compute->RunInstances(
      f.cloud.controller().Run(f.cloud.controller().RegisterImage("filler")));
  REQUIRE(filler.ok());
  REQUIRE(filler->instances(0).placement().host_id() == host_a);
  TestCloud::Host& b = f.cloud.AddHost(kZone, "rack-2");

  v1::StartInstancesRequest start;
  start.add_instance_ids(inst);
  auto started = f.cloud.controller().compute->StartInstances(start);
  INFO(started.status().ToString());
  REQUIRE(started.ok());
  REQUIRE(f.Until([&] { return f.cloud.StateOf(inst) == "running"; }));
  CHECK(f.cloud.controller().Describe(inst).placement().host_id() != host_a);
  auto boot = f.BootDisk(b, inst);
  REQUIRE(boot.has_value());
  CHECK(boot->volume_id == root);
  CHECK(f.ReadsPattern(root, "0x5a", 0));
  (void)a;
}

TEST_CASE("an instance-store-backed instance cannot stop, a host-local one can") {
  // Bugs caught: an instance-store root stopped (its disk would be lost), or the refusal with
  // another code than EC2's; the default (host-local) AMIs losing their stop.
  Fixture f;
  f.cloud.AddHost(kZone, "rack-1");
  auto store = f.Register("store-ami", false, "instance-store");
  REQUIRE(store.ok());
  auto r = f.cloud.controller().compute->RunInstances(f.Run(store->image_id()));
  REQUIRE(r.ok());
  const std::string inst = r->instances(0).instance_id();
  CHECK(r->instances(0).root_device_type() == "instance-store");
  REQUIRE(f.Until([&] { return f.cloud.StateOf(inst) == "running"; }));
  v1::StopInstancesRequest stop;
  stop.add_instance_ids(inst);
  auto refused = f.cloud.controller().compute->StopInstances(stop);
  REQUIRE_FALSE(refused.ok());
  CHECK(Ec2CodeOf(refused.status()) == "UnsupportedOperation");
  CHECK(f.cloud.StateOf(inst) == "running");

  auto local = f.cloud.controller().compute->RunInstances(
      f.Run(f.cloud.controller().RegisterImage("local")));
  REQUIRE(local.ok());
  const std::string local_id = local->instances(0).instance_id();
  REQUIRE(f.Until([&] { return f.cloud.StateOf(local_id) == "running"; }));
  v1::StopInstancesRequest stop_local;
  stop_local.add_instance_ids(local_id);
  CHECK(f.cloud.controller().compute->StopInstances(stop_local).ok());
}

}  // namespace
}  // namespace minicloud
