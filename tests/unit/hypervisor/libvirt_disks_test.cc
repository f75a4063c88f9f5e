// AttachDisk / DetachDisk / ListEbsDisks of the real adapter on libvirt's test driver
// (test:///default). EBS disks are plugged over QMP (ebs_qmp.h), which the test driver has no
// monitor for, so this covers what the adapter decides before it speaks QMP: the refusals, the
// idempotent detach, and that a domain's definition never holds an EBS disk. The plugging itself
// needs QEMU (hypervisor_crypt_e2e_test, e2e).
// Bugs each test would catch:
// - an EBS disk written into the domain's definition (libvirt would plug it without reconnect);
// - an invalid disk, the root's target or a missing domain reaching QEMU;
// - detach of an absent target failing instead of succeeding, or the root detached;
// - an EBS attach allowed onto an instance-store target, or an instance-store disk detached.

#include <catch2/catch.hpp>
#include <memory>
#include <string>

#include "agent/hypervisor/libvirt/libvirt_hypervisor.h"
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

TEST_CASE("Libvirt: EBS disk refusals, and no EBS disk in a definition", "[libvirt][disks]") {
  absl::StatusOr<std::unique_ptr<LibvirtHypervisor>> opened =
      LibvirtHypervisor::Open("test:///default");
  INFO(opened.status().ToString());
  REQUIRE(opened.ok());
  LibvirtHypervisor& hv = **opened;
  const std::string id = "i-0000000000000d15c";
  REQUIRE(hv.CreateAndStart(MakeSpec(id)).ok());

  // A running guest without a QEMU monitor has no EBS disks.
  absl::StatusOr<std::vector<AttachedEbsDisk>> listed = hv.ListEbsDisks(id);
  REQUIRE(listed.ok());
  CHECK(listed->empty());
  CHECK(hv.ListEbsDisks("i-00000000000000404").status().code() == absl::StatusCode::kNotFound);

  CHECK(hv.AttachDisk(id, Disk("vol-0123456789abcdef1", "vda")).code() ==
        absl::StatusCode::kInvalidArgument);
  EbsDisk hostile = Disk("vol-0123456789abcdef1", "vdg");
  hostile.export_name = "x'/><source file='/etc/shadow";
  CHECK(hv.AttachDisk(id, hostile).code() == absl::StatusCode::kInvalidArgument);
  CHECK(hv.AttachDisk("i-00000000000000404", Disk("vol-0123456789abcdef1", "vdg")).code() ==
        absl::StatusCode::kNotFound);
  // Detach: absent target is success, the root is refused, a missing domain NotFound.
  CHECK(hv.DetachDisk(id, "vdz").ok());
  CHECK(hv.DetachDisk(id, "vda").code() == absl::StatusCode::kFailedPrecondition);
  CHECK(hv.DetachDisk("i-00000000000000404", "vdf").code() == absl::StatusCode::kNotFound);
  REQUIRE(hv.Destroy(id).ok());

  // A domain with an EBS disk in its spec starts paused for the plug, which needs QEMU's monitor:
  // the start fails and leaves nothing defined (never a definition holding the disk).
  const absl::Status with_ebs =
      hv.CreateAndStart(MakeSpec(id).Ebs(Disk("vol-0123456789abcdef0", "vdf")));
  CHECK_FALSE(with_ebs.ok());
  CHECK(hv.Get(id).status().code() == absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace minicloud::hypervisor

namespace minicloud::hypervisor {

// Would catch: libvirt refusing the instance-store <disk> element (its schema), an EBS attach
// allowed onto an instance-store target, or an instance-store disk detached.
TEST_CASE("Libvirt: instance-store disks are defined, hold their targets and stay",
          "[libvirt][disks]") {
  absl::StatusOr<std::unique_ptr<LibvirtHypervisor>> opened =
      LibvirtHypervisor::Open("test:///default");
  INFO(opened.status().ToString());
  REQUIRE(opened.ok());
  LibvirtHypervisor& hv = **opened;
  const std::string id = "i-000000000000e0e0e";
  const absl::Status created = hv.CreateAndStart(
      testing::MakeSpec(id).InstanceStore("/var/lib/minicloud/e0.img", "vdb", "ephemeral0"));
  INFO(created.ToString());
  REQUIRE(created.ok());
  CHECK(hv.AttachDisk(id, EbsDisk{.volume_id = "vol-0123456789abcdef0",
                                  .nbd_host = "10.0.0.5",
                                  .export_name = "vol-0123456789abcdef0",
                                  .target_dev = "vdb"})
            .code() == absl::StatusCode::kFailedPrecondition);
  CHECK(hv.DetachDisk(id, "vdb").code() == absl::StatusCode::kFailedPrecondition);
  CHECK(hv.Destroy(id).ok());
}

}  // namespace minicloud::hypervisor
