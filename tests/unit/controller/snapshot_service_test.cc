// EBS snapshots in VolumeService over the real store (RocksDB in a temp dir) and a fake volume
// service: CreateSnapshot / DescribeSnapshots / DeleteSnapshot / CopySnapshot, CreateVolume
// --snapshot-id, what an unreachable service or a restart leaves behind, and the zones' volume
// service states in DescribeAvailabilityZones / DescribeHosts.
#include <catch2/catch.hpp>
#include <memory>
#include <set>
#include <utility>
#include <vector>

#include "common/ec2_error.h"
#include "controller/service/volume_service.h"
#include "controller/volumes/disk_writer.h"
#include "controller/volumes/volume_keys.h"
#include "tests/testing/volume_fixture.h"

namespace minicloud::controller {
namespace {

struct Fixture : testing::VolumeFixture {
  std::shared_ptr<testing::FakeVolumeService> backend_c =
      std::make_shared<testing::FakeVolumeService>();

  Fixture() {
    ctl.AddHost("home-1a");
    ctl.AddHost("home-1b");
    ctl.AddHost("home-1c");
    fleet.Add("home-1a", backend);  // home-1b has hosts but no volume service
    fleet.Add("home-1c", backend_c);
    Reopen(false);
  }
  void Reopen(bool restart) {
    OpenVolumes(restart);
    ctl.compute->SetVolumeStates([this] { return volumes->ZoneStates(); });
  }
  std::string Volume(int64_t size = 8, const std::string& zone = "home-1a") {
    v1::CreateVolumeRequest r;
    r.set_availability_zone(zone);
    r.set_size(size);
    auto v = volumes->CreateVolume(r);
    if (!v.ok()) FAIL(v.status().ToString());
    return v->volume_id();
  }
  v1::Snapshot Snap(const std::string& volume_id, const std::string& description = "") {
    v1::CreateSnapshotRequest r;
    r.set_volume_id(volume_id);
    r.set_description(description);
    auto s = volumes->CreateSnapshot(r);
    if (!s.ok()) FAIL(s.status().ToString());
    return *s;
  }
  absl::StatusOr<v1::Snapshot> Describe(const std::string& id) {
    v1::DescribeSnapshotsRequest d;
    d.add_snapshot_ids(id);
    auto resp = volumes->DescribeSnapshots(d);
    if (!resp.ok()) return resp.status();
    REQUIRE(resp->snapshots_size() == 1);
    return resp->snapshots(0);
  }
  std::string DeleteCode(const std::string& id) {
    v1::DeleteSnapshotRequest d;
    d.set_snapshot_id(id);
    return Ec2CodeOf(volumes->DeleteSnapshot(d).status());
  }
};

TEST_CASE("CreateSnapshot: answered pending, completed with 100% once the service took it") {
  // Bugs caught: the answer not EC2's `pending`; the backend not asked; the record left pending
  // after the backend answered; Progress not "100%"; the service's stored bytes not recorded;
  // the snapshot lost by a restart.
  Fixture f;
  const std::string vol = f.Volume(8);
  v1::Snapshot s = f.Snap(vol, "nightly");
  CHECK(s.snapshot_id().rfind("snap-", 0) == 0);
  CHECK(s.state() == v1::SNAPSHOT_STATE_PENDING);
  CHECK(s.volume_id() == vol);
  CHECK(s.volume_size() == 8);
  CHECK(s.owner_id() == f.ctl.state->config().owner_id);
  CHECK(f.backend->HasSnapshot(s.snapshot_id()));
  f.Reopen(true);
  auto d = f.Describe(s.snapshot_id());
  REQUIRE(d.ok());
  CHECK(d->state() == v1::SNAPSHOT_STATE_COMPLETED);
  CHECK(d->progress() == "100%");
  CHECK(d->description() == "nightly");
  CHECK(d->stored_bytes() == testing::FakeVolumeService::kStoredBytes);
  CHECK(d->has_completion_time());
}

TEST_CASE("CreateSnapshot / DeleteSnapshot / CopySnapshot refuse what EC2 refuses") {
  // Each row is one rule; bug caught per row: that rule missing (the call accepted, or another
  // code). No row may reach the volume service.
  Fixture f;
  const std::string vol = f.Volume(8);
  const std::string snap = f.Snap(vol).snapshot_id();
  const int creates_before = f.backend->snapshot_creates;
  auto create = [&](const std::string& volume_id, const std::string& description = "",
                    bool dry_run = false) {
    v1::CreateSnapshotRequest r;
    r.set_volume_id(volume_id);
    r.set_description(description);
    r.set_dry_run(dry_run);
    return Ec2CodeOf(f.volumes->CreateSnapshot(r).status());
  };
  auto copy = [&](const std::string& source, const std::string& region, bool encrypted = false) {
    v1::CopySnapshotRequest r;
    r.set_source_snapshot_id(source);
    r.set_source_region(region);
    r.set_encrypted(encrypted);
    return Ec2CodeOf(f.volumes->CopySnapshot(r).status());
  };
  struct Row {
    const char* what;
    std::string got, want;
  };
  for (const Row& row : std::vector<Row>{
           {"no volume id", create(""), "MissingParameter"},
           {"malformed volume id", create("volume-1"), "InvalidVolumeID.Malformed"},
           {"snapshot of a missing volume", create("vol-0123456789abcdef0"),
            "InvalidVolume.NotFound"},
           {"description over 255", create(vol, std::string(256, 'd')), "InvalidParameterValue"},
           {"dry run", create(vol, "", true), "DryRunOperation"},
           {"delete: no id", f.DeleteCode(""), "MissingParameter"},
           {"delete: malformed", f.DeleteCode("snapshot-1"), "InvalidSnapshotID.Malformed"},
           {"delete: unknown", f.DeleteCode("snap-0123456789abcdef0"), "InvalidSnapshot.NotFound"},
           {"copy: no source", copy("", "home-1"), "MissingParameter"},
           {"copy: no region", copy(snap, ""), "MissingParameter"},
           {"copy: other region", copy(snap, "us-east-1"), "InvalidParameterValue"},
           {"copy: unknown source", copy("snap-0123456789abcdef0", "home-1"),
            "InvalidSnapshot.NotFound"},
           {"copy: encrypted", copy(snap, "home-1", true), "UnsupportedOperation"},
       }) {
    INFO(row.what);
    CHECK(row.got == row.want);
  }
  CHECK(f.backend->snapshot_creates == creates_before);
  CHECK(f.ctl.state->snapshots().size() == 1);
}

TEST_CASE("CreateSnapshot: an unreachable service leaves it pending, Reconcile completes it") {
  // Bugs caught: a snapshot marked error because the service was down for a moment; a restart
  // forgetting to finish it; a pending snapshot deletable (its creation may still land).
  Fixture f;
  const std::string vol = f.Volume(8);
  f.backend->fail_next_snapshot = absl::UnavailableError("connection refused");
  v1::Snapshot s = f.Snap(vol);
  CHECK(f.Describe(s.snapshot_id())->state() == v1::SNAPSHOT_STATE_PENDING);
  CHECK(f.DeleteCode(s.snapshot_id()) == "IncorrectState");
  f.Reopen(true);
  CHECK(f.volumes->Reconcile() == 1);
  CHECK(f.Describe(s.snapshot_id())->state() == v1::SNAPSHOT_STATE_COMPLETED);
  CHECK(f.backend->HasSnapshot(s.snapshot_id()));

  // A final refusal records `error` with the service's reason (the snapshot_completed waiter
  // fails on it instead of waiting forever).
  f.backend->fail_next_snapshot = absl::ResourceExhaustedError("disk full");
  v1::Snapshot bad = f.Snap(vol);
  auto d = f.Describe(bad.snapshot_id());
  CHECK(d->state() == v1::SNAPSHOT_STATE_ERROR);
  CHECK(d->state_message() == "disk full");
}

TEST_CASE("DeleteSnapshot: gone from Describe at once, from the service once it answers") {
  // Bugs caught: the backend not asked; the record purged while the service still holds the
  // snapshot (unreachable); a deleting snapshot still listed; Reconcile not finishing it.
  Fixture f;
  const std::string vol = f.Volume(8);
  const std::string a = f.Snap(vol).snapshot_id();
  const std::string b = f.Snap(vol).snapshot_id();
  CHECK(f.DeleteCode(a) == "");
  CHECK_FALSE(f.backend->HasSnapshot(a));
  CHECK(Ec2CodeOf(f.Describe(a).status()) == "InvalidSnapshot.NotFound");
  CHECK(f.ctl.state->snapshots().count(a) == 0);

  f.backend->fail_next_snapshot_delete = absl::UnavailableError("down");
  CHECK(f.DeleteCode(b) == "");
  CHECK(Ec2CodeOf(f.Describe(b).status()) == "InvalidSnapshot.NotFound");
  CHECK(f.DeleteCode(b) == "InvalidSnapshot.NotFound");
  CHECK(f.ctl.state->snapshots().at(b).state() == v1::SNAPSHOT_STATE_DELETING);
  CHECK(f.backend->HasSnapshot(b));
  f.Reopen(true);
  CHECK(f.volumes->Reconcile() == 1);
  CHECK_FALSE(f.backend->HasSnapshot(b));
  CHECK(f.ctl.state->snapshots().count(b) == 0);
}

TEST_CASE("DeleteSnapshot consults the one AMI hook") {
  // Bug caught: the hook answering an image for a snapshot no AMI uses (every delete refused).
  // AMIs do not reference snapshots yet (ImageRecord has no block-device mappings); the case
  // that an AMI's snapshot is refused with InvalidSnapshot.InUse is added with them.
  Fixture f;
  const std::string snap = f.Snap(f.Volume(8)).snapshot_id();
  auto lock = f.ctl.state->LockCommitted();
  CHECK(ImageUsingSnapshotLocked(*f.ctl.state, snap).empty());
}

TEST_CASE("CopySnapshot: a new id in the source's zone, sharing its data, vol-ffffffff") {
  // Bugs caught: the copy given the source's id; the copy not made on the service; EC2's
  // vol-ffffffff not shown; the copy's description/tags dropped; a copy of a copy refused.
  Fixture f;
  const std::string src = f.Snap(f.Volume(12), "src").snapshot_id();
  v1::CopySnapshotRequest r;
  r.set_source_snapshot_id(src);
  r.set_source_region("home-1");
  r.set_description("the copy");
  auto* t = r.add_tags();
  t->set_key("k");
  t->set_value("v");
  auto copy = f.volumes->CopySnapshot(r);
  REQUIRE(copy.ok());
  CHECK(copy->snapshot_id() != src);
  CHECK(copy->tags_size() == 1);
  CHECK(f.backend->HasSnapshot(copy->snapshot_id()));
  auto d = f.Describe(copy->snapshot_id());
  REQUIRE(d.ok());
  CHECK(d->volume_id() == "vol-ffffffff");
  CHECK(d->volume_size() == 12);
  CHECK(d->description() == "the copy");
  CHECK(d->state() == v1::SNAPSHOT_STATE_COMPLETED);
  CHECK(d->availability_zone() == "home-1a");
  r.set_source_snapshot_id(copy->snapshot_id());
  CHECK(f.volumes->CopySnapshot(r).ok());
}

TEST_CASE("CreateVolume --snapshot-id: the snapshot's size by default, larger, never smaller") {
  // Bugs caught (one per check): the size not defaulting to the snapshot's; a smaller size
  // accepted; a zone whose volume service does not hold the snapshot accepted without a way to
  // copy it there (the clone would fail); the snapshot id not passed to the service (a blank
  // volume); the volume's SnapshotId not shown; a volume's clone broken by deleting its snapshot.
  Fixture f;
  const std::string snap = f.Snap(f.Volume(10)).snapshot_id();
  auto create = [&](int64_t size, const std::string& zone = "home-1a") {
    v1::CreateVolumeRequest r;
    r.set_availability_zone(zone);
    r.set_size(size);
    r.set_snapshot_id(snap);
    return f.volumes->CreateVolume(r);
  };
  auto same = create(0);
  REQUIRE(same.ok());
  CHECK(same->size() == 10);
  CHECK(same->snapshot_id() == snap);
  auto larger = create(20);
  REQUIRE(larger.ok());
  CHECK(larger->size() == 20);
  CHECK(f.backend->SizeOf(larger->volume_id()) == 20);
  CHECK(f.backend->cloned_from[larger->volume_id()] == snap);
  auto smaller = create(4);
  CHECK(Ec2CodeOf(smaller.status()) == "InvalidParameterValue");
  CHECK(smaller.status().message() == absl::StrCat("Volume of size 4GB is smaller than snapshot '",
                                                   snap, "', expect size >= 10GB"));
  // Another zone needs a copy, which this controller (no disk writer) cannot make.
  CHECK(Ec2CodeOf(create(10, "home-1c").status()) == "UnsupportedOperation");
  v1::DescribeVolumesRequest d;
  auto* fl = d.add_filters();
  fl->set_name("snapshot-id");
  fl->add_values(snap);
  CHECK(f.volumes->DescribeVolumes(d)->volumes_size() == 2);
  CHECK(f.DeleteCode(snap) == "");
  CHECK(f.backend->SizeOf(larger->volume_id()) == 20);  // the clone stays
}

TEST_CASE("DescribeSnapshots: owners, filters, tags, paging") {
  // Bugs caught: Owner=self or the account id not matching; another owner matching; a filter
  // ignored; an unknown filter matching everything; a page repeated or missing.
  Fixture f;
  const std::string v1_id = f.Volume(8), v2_id = f.Volume(16);
  v1::CreateSnapshotRequest tagged;
  tagged.set_volume_id(v1_id);
  auto* t = tagged.add_tags();
  t->set_key("team");
  t->set_value("db");
  REQUIRE(f.volumes->CreateSnapshot(tagged).ok());
  for (int i = 0; i < 6; ++i) f.Snap(v2_id);
  auto count = [&](const std::string& name, const std::string& value,
                   const std::string& owner = "") {
    v1::DescribeSnapshotsRequest d;
    if (!owner.empty()) d.add_owner_ids(owner);
    if (!name.empty()) {
      auto* fl = d.add_filters();
      fl->set_name(name);
      fl->add_values(value);
    }
    auto resp = f.volumes->DescribeSnapshots(d);
    REQUIRE(resp.ok());
    return resp->snapshots_size();
  };
  CHECK(count("", "") == 7);
  CHECK(count("", "", "self") == 7);
  CHECK(count("", "", f.ctl.state->config().owner_id) == 7);
  CHECK(count("", "", "amazon") == 0);
  CHECK(count("volume-id", v1_id) == 1);
  CHECK(count("volume-size", "16") == 6);
  CHECK(count("status", "completed") == 7);
  CHECK(count("status", "pending") == 0);
  CHECK(count("owner-id", f.ctl.state->config().owner_id) == 7);
  CHECK(count("owner-id", "123456789012") == 0);
  CHECK(count("tag:team", "db") == 1);
  CHECK(count("progress", "100%") == 7);
  v1::DescribeSnapshotsRequest bad;
  bad.add_filters()->set_name("colour");
  CHECK(Ec2CodeOf(f.volumes->DescribeSnapshots(bad).status()) == "InvalidParameterValue");

  std::set<std::string> seen;
  v1::DescribeSnapshotsRequest page;
  page.set_max_results(5);
  for (int i = 0; i < 3; ++i) {
    auto resp = f.volumes->DescribeSnapshots(page);
    REQUIRE(resp.ok());
    for (const auto& s : resp->snapshots()) CHECK(seen.insert(s.snapshot_id()).second);
    if (resp->next_token().empty()) break;
    page.set_next_token(resp->next_token());
  }
  CHECK(seen.size() == 7);
  page.add_snapshot_ids(*seen.begin());
  CHECK(Ec2CodeOf(f.volumes->DescribeSnapshots(page).status()) == "InvalidParameterCombination");
}

TEST_CASE("DescribeAvailabilityZones / DescribeHosts show each zone's volume service") {
  // Bugs caught: a down volume service shown as available; no EC2 Message for it (EC2 clients
  // see nothing); a zone without a service shown as having one; the provisioned size not the
  // zone's volumes; the host's zone's service not the one shown on the host.
  Fixture f;
  f.Volume(8);
  f.Volume(4);
  f.backend_c->reachable = false;
  auto zones = f.ctl.compute->DescribeAvailabilityZones({});
  REQUIRE(zones.ok());
  std::map<std::string, v1::AvailabilityZone> by_name;
  for (const auto& z : zones->availability_zones()) by_name[z.zone_name()] = z;
  REQUIRE(by_name.size() == 3);
  CHECK(by_name["home-1a"].volume_service().state() == "available");
  CHECK(by_name["home-1a"].volume_service().backend() == "fake");
  CHECK(by_name["home-1a"].volume_service().provisioned_gib() == 12);
  CHECK(by_name["home-1a"].volume_service().free_bytes() == int64_t{100} << 30);
  CHECK(by_name["home-1a"].messages().empty());
  CHECK(by_name["home-1b"].volume_service().state() == "none");
  CHECK(by_name["home-1c"].volume_service().state() == "unreachable");
  REQUIRE(by_name["home-1c"].messages_size() == 1);
  CHECK(by_name["home-1c"].messages(0).find("volume service of home-1c is unreachable") !=
        std::string::npos);
  CHECK(by_name["home-1c"].state() == "available");  // instances still run there

  auto hosts = f.ctl.compute->DescribeHosts({});
  REQUIRE(hosts.ok());
  for (const auto& h : hosts->hosts()) {
    const std::string& zone = h.topology().availability_zone();
    INFO(zone);
    CHECK(h.volume_service().state() == by_name[zone].volume_service().state());
  }
}

}  // namespace
}  // namespace minicloud::controller

