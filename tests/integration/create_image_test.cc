// AMIs baked from instances (CreateImage), registered from a snapshot (RegisterImage with a root
// SnapshotId) and copied (CopyImage), over the real minicloud-volumed (qemu-storage-daemon, NBD):
// known bytes are written into an instance's root through its NBD export, the AMI is baked, and
// an instance launched from it reads them back from its own root. The controller and agents run
// in process (TestCloud, fake hypervisors). Skipped without qemu-storage-daemon / qemu-img /
// qemu-io.
#include <catch2/catch.hpp>
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
  // An EBS-backed AMI of a 64 MiB qcow2 whose first MiB holds 0x5a.
  std::string RegisterEbs(const std::string& name) {
    const std::string file = cloud.controller().dir / (name + ".qcow2");
    REQUIRE(testing::Shell("qemu-img create -q -f qcow2 " + file + " 64M"));
    REQUIRE(testing::Shell("qemu-io -f qcow2 -c 'write -P 0x5a 0 1M' " + file));
    v1::RegisterImageRequest req;
    req.set_name(name);
    v1::BlockDeviceMapping* m = req.add_block_device_mappings();
    m->set_device_name("/dev/xvda");
    m->mutable_ebs()->set_volume_size(1);
    auto r = testing::UploadImage(images(), req, testing::ReadFileBytes(file));
    INFO(r.status().ToString());
    REQUIRE(r.ok());
    return r->image_id();
  }
  v1::Image Image(const std::string& id) {
    v1::DescribeImagesRequest d;
    d.add_image_ids(id);
    auto r = images().DescribeImages(d);
    REQUIRE(r.ok());
    return r->images(0);
  }
  v1::Snapshot Snapshot(const std::string& id) {
    v1::DescribeSnapshotsRequest d;
    d.add_snapshot_ids(id);
    auto r = volumes->DescribeSnapshots(d);
    REQUIRE(r.ok());
    return r->snapshots(0);
  }
  // Launches `image` (root grown to `root_gib` when > 0) and waits until it runs with every
  // volume attached.
  std::string Launch(const std::string& image, int root_gib = 0, bool data_volume = false) {
    v1::RunInstancesRequest run = cloud.controller().Run(image);
    if (root_gib > 0) {
      auto* root = run.add_block_device_mappings();
      root->set_device_name("/dev/xvda");
      root->mutable_ebs()->set_volume_size(root_gib);
    }
    if (data_volume) {
      auto* data = run.add_block_device_mappings();
      data->set_device_name("/dev/sdf");
      data->mutable_ebs()->set_volume_size(1);
      data->mutable_ebs()->set_delete_on_termination(false);
    }
    auto r = compute().RunInstances(run);
    INFO(r.status().ToString());
    REQUIRE(r.ok());
    const std::string inst = r->instances(0).instance_id();
    REQUIRE(Until([&] {
      if (cloud.StateOf(inst) != "running") return false;
      for (const auto& [dev, v] : VolumesOf(inst)) {
        if (v.attachments(0).state() != v1::ATTACHMENT_STATE_ATTACHED) return false;
      }
      return true;
    }));
    return inst;
  }
};

