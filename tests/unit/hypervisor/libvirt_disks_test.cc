// AttachDisk / DetachDisk of the real adapter on libvirt's test driver (test:///default). The
// test driver does not implement virDomainAttachDeviceFlags / virDomainDetachDeviceFlags
// (libvirt 9.0: "this function is not supported by the connection driver"), so this covers what
// the adapter decides before it calls them: reading the disks back from libvirt's domain XML,
// the idempotent no-op, the refusals. The hot-plug itself needs QEMU (e2e).
// Bugs each test would catch:
// - an attach of a disk already present (from the domain's definition) calling libvirt again,
//   which the test driver refuses: the idempotent path would fail;
// - attaching a different volume over a used target, or detaching the root disk;
// - detach of an absent target failing instead of succeeding;
// - an invalid disk or a missing domain reaching libvirt.

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

TEST_CASE("Libvirt: attach and detach decisions on the domain's own disks", "[libvirt][disks]") {
  absl::StatusOr<std::unique_ptr<LibvirtHypervisor>> opened =
      LibvirtHypervisor::Open("test:///default");
  INFO(opened.status().ToString());
  REQUIRE(opened.ok());
  LibvirtHypervisor& hv = **opened;
  const std::string id = "i-0000000000000d15c";
  REQUIRE(hv.CreateAndStart(MakeSpec(id).Ebs(Disk("vol-0123456789abcdef0", "vdf"))).ok());

  // ListEbsDisks reads the network disks back from the running guest's XML (not the root).
  // Bug caught: the root (a file disk) listed, or the export name not read from <source name>.
  absl::StatusOr<std::vector<AttachedEbsDisk>> listed = hv.ListEbsDisks(id);
  REQUIRE(listed.ok());
  REQUIRE(listed->size() == 1);
  CHECK((*listed)[0].target_dev == "vdf");
  CHECK((*listed)[0].export_name == "vol-0123456789abcdef0");
  CHECK(hv.ListEbsDisks("i-00000000000000404").status().code() == absl::StatusCode::kNotFound);

  // Already attached (live and persistent): success without calling libvirt's attach.
  const absl::Status same = hv.AttachDisk(id, Disk("vol-0123456789abcdef0", "vdf"));
  INFO(same.ToString());
  CHECK(same.ok());
  // Another volume over vdf, or over the root.
  CHECK(hv.AttachDisk(id, Disk("vol-0123456789abcdef1", "vdf")).code() ==
        absl::StatusCode::kFailedPrecondition);
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