namespace minicloud::controller {
namespace {

TEST_CASE("An EBS launch without a zone lands where its snapshots are kept") {
  // Bugs caught: the scheduler choosing a zone without the AMI's snapshot (home-1c) or without
  // a volume service (home-1b), so that a launch failed at random with InvalidAMIID.Unavailable
  // or InsufficientVolumeCapacity; a launch whose snapshots no zone holds together staging
  // anything.
  Fixture f;
  f.ctl.images->SetVolumes(f.volumes.get());
  f.ctl.compute->SetEbsHooks(
      {.serves_zone = [&f](const std::string& z) { return f.fleet.Serves(z); },
       .launched =
           [&f](const std::vector<std::string>& ids) { f.volumes->FinishLaunchVolumes(ids); }});
  const v1::Snapshot root = f.Snap(f.Volume(8, "home-1a"));
  REQUIRE(f.volumes->Reconcile() >= 0);
  v1::RegisterImageRequest reg;
  reg.set_name("baked-in-home-1a");
  reg.set_root_device_name("/dev/xvda");
  auto* m = reg.add_block_device_mappings();
  m->set_device_name("/dev/xvda");
  m->mutable_ebs()->set_snapshot_id(root.snapshot_id());
  auto image = f.ctl.images->RegisterSnapshotImage(reg);
  INFO(image.status().ToString());
  REQUIRE(image.ok());

  // The seeded zone order differs per request: without the restriction some of these would be
  // tried in home-1b or home-1c first.
  for (int i = 0; i < 6; ++i) {
    auto r = f.ctl.compute->RunInstances(f.ctl.Run(image->image_id()));
    INFO(r.status().ToString());
    REQUIRE(r.ok());
    CHECK(r->instances(0).placement().availability_zone() == "home-1a");
  }
  // A zone asked for that lacks the snapshot: EC2's code, and where the AMI can launch.
  v1::RunInstancesRequest elsewhere = f.ctl.Run(image->image_id());
  elsewhere.mutable_placement()->set_availability_zone("home-1c");
  auto unavailable = f.ctl.compute->RunInstances(elsewhere);
  CHECK(Ec2CodeOf(unavailable.status()) == "InvalidAMIID.Unavailable");
  CHECK(unavailable.status().message().find("kept in home-1a") != std::string::npos);
  size_t instances = 0;
  {
    std::lock_guard<std::mutex> lock(f.ctl.state->mu());
    instances = f.ctl.state->instances().size();
  }

  // A data volume from a snapshot of home-1c: no zone holds both.
  const v1::Snapshot data_c = f.Snap(f.Volume(8, "home-1c"));
  f.volumes->Reconcile();
  v1::RunInstancesRequest both = f.ctl.Run(image->image_id());
  auto* data = both.add_block_device_mappings();
  data->set_device_name("/dev/sdf");
  data->mutable_ebs()->set_snapshot_id(data_c.snapshot_id());
  auto refused = f.ctl.compute->RunInstances(both);
  CHECK(Ec2CodeOf(refused.status()) == "InvalidParameterCombination");
  CHECK(refused.status().message().find(data_c.snapshot_id() + ": home-1c") != std::string::npos);
  std::lock_guard<std::mutex> lock(f.ctl.state->mu());
  CHECK(f.ctl.state->instances().size() == instances);
}

}  // namespace
}  // namespace minicloud::controller