TEST_CASE("create-image bakes the instance's volumes and its AMI launches with their bytes") {
  // Bugs caught (one line each): the AMI's root snapshot taken of the AMI's snapshot instead of
  // the instance's volume (the 0x77 bytes missing from the new root); the data volume left out
  // of the mapping, or its DeleteOnTermination/size not taken from the attachment; the AMI shown
  // pending forever although its snapshots completed; the launch not growing the root to the
  // asked VolumeSize; describe-instances without BlockDeviceMappings (or the root not first);
  // deregister-image deleting the snapshots, or leaving them InvalidSnapshot.InUse.
  Fixture f;
  f.cloud.AddHost(kZone, "rack-1");
  const std::string base = f.RegisterEbs("base-ami");
  const std::string inst = f.Launch(base, 0, /*data_volume=*/true);
  auto vols = f.VolumesOf(inst);
  REQUIRE(vols.size() == 2);
  const std::string root_vol = vols.at("/dev/xvda").volume_id();
  const std::string data_vol = vols.at("/dev/sdf").volume_id();
  REQUIRE(f.OnExport(root_vol, "write -P 0x77 8M 1M"));
  REQUIRE(f.OnExport(data_vol, "write -P 0x33 0 1M"));

  const v1::Instance described = f.cloud.controller().Describe(inst);
  REQUIRE(described.block_device_mappings_size() == 2);
  CHECK(described.block_device_mappings(0).device_name() == "/dev/xvda");
  CHECK(described.block_device_mappings(0).ebs().volume_id() == root_vol);
  CHECK(described.block_device_mappings(0).ebs().status() == "attached");
  CHECK(described.block_device_mappings(0).ebs().delete_on_termination());
  CHECK(described.block_device_mappings(0).ebs().has_attach_time());
  CHECK(described.block_device_mappings(1).ebs().volume_id() == data_vol);
  CHECK_FALSE(described.block_device_mappings(1).ebs().delete_on_termination());

  v1::CreateImageRequest req;
  req.set_instance_id(inst);
  req.set_name("baked");
  req.set_no_reboot(true);
  auto made = f.images().CreateImage(req);
  INFO(made.status().ToString());
  REQUIRE(made.ok());
  CHECK(f.cloud.StateOf(inst) == "running");  // --no-reboot
  REQUIRE(f.Until([&] { return f.Image(made->image_id()).state() == "available"; }));
  const v1::Image img = f.Image(made->image_id());
  CHECK(img.root_device_type() == "ebs");
  CHECK(img.root_device_name() == "/dev/xvda");
  REQUIRE(img.block_device_mappings_size() == 2);
  const auto& root_map = img.block_device_mappings(0);
  const auto& data_map = img.block_device_mappings(1);
  CHECK(root_map.device_name() == "/dev/xvda");
  CHECK(root_map.ebs().volume_size() == 1);
  CHECK(root_map.ebs().delete_on_termination());
  CHECK(root_map.ebs().volume_type() == "gp2");
  CHECK(data_map.device_name() == "/dev/sdf");
  CHECK_FALSE(data_map.ebs().delete_on_termination());
  const std::string root_snap = root_map.ebs().snapshot_id();
  const std::string data_snap = data_map.ebs().snapshot_id();
  CHECK(f.Snapshot(root_snap).volume_id() == root_vol);
  CHECK(f.Snapshot(data_snap).volume_id() == data_vol);
  CHECK(f.Snapshot(root_snap).state() == v1::SNAPSHOT_STATE_COMPLETED);

  // Launch the baked AMI with a larger root: the bytes written are there.
  const std::string second = f.Launch(made->image_id(), /*root_gib=*/3);
  auto second_vols = f.VolumesOf(second);
  REQUIRE(second_vols.size() == 2);
  const v1::Volume new_root = second_vols.at("/dev/xvda");
  CHECK(new_root.snapshot_id() == root_snap);
  CHECK(new_root.size() == 3);
  CHECK(f.OnExport(new_root.volume_id(), "read -P 0x77 8M 1M"));
  CHECK(f.OnExport(new_root.volume_id(), "read -P 0x5a 0 1M"));  // the base AMI's bytes too
  CHECK(second_vols.at("/dev/sdf").snapshot_id() == data_snap);
  CHECK(f.OnExport(second_vols.at("/dev/sdf").volume_id(), "read -P 0x33 0 1M"));

  // Snapshots an AMI uses cannot be deleted; deregistering keeps them and frees them.
  v1::DeleteSnapshotRequest del;
  del.set_snapshot_id(root_snap);
  auto refused = f.volumes->DeleteSnapshot(del);
  REQUIRE_FALSE(refused.ok());
  CHECK(Ec2CodeOf(refused.status()) == "InvalidSnapshot.InUse");
  v1::DeregisterImageRequest dereg;
  dereg.set_image_id(made->image_id());
  REQUIRE(f.images().DeregisterImage(dereg).ok());
  CHECK(f.Snapshot(root_snap).state() == v1::SNAPSHOT_STATE_COMPLETED);
  CHECK(f.volumes->DeleteSnapshot(del).ok());
}

TEST_CASE("create-image without --no-reboot stops the instance, snapshots, starts it again") {
  // Bugs caught: the snapshots taken while the guest still runs (the AMI available before the
  // instance ever stopped); the instance left stopped after the bake; a pending AMI launchable.
  Fixture f;
  TestCloud::Host& host = f.cloud.AddHost(kZone, "rack-1");
  const std::string inst = f.Launch(f.RegisterEbs("base-ami"));
  v1::CreateImageRequest req;
  req.set_instance_id(inst);
  req.set_name("rebooted");
  // The host's agent is away, so the stop cannot finish while the AMI is looked at.
  f.cloud.StopAgent(host);
  auto made = f.images().CreateImage(req);
  INFO(made.status().ToString());
  REQUIRE(made.ok());
  // The stop was asked: the AMI waits for it.
  f.images().ReconcileImages();
  CHECK(f.Image(made->image_id()).state() == "pending");
  CHECK(f.cloud.StateOf(inst) == "stopping");
  auto early = f.compute().RunInstances(f.cloud.controller().Run(made->image_id()));
  REQUIRE_FALSE(early.ok());
  CHECK(Ec2CodeOf(early.status()) == "InvalidAMIID.Unavailable");
  f.cloud.StartAgent(host);
  REQUIRE(f.Until([&] { return f.Image(made->image_id()).state() == "available"; }));
  REQUIRE(f.Until([&] { return f.cloud.StateOf(inst) == "running"; }));
  const v1::Image img = f.Image(made->image_id());
  REQUIRE(img.block_device_mappings_size() == 1);
  CHECK(f.Snapshot(img.block_device_mappings(0).ebs().snapshot_id()).state() ==
        v1::SNAPSHOT_STATE_COMPLETED);
}

