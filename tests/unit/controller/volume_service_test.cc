// VolumeService over the real store (RocksDB in a temp dir) and a fake volume service: the API's
// rules, the records, and what a restart or an unreachable volume service leaves behind.
#include "controller/service/volume_service.h"

#include <catch2/catch.hpp>
#include <memory>

#include "common/ec2_error.h"
#include "tests/testing/volume_fixture.h"

namespace minicloud::controller {
namespace {

struct Fixture : testing::VolumeFixture {
  Fixture() {
    ctl.AddHost("home-1a");
    ctl.AddHost("home-1b");
    fleet.Add("home-1a", backend);  // home-1b has hosts but no volume service
    OpenVolumes();
  }
  v1::CreateVolumeRequest Req(int64_t size = 8, const std::string& type = "") {
    v1::CreateVolumeRequest r;
    r.set_availability_zone("home-1a");
    r.set_size(size);
    r.set_volume_type(type);
    return r;
  }
  v1::Volume Create(const v1::CreateVolumeRequest& r) {
    auto v = volumes->CreateVolume(r);
    if (!v.ok()) FAIL(v.status().ToString());
    return *v;
  }
};

TEST_CASE(
    "CreateVolume: gp2 by default, answered creating, made on the zone's service, available") {
  // Bugs caught: the default type not gp2; gp2's IOPS not its baseline; the backend not asked;
  // the answer not EC2's `creating`; the record left creating after the backend answered.
  Fixture f;
  v1::Volume v = f.Create(f.Req(100));
  CHECK(v.volume_id().rfind("vol-", 0) == 0);
  CHECK(v.volume_type() == "gp2");
  CHECK(v.iops() == 300);
  CHECK(v.state() == v1::VOLUME_STATE_CREATING);
  CHECK(f.DescribeVolume(v.volume_id()).state() == v1::VOLUME_STATE_AVAILABLE);
  CHECK(f.backend->SizeOf(v.volume_id()) == 100);
  // Durable: a restarted controller still has it.
  f.OpenVolumes(true);
  CHECK(f.DescribeVolume(v.volume_id()).size() == 100);
}

TEST_CASE("CreateVolume refuses what EC2 refuses, before anything is made") {
  // Bug caught: a rule checked after the backend was asked (a volume made, then refused).
  Fixture f;
  auto code = [&](v1::CreateVolumeRequest r) {
    return Ec2CodeOf(f.volumes->CreateVolume(r).status());
  };
  v1::CreateVolumeRequest r = f.Req(3, "io1");
  r.set_iops(100);
  CHECK(code(r) == "InvalidParameterValue");  // io1 starts at 4 GiB
  CHECK(code(f.Req(10, "io2")) == "MissingParameter");
  r = f.Req(10, "gp2");
  r.set_iops(300);
  CHECK(code(r) == "InvalidParameterCombination");
  r = f.Req(10, "gp3");
  r.set_multi_attach_enabled(true);
  CHECK(code(r) == "InvalidParameterCombination");
  CHECK(code(f.Req(10, "gp4")) == "InvalidParameterValue");
  r = f.Req(10);
  r.set_availability_zone("");
  CHECK(code(r) == "MissingParameter");
  r.set_availability_zone("mars-1a");
  CHECK(code(r) == "InvalidParameterValue");
  r.set_availability_zone("home-1b");  // a zone with hosts but no volume service
  CHECK(code(r) == "InsufficientVolumeCapacity");
  r = f.Req(0);
  r.set_snapshot_id("snap-0123456789abcdef0");
  CHECK(code(r) == "InvalidSnapshot.NotFound");
  r.set_snapshot_id("snapshot-1");
  CHECK(code(r) == "InvalidSnapshotID.Malformed");
  r = f.Req(10);
  r.set_dry_run(true);
  CHECK(code(r) == "DryRunOperation");
  CHECK(f.backend->creates == 0);
  CHECK(f.ctl.state->volumes().empty());
}

TEST_CASE("CreateVolume: an unreachable volume service leaves it creating, Reconcile finishes") {
  // Bugs caught: a volume marked error (or dropped) because the service was down for a moment;
  // a restart forgetting to finish it.
  Fixture f;
  f.backend->fail_next_create = absl::UnavailableError("connection refused");
  v1::Volume v = f.Create(f.Req(20));
  CHECK(v.state() == v1::VOLUME_STATE_CREATING);
  f.OpenVolumes(true);
  CHECK(f.volumes->Reconcile() == 1);
  CHECK(f.DescribeVolume(v.volume_id()).state() == v1::VOLUME_STATE_AVAILABLE);
  CHECK(f.backend->SizeOf(v.volume_id()) == 20);
}

TEST_CASE("CreateVolume: a refusal of the volume service records the volume in error") {
  // Bug caught: a failed create reported as success, or the failed volume invisible.
  Fixture f;
  f.backend->fail_next_create = absl::ResourceExhaustedError("disk full");
  auto v = f.volumes->CreateVolume(f.Req(20));
  REQUIRE(v.ok());  // EC2 accepts, then shows the volume `error`
  CHECK(v->state() == v1::VOLUME_STATE_CREATING);
  CHECK(f.DescribeVolume(v->volume_id()).state() == v1::VOLUME_STATE_ERROR);
  REQUIRE(f.ctl.state->volumes().size() == 1);
  const auto& r = f.ctl.state->volumes().begin()->second;
  CHECK(r.state() == v1::VOLUME_STATE_ERROR);
  CHECK(r.error_message() == "disk full");
}

TEST_CASE("CreateVolume: a ClientToken makes a retry return the first volume") {
  // Bugs caught: a retried call making a second volume; a token reused with other parameters.
  Fixture f;
  v1::CreateVolumeRequest r = f.Req(8);
  r.set_client_token("tok-1");
  v1::Volume a = f.Create(r);
  v1::Volume b = f.Create(r);
  CHECK(a.volume_id() == b.volume_id());
  CHECK(f.backend->creates == 1);
  r.set_size(9);
  CHECK(Ec2CodeOf(f.volumes->CreateVolume(r).status()) == "IdempotentParameterMismatch");
}

TEST_CASE("DeleteVolume: only an available volume, the backend's bytes go, unknown ids") {
  // Bugs caught: deleting an in-use volume; the record purged while the backend still holds it.
  Fixture f;
  v1::Volume v = f.Create(f.Req(8));
  v1::DeleteVolumeRequest d;
  d.set_volume_id("vol-0000000000000000f");
  CHECK(Ec2CodeOf(f.volumes->DeleteVolume(d).status()) == "InvalidVolume.NotFound");
  d.set_volume_id("volume-1");
  CHECK(Ec2CodeOf(f.volumes->DeleteVolume(d).status()) == "InvalidVolumeID.Malformed");

  // An in-use volume (as an attach records it) is refused with VolumeInUse.
  {
    auto lock = f.ctl.state->LockCommitted();
    v1::VolumeRecord r = f.ctl.state->volumes().at(v.volume_id());
    r.set_state(v1::VOLUME_STATE_IN_USE);
    auto* a = r.add_attachments();
    a->set_instance_id("i-0123456789abcdef0");
    a->set_state(v1::ATTACHMENT_STATE_ATTACHED);
    CloudState::Changes c;
    c.volumes[r.volume_id()] = r;
    REQUIRE(f.ctl.state->CommitLocked(c).ok());
  }
  d.set_volume_id(v.volume_id());
  auto in_use = f.volumes->DeleteVolume(d);
  CHECK(Ec2CodeOf(in_use.status()) == "VolumeInUse");
  CHECK(in_use.status().message() ==
        absl::StrCat("Volume ", v.volume_id(), " is currently attached to i-0123456789abcdef0"));
  CHECK(f.backend->SizeOf(v.volume_id()).has_value());

  v1::Volume w = f.Create(f.Req(8));
  f.backend->fail_next_delete = absl::UnavailableError("down");
  d.set_volume_id(w.volume_id());
  REQUIRE(f.volumes->DeleteVolume(d).ok());
  CHECK(f.DescribeVolume(w.volume_id()).state() == v1::VOLUME_STATE_DELETING);
  // Two change: the deleted one, and the first, whose attachment names an instance that does
  // not exist (ReconcileAttachments detaches it: available again).
  CHECK(f.volumes->Reconcile() == 2);
  CHECK(f.ctl.state->volumes().count(w.volume_id()) == 0);
  CHECK(f.DescribeVolume(v.volume_id()).state() == v1::VOLUME_STATE_AVAILABLE);
  CHECK_FALSE(f.backend->SizeOf(w.volume_id()).has_value());
}

TEST_CASE("ModifyVolume: grow only, type and IOPS by the same rules, recorded modifications") {
  // Bugs caught: a shrink accepted; a grow not reaching the backend; io1 without a ratio check
  // on the target; the modification not listed.
  Fixture f;
  v1::Volume v = f.Create(f.Req(10, "gp3"));
  CHECK(v.iops() == 3000);
  CHECK(v.throughput() == 125);
  v1::ModifyVolumeRequest m;
  m.set_volume_id(v.volume_id());
  m.set_size(5);
  CHECK(Ec2CodeOf(f.volumes->ModifyVolume(m).status()) == "InvalidParameterValue");
  m.set_size(20);
  m.set_volume_type("io1");
  m.set_iops(2000);  // 100 per GiB: above io1's 50
  CHECK(Ec2CodeOf(f.volumes->ModifyVolume(m).status()) == "InvalidParameterValue");
  m.set_iops(1000);
  auto done = f.volumes->ModifyVolume(m);
  REQUIRE(done.ok());
  CHECK(done->modification().state() == v1::MODIFICATION_STATE_COMPLETED);
  CHECK(done->modification().original_size() == 10);
  CHECK(done->modification().target_size() == 20);
  CHECK(f.backend->SizeOf(v.volume_id()) == 20);
  v1::Volume after = f.DescribeVolume(v.volume_id());
  CHECK(after.volume_type() == "io1");
  CHECK(after.iops() == 1000);
  CHECK(after.throughput() == 0);
  // A modification that changes nothing is refused.
  v1::ModifyVolumeRequest same;
  same.set_volume_id(v.volume_id());
  same.set_size(20);
  CHECK(Ec2CodeOf(f.volumes->ModifyVolume(same).status()) == "InvalidParameterValue");
  v1::DescribeVolumesModificationsRequest dm;
  dm.add_volume_ids(v.volume_id());
  auto mods = f.volumes->DescribeVolumesModifications(dm);
  REQUIRE(mods.ok());
  REQUIRE(mods->modifications_size() == 1);
  CHECK(mods->modifications(0).target_volume_type() == "io1");
}

TEST_CASE("DescribeVolumes: filters, tags, paging") {
  // Bugs caught: a filter ignored; an unknown filter matching everything; a page repeated.
  Fixture f;
  v1::CreateVolumeRequest r = f.Req(8);
  auto* t = r.add_tags();
  t->set_key("team");
  t->set_value("db");
  f.Create(r);
  f.Create(f.Req(9, "gp3"));
  for (int i = 0; i < 5; ++i) f.Create(f.Req(125, "st1"));
  auto count = [&](const std::string& name, const std::string& value) {
    v1::DescribeVolumesRequest d;
    auto* fl = d.add_filters();
    fl->set_name(name);
    fl->add_values(value);
    auto resp = f.volumes->DescribeVolumes(d);
    REQUIRE(resp.ok());
    return resp->volumes_size();
  };
  CHECK(count("volume-type", "st1") == 5);
  CHECK(count("size", "9") == 1);
  CHECK(count("tag:team", "db") == 1);
  CHECK(count("tag-key", "team") == 1);
  CHECK(count("status", "available") == 7);
  CHECK(count("availability-zone", "home-1a") == 7);
  CHECK(count("attachment.instance-id", "i-0123456789abcdef0") == 0);
  v1::DescribeVolumesRequest bad;
  bad.add_filters()->set_name("colour");
  CHECK(Ec2CodeOf(f.volumes->DescribeVolumes(bad).status()) == "InvalidParameterValue");

  std::set<std::string> seen;
  v1::DescribeVolumesRequest page;
  page.set_max_results(5);
  for (int i = 0; i < 3; ++i) {
    auto resp = f.volumes->DescribeVolumes(page);
    REQUIRE(resp.ok());
    for (const auto& v : resp->volumes()) CHECK(seen.insert(v.volume_id()).second);
    if (resp->next_token().empty()) break;
    page.set_next_token(resp->next_token());
  }
  CHECK(seen.size() == 7);
  page.add_volume_ids(*seen.begin());
  CHECK(Ec2CodeOf(f.volumes->DescribeVolumes(page).status()) == "InvalidParameterCombination");
}

}  // namespace
}  // namespace minicloud::controller
