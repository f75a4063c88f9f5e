// AttachDisk / DetachDisk on the fake hypervisor (the contract in hypervisor.h).
// Bugs each test would catch:
// - "attach ... kept across stop/start": attach that only touches the running state (the disk
//   gone from SpecOf after StopDomain + CreateAndStart of the recorded spec).
// - "idempotent": a second attach of the same volume adding a duplicate disk, or refusing.
// - "another disk at the target": attaching over a different volume's target.
// - "detach": detach that leaves the disk, fails on a missing target, or removes the root.
// - "refusals": attach of an invalid disk or to a missing / foreign domain succeeding.

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "agent/hypervisor/fake/fake_hypervisor.h"
#include "tests/unit/hypervisor/spec_builder.h"

namespace minicloud::hypervisor {
namespace {

using testing::MakeSpec;

EbsDisk Disk(std::string volume_id, std::string target) {
  return EbsDisk{.volume_id = volume_id,
                 .nbd_host = "10.0.0.5",
                 .nbd_port = 10809,
                 .export_name = volume_id,
                 .target_dev = std::move(target),
                 .iotune = {.total_iops_sec = 3000, .total_bytes_sec = 125 << 20}};
}

std::vector<std::string> Targets(const FakeHypervisor& hv, std::string_view id) {
  std::vector<std::string> out;
  // SpecOf answers a copy: kept in a variable, as a range-for does not extend the life of a
  // temporary reached through operator->.
  const auto spec = hv.SpecOf(id);
  for (const EbsDisk& d : spec->ebs_disks) out.push_back(d.target_dev);
  return out;
}

TEST_CASE("Fake: attach goes into the running guest, kept across stop/start", "[fake][disks]") {
  FakeHypervisor hv;
  REQUIRE(hv.CreateAndStart(MakeSpec("i-1")).ok());
  REQUIRE(hv.AttachDisk("i-1", Disk("vol-0123456789abcdef0", "vdf")).ok());
  REQUIRE(hv.AttachDisk("i-1", Disk("vol-0123456789abcdef1", "vdg")).ok());
  CHECK(Targets(hv, "i-1") == std::vector<std::string>{"vdf", "vdg"});
  REQUIRE(hv.StopDomain("i-1", StopMode::kForce).ok());
  REQUIRE(hv.CreateAndStart(*hv.SpecOf("i-1")).ok());
  CHECK(Targets(hv, "i-1") == std::vector<std::string>{"vdf", "vdg"});
  CHECK(hv.SpecOf("i-1")->ebs_disks[0].export_name == "vol-0123456789abcdef0");
  // Like the real adapter, a shut-off domain takes no disk (it gets its disks when it starts)
  // and lists none.
  REQUIRE(hv.StopDomain("i-1", StopMode::kForce).ok());
  REQUIRE(hv.AttachDisk("i-1", Disk("vol-0123456789abcdef2", "vdh")).ok());
  CHECK(Targets(hv, "i-1") == std::vector<std::string>{"vdf", "vdg"});
  CHECK(hv.ListEbsDisks("i-1")->empty());
}

TEST_CASE("Fake: attach is idempotent", "[fake][disks]") {
  FakeHypervisor hv;
  REQUIRE(hv.CreateAndStart(MakeSpec("i-1")).ok());
  REQUIRE(hv.AttachDisk("i-1", Disk("vol-0123456789abcdef0", "vdf")).ok());
  REQUIRE(hv.AttachDisk("i-1", Disk("vol-0123456789abcdef0", "vdf")).ok());
  CHECK(Targets(hv, "i-1") == std::vector<std::string>{"vdf"});
  CHECK(hv.attach_calls() == 2);
}

TEST_CASE("Fake: attach refuses another disk at the target", "[fake][disks]") {
  FakeHypervisor hv;
  REQUIRE(hv.CreateAndStart(MakeSpec("i-1")).ok());
  REQUIRE(hv.AttachDisk("i-1", Disk("vol-0123456789abcdef0", "vdf")).ok());
  const absl::Status s = hv.AttachDisk("i-1", Disk("vol-0123456789abcdef1", "vdf"));
  CHECK(s.code() == absl::StatusCode::kFailedPrecondition);
  CHECK(hv.SpecOf("i-1")->ebs_disks.size() == 1);
  CHECK(hv.SpecOf("i-1")->ebs_disks[0].volume_id == "vol-0123456789abcdef0");
}

TEST_CASE("Fake: detach removes the disk, is idempotent, keeps the root", "[fake][disks]") {
  FakeHypervisor hv;
  REQUIRE(hv.CreateAndStart(MakeSpec("i-1")).ok());
  REQUIRE(hv.AttachDisk("i-1", Disk("vol-0123456789abcdef0", "vdf")).ok());
  REQUIRE(hv.AttachDisk("i-1", Disk("vol-0123456789abcdef1", "vdg")).ok());
  REQUIRE(hv.DetachDisk("i-1", "vdf").ok());
  CHECK(Targets(hv, "i-1") == std::vector<std::string>{"vdg"});
  REQUIRE(hv.DetachDisk("i-1", "vdf").ok());  // already gone
  CHECK(Targets(hv, "i-1") == std::vector<std::string>{"vdg"});
  CHECK(hv.DetachDisk("i-1", "vda").code() == absl::StatusCode::kFailedPrecondition);
  CHECK(hv.detach_calls() == 3);
  // The freed target takes another volume.
  REQUIRE(hv.AttachDisk("i-1", Disk("vol-0123456789abcdef2", "vdf")).ok());
  CHECK(Targets(hv, "i-1") == std::vector<std::string>{"vdg", "vdf"});
}

TEST_CASE("Fake: attach and detach refusals", "[fake][disks]") {
  FakeHypervisor hv;
  REQUIRE(hv.CreateAndStart(MakeSpec("i-1")).ok());
  hv.AddForeignDomain("other");
  CHECK(hv.AttachDisk("i-2", Disk("vol-0123456789abcdef0", "vdf")).code() ==
        absl::StatusCode::kNotFound);
  CHECK(hv.AttachDisk("other", Disk("vol-0123456789abcdef0", "vdf")).code() ==
        absl::StatusCode::kNotFound);
  CHECK(hv.DetachDisk("i-2", "vdf").code() == absl::StatusCode::kNotFound);
  EbsDisk bad = Disk("vol-0123456789abcdef0", "vdf");
  bad.nbd_host = "10.0.0.5'/><evil";
  CHECK(hv.AttachDisk("i-1", bad).code() == absl::StatusCode::kInvalidArgument);
  CHECK(hv.AttachDisk("i-1", Disk("vol-0123456789abcdef0", "vda")).code() ==
        absl::StatusCode::kInvalidArgument);
  CHECK(hv.SpecOf("i-1")->ebs_disks.empty());
  hv.FailNextAttach(absl::UnavailableError("qemu monitor gone"));
  CHECK(hv.AttachDisk("i-1", Disk("vol-0123456789abcdef0", "vdf")).code() ==
        absl::StatusCode::kUnavailable);
  CHECK(hv.SpecOf("i-1")->ebs_disks.empty());
  REQUIRE(hv.AttachDisk("i-1", Disk("vol-0123456789abcdef0", "vdf")).ok());
  hv.FailNextDetach(absl::UnavailableError("qemu monitor gone"));
  CHECK(hv.DetachDisk("i-1", "vdf").code() == absl::StatusCode::kUnavailable);
  CHECK(hv.SpecOf("i-1")->ebs_disks.size() == 1);
}

TEST_CASE("Fake: ListEbsDisks, and a guest that holds an unplugged disk", "[fake][disks]") {
  // Bugs caught: ListEbsDisks not showing an attached disk; HoldDisks ignored (the integration
  // tests of a slow guest would pass without waiting).
  FakeHypervisor hv;
  const std::string id = "i-0000000000000d15c";
  REQUIRE(hv.CreateAndStart(testing::MakeSpec(id)).ok());
  REQUIRE(hv.AttachDisk(id, EbsDisk{.volume_id = "vol-0123456789abcdef0",
                                    .nbd_host = "10.0.0.5",
                                    .export_name = "vol-0123456789abcdef0",
                                    .target_dev = "vdf"})
              .ok());
  auto listed = hv.ListEbsDisks(id);
  REQUIRE(listed.ok());
  REQUIRE(listed->size() == 1);
  CHECK((*listed)[0].export_name == "vol-0123456789abcdef0");
  hv.HoldDisks(true);
  REQUIRE(hv.DetachDisk(id, "vdf").ok());
  CHECK(hv.ListEbsDisks(id)->size() == 1);
  hv.HoldDisks(false);
  REQUIRE(hv.DetachDisk(id, "vdf").ok());
  CHECK(hv.ListEbsDisks(id)->empty());
  CHECK(hv.ListEbsDisks("i-00000000000000404").status().code() == absl::StatusCode::kNotFound);
}

}  // namespace
// Would catch: the fake letting an EBS attach take an instance-store target, or detaching an
// instance-store disk (the libvirt adapter refuses both).
TEST_CASE("Fake: instance-store disks hold their targets and stay", "[fake][disks]") {
  FakeHypervisor hv;
  REQUIRE(hv.CreateAndStart(MakeSpec("i-1").InstanceStore("/e0.img", "vdb", "ephemeral0")).ok());
  CHECK(hv.AttachDisk("i-1", Disk("vol-0123456789abcdef0", "vdb")).code() ==
        absl::StatusCode::kFailedPrecondition);
  CHECK(hv.DetachDisk("i-1", "vdb").code() == absl::StatusCode::kFailedPrecondition);
  CHECK(hv.SpecOf("i-1")->instance_store.size() == 1);
}

}  // namespace minicloud::hypervisor
