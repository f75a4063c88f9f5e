// An EBS launch whose volume cannot be made, over the real store and a fake volume service: a
// final failure ends the launch at once (pending → shutting-down → terminated) with EC2's
// StateReason, DeleteOnTermination volumes are deleted and the others kept; a failure that is
// retried leaves the launch pending until the volume is made or the retry budget is spent; the
// decision survives a restart of the controller; a boot waits for every volume of its mapping
// to be made and exported, and a final refusal of an export ends it too.
#include <catch2/catch.hpp>
#include <memory>
#include <string>
#include <vector>

#include "controller/service/volume_service.h"
#include "tests/testing/volume_fixture.h"

namespace minicloud::controller {
namespace {

struct Fixture : testing::VolumeFixture {
  std::string host;
  std::string image;

  Fixture() {
    host = ctl.AddHost("home-1a");
    fleet.Add("home-1a", backend);
    Reopen(false);
    // An EBS-backed AMI whose root snapshot the zone's service keeps.
    const std::string root_snap = Snap(Volume(8));
    v1::RegisterImageRequest reg;
    reg.set_name("ebs-ami");
    reg.set_root_device_name("/dev/xvda");
    auto* m = reg.add_block_device_mappings();
    m->set_device_name("/dev/xvda");
    m->mutable_ebs()->set_snapshot_id(root_snap);
    auto registered = ctl.images->RegisterSnapshotImage(reg);
    INFO(registered.status().ToString());
    REQUIRE(registered.ok());
    image = registered->image_id();
  }
  void Reopen(bool restart) {
    OpenVolumes(restart);
    ctl.images->SetVolumes(volumes.get());
    ctl.compute->SetEbsHooks(
        {.serves_zone = [this](const std::string& z) { return fleet.Serves(z); },
         .launched =
             [this](const std::vector<std::string>& ids) { volumes->FinishLaunchVolumes(ids); }});
  }
  std::string Volume(int64_t size) {
    v1::CreateVolumeRequest r;
    r.set_availability_zone("home-1a");
    r.set_size(size);
    auto v = volumes->CreateVolume(r);
    if (!v.ok()) FAIL(v.status().ToString());
    return v->volume_id();
  }
  std::string Snap(const std::string& volume_id) {
    v1::CreateSnapshotRequest r;
    r.set_volume_id(volume_id);
    auto s = volumes->CreateSnapshot(r);
    if (!s.ok()) FAIL(s.status().ToString());
    return s->snapshot_id();
  }
  // The AMI with /dev/sdf from `data_snapshot` (DeleteOnTermination) and a blank /dev/sdg that
  // is kept (DeleteOnTermination false).
  std::string Launch(const std::string& data_snapshot) {
    v1::RunInstancesRequest run = ctl.Run(image);
    auto* sdf = run.add_block_device_mappings();
    sdf->set_device_name("/dev/sdf");
    sdf->mutable_ebs()->set_snapshot_id(data_snapshot);
    sdf->mutable_ebs()->set_delete_on_termination(true);
    auto* sdg = run.add_block_device_mappings();
    sdg->set_device_name("/dev/sdg");
    sdg->mutable_ebs()->set_volume_size(2);
    sdg->mutable_ebs()->set_delete_on_termination(false);
    auto r = ctl.compute->RunInstances(run);
    INFO(r.status().ToString());
    REQUIRE(r.ok());
    return r->instances(0).instance_id();
  }
  v1::InstanceRecord Instance(const std::string& id) {
    std::lock_guard<std::mutex> lock(ctl.state->mu());
    return ctl.state->instances().at(id);
  }
  // The volumes of `instance` by device (attachments kept until the volume is finished with).
  std::map<std::string, v1::VolumeRecord> VolumesOf(const std::string& instance) {
    std::lock_guard<std::mutex> lock(ctl.state->mu());
    std::map<std::string, v1::VolumeRecord> out;
    for (const auto& [id, v] : ctl.state->volumes()) {
      for (const auto& a : v.attachments()) {
        if (a.instance_id() == instance) out[a.device()] = v;
      }
    }
    return out;
  }
  std::optional<v1::VolumeRecord> VolumeRecord(const std::string& id) {
    std::lock_guard<std::mutex> lock(ctl.state->mu());
    auto it = ctl.state->volumes().find(id);
    if (it == ctl.state->volumes().end()) return std::nullopt;
    return it->second;
  }
  // What the instance's host is told of it now.
  v1::DesiredInstance DesiredOf(const std::string& id) {
    v1::WatchDesiredRequest w;
    w.set_host_id(host);
    w.set_max_wait_ms(0);
    auto d = ctl.fleet->WatchDesired(w);
    REQUIRE(d.ok());
    for (const auto& i : d->instances()) {
      if (i.instance_id() == id) return i;
    }
    FAIL("not in the host's desired state: " << id);
    return {};
  }
  void Vanish(const std::string& snapshot_id) {
    std::lock_guard<std::mutex> lock(backend->mu);
    backend->snapshots.erase(snapshot_id);
  }
};

TEST_CASE("An EBS launch whose volume cannot be made ends at once with EC2's reason") {
  // Bugs caught: the launch left pending until the 10-minute timeout; the reason code not EC2's
  // (or the volume's cause lost); the instance terminated without passing shutting-down (the
  // host never told); the failed volume not `error`; the root (DeleteOnTermination) kept; the
  // kept data volume deleted with the instance; a volume still being made when its instance
  // ended never deleted (DeleteOnTermination ignored once its attachment was dropped).
  Fixture f;
  const std::string data_snap = f.Snap(f.Volume(4));
  f.Vanish(data_snap);  // the service lost it: the clone answers NotFound
  // The root is not made at first (the service is restarting): still `creating` when the
  // instance ends.
  f.backend->fail_next_create = absl::UnavailableError("volume service restarting");
  const std::string id = f.Launch(data_snap);

  v1::Instance shown = f.ctl.Describe(id);
  CHECK(shown.state().name() == "shutting-down");
  CHECK(shown.state_reason().code() == "Client.InvalidSnapshot.NotFound");
  CHECK_THAT(shown.state_reason().message(),
             Catch::StartsWith("Client.InvalidSnapshot.NotFound: The specified snapshot was not "
                               "found: volume vol-"));
  CHECK_THAT(shown.state_reason().message(), Catch::Contains("(/dev/sdf) from " + data_snap));
  CHECK(f.Instance(id).goal() == v1::DESIRED_GOAL_TERMINATED);

  auto vols = f.VolumesOf(id);
  REQUIRE(vols.size() == 3);
  const std::string root = vols.at("/dev/xvda").volume_id();
  const std::string failed = vols.at("/dev/sdf").volume_id();
  const std::string kept = vols.at("/dev/sdg").volume_id();
  CHECK(vols.at("/dev/sdf").state() == v1::VOLUME_STATE_ERROR);
  CHECK(vols.at("/dev/sdf").error_reason_code() == "Client.InvalidSnapshot.NotFound");

  CHECK(vols.at("/dev/xvda").state() == v1::VOLUME_STATE_CREATING);

  // The host removes what it had of the instance.
  REQUIRE(f.ctl.Report(f.host, id, v1::OBSERVED_STATE_ABSENT).ok());
  CHECK(f.ctl.Describe(id).state().name() == "terminated");
  CHECK(f.ctl.Describe(id).state_reason().code() == "Client.InvalidSnapshot.NotFound");
  f.backend->fail_next_create = absl::UnavailableError("volume service restarting");
  f.volumes->Reconcile();  // the root's attachment ends while it is still being made
  CHECK(f.VolumeRecord(root)->state() == v1::VOLUME_STATE_CREATING);
  for (int i = 0; i < 3; ++i) f.volumes->Reconcile();
  CHECK_FALSE(f.VolumeRecord(root).has_value());
  CHECK_FALSE(f.backend->SizeOf(root).has_value());
  CHECK_FALSE(f.VolumeRecord(failed).has_value());  // `error`, DeleteOnTermination: deleted
  REQUIRE(f.VolumeRecord(kept).has_value());
  CHECK(f.VolumeRecord(kept)->state() == v1::VOLUME_STATE_AVAILABLE);
  CHECK(f.VolumeRecord(kept)->attachments().empty());
  CHECK(f.backend->SizeOf(kept) == 2);
}

TEST_CASE("An EBS launch whose volume service restarts stays pending and boots") {
  // Bugs caught: a retried failure (Unavailable) ending the launch or making the volume `error`;
  // the volume never made once the service is back; the host given the launch's disks that
  // were made (it would boot, or plug them) while another is still being made.
  Fixture f;
  const std::string data_snap = f.Snap(f.Volume(4));
  f.backend->fail_next_create = absl::UnavailableError("volume service restarting");
  const std::string id = f.Launch(data_snap);
  CHECK(f.ctl.Describe(id).state().name() == "pending");
  CHECK(f.ctl.Describe(id).state_reason().code().empty());
  auto vols = f.VolumesOf(id);
  CHECK(vols.at("/dev/xvda").state() == v1::VOLUME_STATE_CREATING);  // the one that failed
  CHECK(vols.at("/dev/xvda").retrying_since_ms() > 0);
  CHECK(vols.at("/dev/sdf").state() == v1::VOLUME_STATE_IN_USE);  // made and exported
  CHECK_FALSE(vols.at("/dev/sdf").attachments(0).nbd_host().empty());
  CHECK(f.DesiredOf(id).ebs_disks_size() == 0);
  CHECK(f.DesiredOf(id).root_disk().nbd_host().empty());
  CHECK(f.DesiredOf(id).volumes_pending());
  f.volumes->Reconcile();
  f.volumes->Reconcile();
  vols = f.VolumesOf(id);
  for (const auto& [device, v] : vols) {
    INFO(device);
    CHECK(v.state() == v1::VOLUME_STATE_IN_USE);
    CHECK(v.retrying_since_ms() == 0);
    CHECK_FALSE(v.attachments(0).nbd_host().empty());
  }
  CHECK(f.ctl.Describe(id).state().name() == "pending");
  CHECK(f.DesiredOf(id).ebs_disks_size() == 2);
  CHECK_FALSE(f.DesiredOf(id).root_disk().nbd_host().empty());
  CHECK_FALSE(f.DesiredOf(id).volumes_pending());
}

TEST_CASE("A launch from a local root waits for its EBS data volumes before it boots") {
  // Bugs caught: the host told to boot an instance-store-backed launch while the data volume
  // of its block device mapping is still being made (the guest would boot without /dev/sdf and
  // get it hot-plugged later), or while it is made but not exported yet; the wait never lifted.
  Fixture f;
  v1::RunInstancesRequest run = f.ctl.Run(f.ctl.RegisterImage());
  auto* sdf = run.add_block_device_mappings();
  sdf->set_device_name("/dev/sdf");
  sdf->mutable_ebs()->set_volume_size(2);
  f.backend->fail_next_create = absl::UnavailableError("volume service restarting");
  auto launched = f.ctl.compute->RunInstances(run);
  REQUIRE(launched.ok());
  const std::string id = launched->instances(0).instance_id();
  const std::string data = f.VolumesOf(id).at("/dev/sdf").volume_id();
  REQUIRE(f.VolumeRecord(data)->state() == v1::VOLUME_STATE_CREATING);
  v1::DesiredInstance want = f.DesiredOf(id);
  CHECK_FALSE(want.ebs_root());
  CHECK(want.volumes_pending());
  CHECK(want.ebs_disks_size() == 0);

  // Made, but its export does not get through yet: still waiting.
  f.backend->fail_next_export = absl::UnavailableError("export refused for now");
  f.volumes->Reconcile();
  REQUIRE(f.VolumeRecord(data)->state() == v1::VOLUME_STATE_IN_USE);
  CHECK(f.VolumeRecord(data)->attachments(0).nbd_host().empty());
  CHECK(f.DesiredOf(id).volumes_pending());
  CHECK(f.ctl.Describe(id).state().name() == "pending");

  f.volumes->Reconcile();  // exported
  want = f.DesiredOf(id);
  CHECK_FALSE(want.volumes_pending());
  REQUIRE(want.ebs_disks_size() == 1);
  CHECK(want.ebs_disks(0).volume_id() == data);
  CHECK(want.ebs_disks(0).target_dev() == "vdf");
}

TEST_CASE("An EBS launch whose volume the service refuses to export ends at once") {
  // Bugs caught: a final refusal of the export leaving the launch pending until the 10-minute
  // launch timeout (the host waits for an endpoint that never comes); the attachment dropped
  // with the refusal, so the root (DeleteOnTermination) outlives its terminated instance; a
  // retried refusal (Unavailable) ending the launch.
  Fixture f;
  const std::string data_snap = f.Snap(f.Volume(4));
  f.backend->fail_next_export = absl::UnavailableError("the daemon is restarting");
  const std::string id = f.Launch(data_snap);
  CHECK(f.ctl.Describe(id).state().name() == "pending");  // asked again later

  f.backend->fail_next_export = absl::NotFoundError("no file for the volume");
  f.volumes->Reconcile();
  v1::Instance shown = f.ctl.Describe(id);
  CHECK(shown.state().name() == "shutting-down");
  CHECK(shown.state_reason().code() == "Server.InternalError");
  CHECK_THAT(shown.state_reason().message(), Catch::Contains("cannot be exported"));
  CHECK_THAT(shown.state_reason().message(), Catch::Contains("no file for the volume"));
  CHECK(f.Instance(id).goal() == v1::DESIRED_GOAL_TERMINATED);

  auto vols = f.VolumesOf(id);
  REQUIRE(vols.size() == 3);
  const std::string root = vols.at("/dev/xvda").volume_id();
  const std::string data = vols.at("/dev/sdf").volume_id();
  const std::string kept = vols.at("/dev/sdg").volume_id();
  REQUIRE(f.ctl.Report(f.host, id, v1::OBSERVED_STATE_ABSENT).ok());
  CHECK(f.ctl.Describe(id).state().name() == "terminated");
  for (int i = 0; i < 3; ++i) f.volumes->Reconcile();
  CHECK_FALSE(f.VolumeRecord(root).has_value());  // DeleteOnTermination
  CHECK_FALSE(f.VolumeRecord(data).has_value());
  REQUIRE(f.VolumeRecord(kept).has_value());
  CHECK(f.VolumeRecord(kept)->state() == v1::VOLUME_STATE_AVAILABLE);
}

TEST_CASE("An EBS launch whose volume service stays away ends once the retry budget is spent") {
  // Bugs caught: the budget counted from each attempt (never spent), or started anew by a
  // restart of the controller (not durable); a launch ended before the budget; the reason not
  // Server.InternalError.
  Fixture f;
  const std::string data_snap = f.Snap(f.Volume(4));
  f.backend->fail_next_create = absl::UnavailableError("connection refused");
  const std::string id = f.Launch(data_snap);
  const std::string root = f.VolumesOf(id).at("/dev/xvda").volume_id();
  REQUIRE(f.VolumeRecord(root)->state() == v1::VOLUME_STATE_CREATING);

  f.ctl.clock.Advance(absl::Minutes(4));
  f.Reopen(true);  // the controller restarts while the service is away
  f.backend->fail_next_create = absl::UnavailableError("connection refused");
  f.volumes->Reconcile();
  CHECK(f.ctl.Describe(id).state().name() == "pending");
  CHECK(f.VolumeRecord(root)->state() == v1::VOLUME_STATE_CREATING);

  f.ctl.clock.Advance(absl::Minutes(1) + absl::Seconds(1));  // 5 min 1 s since the first failure
  f.backend->fail_next_create = absl::UnavailableError("connection refused");
  f.volumes->Reconcile();
  v1::Instance shown = f.ctl.Describe(id);
  CHECK(shown.state().name() == "shutting-down");
  CHECK(shown.state_reason().code() == "Server.InternalError");
  CHECK_THAT(shown.state_reason().message(), Catch::Contains("volume " + root + " (/dev/xvda)"));
  CHECK_THAT(shown.state_reason().message(), Catch::Contains("connection refused"));
  CHECK(f.VolumeRecord(root)->state() == v1::VOLUME_STATE_ERROR);
}

TEST_CASE("A volume failure recorded before its launch ended ends it after a restart") {
  // Bug caught: a launch whose volume is `error` in the store (written by a controller that did
  // not end launches, or an instance record put back) left pending until the launch timeout.
  Fixture f;
  const std::string data_snap = f.Snap(f.Volume(4));
  f.Vanish(data_snap);
  const std::string id = f.Launch(data_snap);
  {
    // The instance as an older controller left it: pending beside the failed volume.
    auto lock = f.ctl.state->LockCommitted();
    v1::InstanceRecord r = f.ctl.state->instances().at(id);
    r.set_state(v1::INSTANCE_STATE_CODE_PENDING);
    r.set_goal(v1::DESIRED_GOAL_RUNNING);
    r.clear_state_reason_code();
    r.clear_state_reason_message();
    CloudState::Changes changes;
    changes.instances[id] = r;
    REQUIRE(f.ctl.state->CommitLocked(changes).ok());
  }
  f.Reopen(true);
  CHECK(f.ctl.Describe(id).state().name() == "pending");
  f.volumes->Reconcile();
  CHECK(f.ctl.Describe(id).state().name() == "shutting-down");
  CHECK(f.ctl.Describe(id).state_reason().code() == "Client.InvalidSnapshot.NotFound");
}

}  // namespace
}  // namespace minicloud::controller
