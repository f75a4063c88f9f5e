// AttachVolume / DetachVolume over the real store (RocksDB in a temp dir), a fake volume service
// and reports made the way an agent makes them: EC2's refusals, the attachment's states, the
// host's desired state, the export and unexport, stopped and terminated instances.
#include <catch2/catch.hpp>
#include <memory>

#include "absl/strings/match.h"
#include "common/ec2_error.h"
#include "controller/service/volume_service.h"
#include "tests/testing/volume_fixture.h"

namespace minicloud::controller {
namespace {

struct Fixture : testing::VolumeFixture {
  std::string host, host_b, image;

  Fixture() {
    host = ctl.AddHost("home-1a");
    host_b = ctl.AddHost("home-1b");
    fleet.Add("home-1a", backend);
    fleet.Add("home-1b", backend);
    OpenVolumes();
    image = ctl.RegisterImage();
  }
  std::string Volume(const std::string& zone = "home-1a", bool multi = false) {
    v1::CreateVolumeRequest r;
    r.set_availability_zone(zone);
    r.set_size(multi ? 10 : 8);
    if (multi) {
      r.set_volume_type("io2");
      r.set_iops(100);
      r.set_multi_attach_enabled(true);
    }
    auto v = volumes->CreateVolume(r);
    REQUIRE(v.ok());
    return v->volume_id();
  }
  // A running instance in `zone` (the host reported it running).
  std::string Instance(const std::string& zone = "home-1a") {
    v1::RunInstancesRequest req = ctl.Run(image);
    req.mutable_placement()->set_availability_zone(zone);
    auto r = ctl.compute->RunInstances(req);
    REQUIRE(r.ok());
    const std::string id = r->instances(0).instance_id();
    REQUIRE(ctl.Report(HostOf(id), id, v1::OBSERVED_STATE_RUNNING).ok());
    return id;
  }
  // Stops a running instance (the host reported its domain shut off).
  void Stop(const std::string& inst) {
    v1::StopInstancesRequest stop;
    stop.add_instance_ids(inst);
    REQUIRE(ctl.compute->StopInstances(stop).ok());
    REQUIRE(ctl.Report(HostOf(inst), inst, v1::OBSERVED_STATE_SHUTOFF).ok());
  }
  std::string HostOf(const std::string& id) {
    std::lock_guard<std::mutex> lock(ctl.state->mu());
    return ctl.state->instances().at(id).host_id();
  }
  absl::StatusOr<v1::VolumeAttachment> Attach(const std::string& vol, const std::string& inst,
                                              const std::string& device = "/dev/sdf") {
    v1::AttachVolumeRequest r;
    r.set_volume_id(vol);
    r.set_instance_id(inst);
    r.set_device(device);
    return volumes->AttachVolume(r);
  }
  absl::StatusOr<v1::VolumeAttachment> Detach(const std::string& vol, const std::string& inst = "",
                                              bool force = false) {
    v1::DetachVolumeRequest r;
    r.set_volume_id(vol);
    r.set_instance_id(inst);
    r.set_force(force);
    return volumes->DetachVolume(r);
  }
  // The desired EBS disks of an instance as its host gets them.
  std::vector<v1::DesiredEbsDisk> Desired(const std::string& inst) {
    v1::WatchDesiredRequest w;
    w.set_host_id(HostOf(inst));
    w.set_known_generation(~uint64_t{0});
    auto d = ctl.fleet->WatchDesired(w);
    REQUIRE(d.ok());
    for (const auto& i : d->instances()) {
      if (i.instance_id() == inst) return {i.ebs_disks().begin(), i.ebs_disks().end()};
    }
    return {};
  }
  // The host reports the instance running with these volumes attached.
  void ReportDisks(const std::string& inst, const std::vector<std::string>& attached,
                   const std::string& error_volume = "", const std::string& error = "") {
    v1::ReportStatusRequest req;
    req.set_host_id(HostOf(inst));
    auto* o = req.add_instances();
    o->set_instance_id(inst);
    o->set_state(v1::OBSERVED_STATE_RUNNING);
    o->set_ebs_disks_known(true);
    for (const auto& v : attached) {
      auto* d = o->add_ebs_disks();
      d->set_volume_id(v);
      d->set_attached(true);
    }
    if (!error_volume.empty()) {
      auto* d = o->add_ebs_disks();
      d->set_volume_id(error_volume);
      d->set_error(error);
    }
    REQUIRE(ctl.fleet->ReportStatus(req).ok());
  }
};

TEST_CASE("AttachVolume to a running instance: export, desired disk, attached on the report") {
  // Bugs caught: the export not asked for or its endpoint not carried to the host; /dev/sdf not
  // mapped to vdf; the attachment attached before the host has the disk; the report ignored.
  Fixture f;
  const std::string vol = f.Volume(), inst = f.Instance();
  auto a = f.Attach(vol, inst);
  REQUIRE(a.ok());
  CHECK(a->state() == v1::ATTACHMENT_STATE_ATTACHING);
  CHECK(a->device() == "/dev/sdf");
  CHECK(a->instance_id() == inst);
  CHECK_FALSE(a->delete_on_termination());
  CHECK(f.backend->IsExported(vol));
  CHECK(f.DescribeVolume(vol).state() == v1::VOLUME_STATE_IN_USE);
  auto disks = f.Desired(inst);
  REQUIRE(disks.size() == 1);
  CHECK(disks[0].volume_id() == vol);
  CHECK(disks[0].target_dev() == "vdf");
  CHECK(disks[0].nbd_host() == "192.0.2.10");
  CHECK(disks[0].nbd_port() == 10809);
  CHECK(disks[0].export_name() == vol);
  CHECK(disks[0].volume_type() == "gp2");
  f.ReportDisks(inst, {});  // not there yet
  CHECK(f.DescribeVolume(vol).attachments(0).state() == v1::ATTACHMENT_STATE_ATTACHING);
  f.ReportDisks(inst, {vol});
  CHECK(f.DescribeVolume(vol).attachments(0).state() == v1::ATTACHMENT_STATE_ATTACHED);
}

TEST_CASE("AttachVolume refuses what EC2 refuses, and changes nothing") {
  // Bugs caught: each refusal below missing or answered with another code; a refused attach
  // that left the volume in-use or exported.
  Fixture f;
  const std::string vol = f.Volume(), inst = f.Instance();
  auto code = [&](const std::string& v, const std::string& i, const std::string& d) {
    return Ec2CodeOf(f.Attach(v, i, d).status());
  };
  CHECK(code("vol-0123456789abcdef0", inst, "/dev/sdf") == "InvalidVolume.NotFound");
  CHECK(code(vol, "i-0123456789abcdef0", "/dev/sdf") == "InvalidInstanceID.NotFound");
  CHECK(code(vol, inst, "/dev/hda") == "InvalidParameterValue");
  CHECK(code(vol, inst, "/dev/xvda") == "InvalidParameterValue");  // the root's
  CHECK(code(vol, inst, "/dev/sda1") == "InvalidParameterValue");
  CHECK(code(f.Volume("home-1b"), inst, "/dev/sdf") == "InvalidVolume.ZoneMismatch");
  CHECK(f.DescribeVolume(vol).state() == v1::VOLUME_STATE_AVAILABLE);
  CHECK_FALSE(f.backend->IsExported(vol));

  REQUIRE(f.Attach(vol, inst).ok());
  // The same slot under its other name, for another volume.
  CHECK(code(f.Volume(), inst, "/dev/xvdf") == "InvalidParameterValue");
  // Attached elsewhere without Multi-Attach; attached here already.
  CHECK(code(vol, f.Instance(), "/dev/sdg") == "VolumeInUse");
  CHECK(code(vol, inst, "/dev/sdg") == "VolumeInUse");

  // A terminated instance.
  const std::string gone = f.Instance();
  v1::TerminateInstancesRequest term;
  term.add_instance_ids(gone);
  REQUIRE(f.ctl.compute->TerminateInstances(term).ok());
  CHECK(code(f.Volume(), gone, "/dev/sdf") == "IncorrectState");
}

TEST_CASE("AttachVolume refuses an instance-store volume's slot") {
  // Bug caught: SlotsInUseLocked counting only the root and EBS attachments, so /dev/sdb (or
  // its other name /dev/xvdb) on a c5d.large, ephemeral0's slot, is accepted and the host's
  // hot-plug fails on a taken target.
  Fixture f;
  v1::RegisterHostRequest host;
  host.set_hostname("store");
  host.set_endpoint("agent:2");
  host.mutable_topology()->set_region("home-1");
  host.mutable_topology()->set_availability_zone("home-1a");
  host.mutable_topology()->set_rack("rack-2");
  host.mutable_capacity()->set_vcpus(4);
  host.mutable_capacity()->set_memory_mib(8192);
  host.mutable_capacity()->set_instance_store_gb(200);
  host.set_accelerator(v1::ACCELERATOR_TCG);
  REQUIRE(f.ctl.fleet->RegisterHost(host).ok());
  v1::RunInstancesRequest req = f.ctl.Run(f.image);
  req.set_instance_type("c5d.large");
  req.mutable_placement()->set_availability_zone("home-1a");
  auto run = f.ctl.compute->RunInstances(req);
  REQUIRE(run.ok());
  const std::string inst = run->instances(0).instance_id();
  const std::string vol = f.Volume();
  CHECK(Ec2CodeOf(f.Attach(vol, inst, "/dev/sdb").status()) == "InvalidParameterValue");
  CHECK(Ec2CodeOf(f.Attach(vol, inst, "/dev/xvdb").status()) == "InvalidParameterValue");
  CHECK(f.DescribeVolume(vol).state() == v1::VOLUME_STATE_AVAILABLE);
  CHECK(f.Attach(vol, inst, "/dev/sdc").ok());
}

TEST_CASE("Multi-Attach: one volume on two instances, exported until the last detach") {
  // Bugs caught: the export withdrawn while another instance still uses the volume; the volume
  // available while one attachment remains.
  Fixture f;
  const std::string vol = f.Volume("home-1a", true);
  const std::string a = f.Instance(), b = f.Instance();
  REQUIRE(f.Attach(vol, a).ok());
  REQUIRE(f.Attach(vol, b).ok());
  CHECK(f.DescribeVolume(vol).attachments_size() == 2);
  REQUIRE(f.Detach(vol).status().code() == absl::StatusCode::kInvalidArgument);  // which one?
  REQUIRE(f.Detach(vol, a, /*force=*/true).ok());
  f.volumes->Reconcile();
  CHECK(f.backend->IsExported(vol));
  CHECK(f.DescribeVolume(vol).state() == v1::VOLUME_STATE_IN_USE);
  REQUIRE(f.Detach(vol, b, /*force=*/true).ok());
  f.volumes->Reconcile();
  CHECK_FALSE(f.backend->IsExported(vol));
  CHECK(f.DescribeVolume(vol).state() == v1::VOLUME_STATE_AVAILABLE);
}

TEST_CASE("DetachVolume: detaching until the host reports the disk gone, then available") {
  // Bugs caught: the disk kept in the desired state while detaching; detached before the guest
  // let go; the export kept after the detach; the volume left in-use; a second detach accepted.
  Fixture f;
  const std::string vol = f.Volume(), inst = f.Instance();
  REQUIRE(f.Attach(vol, inst).ok());
  f.ReportDisks(inst, {vol});
  CHECK(Ec2CodeOf(f.Detach(vol, f.Instance()).status()) == "InvalidAttachment.NotFound");
  auto d = f.Detach(vol, inst);
  REQUIRE(d.ok());
  CHECK(d->state() == v1::ATTACHMENT_STATE_DETACHING);
  CHECK(f.Desired(inst).empty());
  f.ReportDisks(inst, {vol});  // the guest still holds it
  f.volumes->Reconcile();
  CHECK(f.DescribeVolume(vol).attachments(0).state() == v1::ATTACHMENT_STATE_DETACHING);
  CHECK(f.backend->IsExported(vol));
  f.ReportDisks(inst, {});
  f.volumes->Reconcile();
  v1::Volume v = f.DescribeVolume(vol);
  CHECK(v.state() == v1::VOLUME_STATE_AVAILABLE);
  CHECK(v.attachments_size() == 0);
  CHECK_FALSE(f.backend->IsExported(vol));
  CHECK(Ec2CodeOf(f.Detach(vol).status()) == "IncorrectState");
}

TEST_CASE("DetachVolume --force does not wait for the guest") {
  // Bug caught: Force ignored (the volume stuck detaching while the guest holds the disk).
  Fixture f;
  const std::string vol = f.Volume(), inst = f.Instance();
  REQUIRE(f.Attach(vol, inst).ok());
  f.ReportDisks(inst, {vol});
  REQUIRE(f.Detach(vol, inst, /*force=*/true).ok());
  f.volumes->Reconcile();
  CHECK(f.DescribeVolume(vol).state() == v1::VOLUME_STATE_AVAILABLE);
}

TEST_CASE("A stopped instance: attach and detach change only the record") {
  // Bug caught: an attachment to a stopped instance waiting for a hot-plug that never comes.
  Fixture f;
  const std::string vol = f.Volume(), inst = f.Instance();
  f.Stop(inst);
  REQUIRE(f.ctl.Describe(inst).state().name() == "stopped");
  REQUIRE(f.Attach(vol, inst).ok());
  CHECK(f.DescribeVolume(vol).attachments(0).state() == v1::ATTACHMENT_STATE_ATTACHED);
  CHECK(f.Desired(inst).size() == 1);  // comes with the next boot
  REQUIRE(f.Detach(vol).ok());
  f.volumes->Reconcile();
  CHECK(f.DescribeVolume(vol).state() == v1::VOLUME_STATE_AVAILABLE);
}

TEST_CASE("ModifyVolume --size of a volume under a running guest grows it online") {
  // Bugs caught: the grow refused while the guest runs (EC2 grows it there); the host's desired
  // disk left at the old size, so the agent never grows the guest's disk (GrowDisk).
  Fixture f;
  const std::string vol = f.Volume(), inst = f.Instance();
  REQUIRE(f.Attach(vol, inst).ok());
  f.ReportDisks(inst, {vol});
  v1::ModifyVolumeRequest grow;
  grow.set_volume_id(vol);
  grow.set_size(12);
  const auto grown = f.volumes->ModifyVolume(grow);
  INFO(grown.status().ToString());
  REQUIRE(grown.ok());
  CHECK(f.backend->SizeOf(vol) == 12);
  CHECK(f.DescribeVolume(vol).size() == 12);
  REQUIRE(f.Desired(inst).size() == 1);
  CHECK(f.Desired(inst)[0].size_gib() == 12);
}

TEST_CASE("Terminating an instance detaches its data volumes and keeps them") {
  // Bugs caught: a terminated instance's volume stuck in-use; the volume deleted with it.
  Fixture f;
  const std::string vol = f.Volume(), inst = f.Instance();
  REQUIRE(f.Attach(vol, inst).ok());
  f.ReportDisks(inst, {vol});
  v1::TerminateInstancesRequest term;
  term.add_instance_ids(inst);
  REQUIRE(f.ctl.compute->TerminateInstances(term).ok());
  f.volumes->Reconcile();
  CHECK(f.DescribeVolume(vol).state() == v1::VOLUME_STATE_IN_USE);  // the guest may still run
  REQUIRE(f.ctl.Report(f.HostOf(inst), inst, v1::OBSERVED_STATE_ABSENT).ok());
  f.volumes->Reconcile();
  v1::Volume v = f.DescribeVolume(vol);
  CHECK(v.state() == v1::VOLUME_STATE_AVAILABLE);
  CHECK(v.attachments_size() == 0);
  CHECK_FALSE(f.backend->IsExported(vol));
}

TEST_CASE("An unreachable volume service: the export is asked again, a refusal undoes the attach") {
  // Bugs caught: an attachment without an endpoint handed to the host; the export never retried;
  // a refused export leaving the volume in-use.
  Fixture f;
  const std::string vol = f.Volume(), inst = f.Instance();
  f.backend->fail_next_export = absl::UnavailableError("down");
  auto a = f.Attach(vol, inst);
  REQUIRE(a.ok());
  CHECK(a->state() == v1::ATTACHMENT_STATE_ATTACHING);
  CHECK(f.Desired(inst).empty());
  f.volumes->Reconcile();
  CHECK(f.Desired(inst).size() == 1);

  const std::string other = f.Volume();
  f.backend->fail_next_export = absl::InternalError("disk full");
  CHECK(Ec2CodeOf(f.Attach(other, inst, "/dev/sdg").status()) == "InternalError");
  v1::Volume v = f.DescribeVolume(other);
  CHECK(v.state() == v1::VOLUME_STATE_AVAILABLE);
  CHECK(v.attachments_size() == 0);
}

TEST_CASE("A host's attach failure becomes the attachment's error, not a state change") {
  // Bug caught: a failed hot-plug reported as attached (or the report dropped).
  Fixture f;
  const std::string vol = f.Volume(), inst = f.Instance();
  REQUIRE(f.Attach(vol, inst).ok());
  f.ReportDisks(inst, {}, vol, "qemu: nbd connect failed");
  std::lock_guard<std::mutex> lock(f.ctl.state->mu());
  const auto& rec = f.ctl.state->volumes().at(vol).attachments(0);
  CHECK(rec.state() == v1::ATTACHMENT_STATE_ATTACHING);
  CHECK(rec.error_message() == "qemu: nbd connect failed");
}

}  // namespace
}  // namespace minicloud::controller