TEST_CASE("create-image refuses what EC2 refuses") {
  // Bugs caught: an instance-store or host-local instance imaged (there is no volume to
  // snapshot); a VolumeSize change of an existing device accepted; a duplicate name accepted;
  // an unknown instance answered with another code than EC2's.
  Fixture f;
  f.cloud.AddHost(kZone, "rack-1");
  const std::string inst = f.Launch(f.RegisterEbs("base-ami"));
  auto code = [&](const v1::CreateImageRequest& r) {
    auto s = f.images().CreateImage(r);
    return s.ok() ? std::string("ok") : std::string(Ec2CodeOf(s.status()));
  };
  v1::CreateImageRequest req;
  req.set_instance_id(inst);
  req.set_name("img-1");
  req.set_no_reboot(true);
  auto* resize = req.add_block_device_mappings();
  resize->set_device_name("/dev/xvda");
  resize->mutable_ebs()->set_volume_size(5);
  CHECK(code(req) == "InvalidBlockDeviceMapping");
  req.clear_block_device_mappings();
  CHECK(code(req) == "ok");
  CHECK(code(req) == "InvalidAMIName.Duplicate");
  req.set_instance_id("i-0123456789abcdef0");
  req.set_name("img-2");
  CHECK(code(req) == "InvalidInstanceID.NotFound");

  const std::string local = f.Launch(f.cloud.controller().RegisterImage("local"));
  req.set_instance_id(local);
  CHECK(code(req) == "UnsupportedOperation");
}

TEST_CASE("register-image of a snapshot and copy-image launch with the snapshot's bytes") {
  // Bugs caught: the snapshot AMI not EBS-backed or without its SnapshotId; its root not cloned
  // from that snapshot; a missing snapshot accepted; copy-image sharing the source's snapshot
  // ids (a deregistered source would then hold the copy's data hostage) or never available.
  Fixture f;
  f.cloud.AddHost(kZone, "rack-1");
  const std::string base = f.RegisterEbs("base-ami");
  const std::string snap = f.Image(base).block_device_mappings(0).ebs().snapshot_id();
  REQUIRE(snap.rfind("snap-", 0) == 0);

  v1::RegisterImageRequest reg;
  reg.set_name("from-snapshot");
  reg.set_root_device_name("/dev/xvda");
  auto* m = reg.add_block_device_mappings();
  m->set_device_name("/dev/xvda");
  m->mutable_ebs()->set_snapshot_id("snap-0123456789abcdef0");
  REQUIRE(controller::ImageService::IsSnapshotRegistration(reg));
  auto missing = f.images().RegisterSnapshotImage(reg);
  REQUIRE_FALSE(missing.ok());
  CHECK(Ec2CodeOf(missing.status()) == "InvalidSnapshot.NotFound");
  m->mutable_ebs()->set_snapshot_id(snap);
  auto from_snap = f.images().RegisterSnapshotImage(reg);
  INFO(from_snap.status().ToString());
  REQUIRE(from_snap.ok());
  const v1::Image img = f.Image(from_snap->image_id());
  CHECK(img.state() == "available");
  CHECK(img.root_device_type() == "ebs");
  CHECK(img.boot_mode() == "legacy-bios");
  REQUIRE(img.block_device_mappings_size() == 1);
  CHECK(img.block_device_mappings(0).ebs().snapshot_id() == snap);
  const std::string inst = f.Launch(from_snap->image_id());
  const v1::Volume root = f.VolumesOf(inst).at("/dev/xvda");
  CHECK(root.snapshot_id() == snap);
  CHECK(f.OnExport(root.volume_id(), "read -P 0x5a 0 1M"));

  v1::CopyImageRequest copy;
  copy.set_source_image_id(from_snap->image_id());
  copy.set_source_region("wrong-region-1");
  copy.set_name("copied");
  auto bad_region = f.images().CopyImage(copy);
  REQUIRE_FALSE(bad_region.ok());
  CHECK(Ec2CodeOf(bad_region.status()) == "InvalidParameterValue");
  copy.set_source_region(f.cloud.controller().state->config().region);
  auto copied = f.images().CopyImage(copy);
  INFO(copied.status().ToString());
  REQUIRE(copied.ok());
  CHECK(copied->image_id() != from_snap->image_id());
  REQUIRE(f.Until([&] { return f.Image(copied->image_id()).state() == "available"; }));
  const std::string copy_snap =
      f.Image(copied->image_id()).block_device_mappings(0).ebs().snapshot_id();
  CHECK(copy_snap.rfind("snap-", 0) == 0);
  CHECK(copy_snap != snap);
  const std::string from_copy = f.Launch(copied->image_id());
  CHECK(f.OnExport(f.VolumesOf(from_copy).at("/dev/xvda").volume_id(), "read -P 0x5a 0 1M"));
}

}  // namespace
}  // namespace minicloud