namespace minicloud::controller {
namespace {

// A key store with a fixed master key and data keys counting up (never two alike).
VolumeKeys TestVolumeKeys() {
  auto box = auth::SecretBox::FromKey(std::string(32, 'm'));
  REQUIRE(box.ok());
  auto counter = std::make_shared<int>(1);
  return VolumeKeys(*box, [counter](size_t n) -> absl::StatusOr<std::string> {
    std::string out(n, '\0');
    for (auto& c : out) c = static_cast<char>((*counter)++ * 37 + 11);
    return out;
  });
}

// Records the copies asked for; fails on request.
struct RecordingWriter : DiskWriter {
  std::vector<std::pair<std::string, std::string>> copies;  // export names: from, to
  std::vector<std::string> to_keys;                         // each copy's
  absl::Status fail_next;
  absl::Status WriteQcow2(const std::string&, const NbdEndpoint&) override {
    return absl::UnimplementedError("not in this test");
  }
  absl::Status CopyExport(const NbdEndpoint& from, const NbdEndpoint& to,
                          const std::string& to_key) override {
    if (!fail_next.ok()) return std::exchange(fail_next, absl::OkStatus());
    copies.emplace_back(from.export_name, to.export_name);
    to_keys.push_back(to_key);
    return absl::OkStatus();
  }
};

TEST_CASE("CreateVolume from a snapshot of another zone: a full copy by the reconcile loop") {
  // Bugs caught: the copy made inside the API call (the volume answered available at once);
  // the volume made on the snapshot's service instead of its own zone's, or as a clone there
  // (the target service has no such snapshot); the copy read from anything but a clone of the
  // snapshot, or not unexported / not dropped afterwards; a failed copy turning the volume to
  // error instead of being asked again; an encrypted copy accepted without a key store.
  Fixture f;
  RecordingWriter writer;
  f.volumes->SetImageSource(nullptr, &writer);
  const std::string snap = f.Snap(f.Volume(10, "home-1a")).snapshot_id();
  f.volumes->Reconcile();
  v1::CreateVolumeRequest r;
  r.set_availability_zone("home-1c");
  r.set_size(12);
  r.set_snapshot_id(snap);
  auto v = f.volumes->CreateVolume(r);
  INFO(v.status().ToString());
  REQUIRE(v.ok());
  CHECK(v->state() == v1::VOLUME_STATE_CREATING);
  CHECK(v->snapshot_id() == snap);
  CHECK(writer.copies.empty());
  const std::string id = v->volume_id();

  writer.fail_next = absl::UnavailableError("injected: the source went away");
  f.volumes->Reconcile();
  v1::DescribeVolumesRequest d;
  d.add_volume_ids(id);
  CHECK(f.volumes->DescribeVolumes(d)->volumes(0).state() == v1::VOLUME_STATE_CREATING);

  f.volumes->Reconcile();
  CHECK(f.volumes->DescribeVolumes(d)->volumes(0).state() == v1::VOLUME_STATE_AVAILABLE);
  REQUIRE(writer.copies.size() == 1);
  const std::string scratch = writer.copies[0].first;
  CHECK(writer.copies[0].second == id);
  CHECK(f.backend->cloned_from[scratch] == snap);       // read from a clone of the snapshot
  CHECK_FALSE(f.backend->SizeOf(scratch).has_value());  // dropped afterwards
  CHECK_FALSE(f.backend->IsExported(scratch));
  CHECK(f.backend_c->SizeOf(id) == 12);  // made on its own zone's service
  CHECK(f.backend_c->cloned_from.count(id) == 0);
  CHECK_FALSE(f.backend_c->IsExported(id));
  CHECK_FALSE(f.backend->SizeOf(id).has_value());

  r.set_encrypted(true);
  CHECK(Ec2CodeOf(f.volumes->CreateVolume(r).status()) == "UnsupportedOperation");
}

TEST_CASE("An EBS launch into a zone without its snapshots: copied there, pending until then") {
  // Bugs caught: a baked AMI refused in a zone that does not keep its snapshot (EC2's snapshots
  // are regional); the copy made inside RunInstances; the root cloned on the target service
  // (which has no such snapshot) or made on the source's; the instance booted before its root
  // is copied and exported; an encrypted copy read or written without its key, or its target
  // formatted with another key; a launch whose snapshots no zone keeps together refused although
  // they can be copied.
  Fixture f;
  RecordingWriter writer;
  f.volumes->SetImageSource(nullptr, &writer);
  f.ctl.images->SetVolumes(f.volumes.get());
  f.ctl.compute->SetEbsHooks(
      {.serves_zone = [&f](const std::string& z) { return f.fleet.Serves(z); },
       .launched =
           [&f](const std::vector<std::string>& ids) { f.volumes->FinishLaunchVolumes(ids); },
       .zone_copy =
           [&f](const v1::SnapshotRecord& snap, const std::string& zone, bool encrypt) {
             return f.volumes->CheckZoneCopyLocked(snap, zone, encrypt);
           }});
  auto register_image = [&f](const std::string& name, const std::string& snapshot_id) {
    v1::RegisterImageRequest reg;
    reg.set_name(name);
    reg.set_root_device_name("/dev/xvda");
    auto* m = reg.add_block_device_mappings();
    m->set_device_name("/dev/xvda");
    m->mutable_ebs()->set_snapshot_id(snapshot_id);
    auto image = f.ctl.images->RegisterSnapshotImage(reg);
    INFO(image.status().ToString());
    REQUIRE(image.ok());
    return image->image_id();
  };
  auto record_of = [&f](const std::string& instance_id) {
    std::lock_guard<std::mutex> lock(f.ctl.state->mu());
    return f.ctl.state->instances().at(instance_id);
  };
  auto volume_of = [&f](const std::string& volume_id) {
    std::lock_guard<std::mutex> lock(f.ctl.state->mu());
    return f.ctl.state->volumes().at(volume_id);
  };
  const std::string root_snap = f.Snap(f.Volume(8, "home-1a")).snapshot_id();
  f.volumes->Reconcile();
  const std::string image = register_image("baked-in-home-1a", root_snap);

  v1::RunInstancesRequest in_c = f.ctl.Run(image);
  in_c.mutable_placement()->set_availability_zone("home-1c");
  auto launched = f.ctl.compute->RunInstances(in_c);
  INFO(launched.status().ToString());
  REQUIRE(launched.ok());
  const std::string instance = launched->instances(0).instance_id();
  CHECK(launched->instances(0).placement().availability_zone() == "home-1c");
  const std::string root = record_of(instance).root_volume_id();
  CHECK(volume_of(root).availability_zone() == "home-1c");
  CHECK(volume_of(root).snapshot_id() == root_snap);
  CHECK(volume_of(root).state() == v1::VOLUME_STATE_CREATING);
  CHECK(volume_of(root).attachments(0).nbd_host().empty());  // nothing for the host to boot
  CHECK(writer.copies.empty());

  f.volumes->Reconcile();
  REQUIRE(writer.copies.size() == 1);
  CHECK(writer.copies[0].second == root);
  CHECK(f.backend->cloned_from[writer.copies[0].first] == root_snap);
  CHECK(f.backend_c->SizeOf(root).has_value());  // on its own zone's service, not a clone
  CHECK(f.backend_c->cloned_from.count(root) == 0);
  CHECK_FALSE(f.backend->SizeOf(root).has_value());
  CHECK(volume_of(root).state() == v1::VOLUME_STATE_IN_USE);
  CHECK_FALSE(volume_of(root).attachments(0).nbd_host().empty());  // exported: the host boots it
  CHECK(f.backend_c->IsExported(root));

  // No zone keeps both the AMI's snapshot (home-1a) and the data snapshot (home-1c): the launch
  // lands in one of them and the other snapshot is copied.
  const std::string data_snap = f.Snap(f.Volume(4, "home-1c")).snapshot_id();
  f.volumes->Reconcile();
  v1::RunInstancesRequest both = f.ctl.Run(image);
  auto* data = both.add_block_device_mappings();
  data->set_device_name("/dev/sdf");
  data->mutable_ebs()->set_snapshot_id(data_snap);
  auto mixed = f.ctl.compute->RunInstances(both);
  INFO(mixed.status().ToString());
  REQUIRE(mixed.ok());
  const std::string zone = mixed->instances(0).placement().availability_zone();
  CHECK((zone == "home-1a" || zone == "home-1c"));
  const size_t copies_before = writer.copies.size();
  f.volumes->Reconcile();
  CHECK(writer.copies.size() == copies_before + 1);  // one of the two, the other cloned

  // An encrypted AMI: its root is copied too, as the LUKS container it is (a volume from an
  // encrypted snapshot keeps its key), onto a volume its service formats with that key. Without
  // a key store: refused.
  VolumeKeys keys = TestVolumeKeys();
  f.volumes->SetVolumeKeys(&keys);
  v1::CreateVolumeRequest enc;
  enc.set_availability_zone("home-1a");
  enc.set_size(8);
  enc.set_encrypted(true);
  auto enc_volume = f.volumes->CreateVolume(enc);
  REQUIRE(enc_volume.ok());
  const std::string enc_snap = f.Snap(enc_volume->volume_id()).snapshot_id();
  f.volumes->Reconcile();
  const std::string enc_image = register_image("encrypted-in-home-1a", enc_snap);
  v1::RunInstancesRequest enc_in_c = f.ctl.Run(enc_image);
  enc_in_c.mutable_placement()->set_availability_zone("home-1c");

  f.volumes->SetVolumeKeys(nullptr);
  size_t instances = 0;
  {
    std::lock_guard<std::mutex> lock(f.ctl.state->mu());
    instances = f.ctl.state->instances().size();
  }
  auto refused = f.ctl.compute->RunInstances(enc_in_c);
  CHECK(Ec2CodeOf(refused.status()) == "InvalidAMIID.Unavailable");
  CHECK(refused.status().message().find("kept in home-1a and cannot be copied") !=
        std::string::npos);
  {
    std::lock_guard<std::mutex> lock(f.ctl.state->mu());
    CHECK(f.ctl.state->instances().size() == instances);
  }

  f.volumes->SetVolumeKeys(&keys);
  auto enc_launched = f.ctl.compute->RunInstances(enc_in_c);
  INFO(enc_launched.status().ToString());
  REQUIRE(enc_launched.ok());
  const std::string enc_root = record_of(enc_launched->instances(0).instance_id()).root_volume_id();
  const size_t before = writer.copies.size();
  f.volumes->Reconcile();
  REQUIRE(writer.copies.size() == before + 1);
  CHECK(writer.copies.back().second == enc_root);
  const v1::VolumeRecord enc_record = volume_of(enc_root);
  CHECK(enc_record.encrypted());
  CHECK(enc_record.state() == v1::VOLUME_STATE_IN_USE);
  auto snap_key = [&] {
    std::lock_guard<std::mutex> lock(f.ctl.state->mu());
    const v1::SnapshotRecord& s = f.ctl.state->snapshots().at(enc_snap);
    return keys.Open(s.sealed_data_key(), s.data_key_id());
  }();
  REQUIRE(snap_key.ok());
  auto volume_key = keys.Open(enc_record.sealed_data_key(), enc_record.data_key_id());
  REQUIRE(volume_key.ok());
  CHECK(*volume_key == *snap_key);
  CHECK(writer.to_keys.back().empty());             // the container as it is: never decrypted
  CHECK(f.backend_c->keys[enc_root] == *snap_key);  // formatted with the key it is read with
  CHECK(writer.to_keys.front().empty());            // plain copies stay plain
}

TEST_CASE("CreateVolume --encrypted from a plain snapshot of another zone: written through LUKS") {
  // Bugs caught: the plain data copied as it is into an encrypted volume (a host would decrypt
  // garbage); the target formatted with another key than the volume's own; the copy accepted
  // without a key store.
  Fixture f;
  RecordingWriter writer;
  f.volumes->SetImageSource(nullptr, &writer);
  const std::string snap = f.Snap(f.Volume(10, "home-1a")).snapshot_id();
  f.volumes->Reconcile();
  v1::CreateVolumeRequest r;
  r.set_availability_zone("home-1c");
  r.set_snapshot_id(snap);
  r.set_encrypted(true);
  CHECK(Ec2CodeOf(f.volumes->CreateVolume(r).status()) == "UnsupportedOperation");

  VolumeKeys keys = TestVolumeKeys();
  f.volumes->SetVolumeKeys(&keys);
  auto v = f.volumes->CreateVolume(r);
  INFO(v.status().ToString());
  REQUIRE(v.ok());
  f.volumes->Reconcile();
  REQUIRE(writer.to_keys.size() == 1);
  v1::VolumeRecord record;
  {
    std::lock_guard<std::mutex> lock(f.ctl.state->mu());
    record = f.ctl.state->volumes().at(v->volume_id());
  }
  CHECK(record.state() == v1::VOLUME_STATE_AVAILABLE);
  CHECK(record.data_key_id() == record.volume_id());  // a key of its own
  auto own = keys.Open(record.sealed_data_key(), record.data_key_id());
  REQUIRE(own.ok());
  CHECK(writer.to_keys[0] == *own);
  CHECK(f.backend_c->keys[v->volume_id()] == *own);
}

}  // namespace
}  // namespace minicloud::controller
