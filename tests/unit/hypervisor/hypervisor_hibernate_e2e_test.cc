// Hibernation on the real libvirt adapter (qemu:///embed, TCG), labelled e2e: SaveDomain writes
// a running guest's state into a file and leaves the domain shut off; RestoreDomain resumes it
// from that file with its CPU and RAM as they were. Needs root, qemu-system-x86 and qemu-img.
//
// The guest is a boot sector that prints a boot marker once, then a dot about every few tenths
// of a second forever. A resumed guest goes on printing dots without a new marker; a cold boot
// prints the marker again (checked too, so the assertion can tell the two apart).
//
// Bugs caught: SaveDomain that stops the guest without saving (no file, or Restore boots
// cold: a second marker); RestoreDomain that boots the disk instead of restoring (marker);
// a save that leaves the domain running or undefined; a restore of a running domain that
// restarts it. With encrypted disks (saved over QMP, agent/hypervisor/qmp_save.h): a restore
// that plugs the disks at other PCI slots than they had (the order of the spec is not the
// order they were plugged in), one that accepts a spec without a disk the guest had, the
// persistent definition left waiting for a migration (the cold boot would hang), the key in
// the saved state.

#include <libvirt/libvirt-qemu.h>
#include <libvirt/libvirt.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "agent/hypervisor/ebs_qmp.h"
#include "agent/hypervisor/libvirt/embed_root.h"
#include "agent/hypervisor/libvirt/libvirt_hypervisor.h"
#include "agent/hypervisor/qmp_save.h"
#include "tests/testing/skip.h"
#include "tests/unit/hypervisor/luks_export.h"
#include "tests/unit/hypervisor/real_guest_util.h"
#include "tests/unit/hypervisor/temp_embed_root.h"

namespace minicloud::hypervisor {
namespace {

namespace fs = std::filesystem;
using real_guest::ReadFile;
using real_guest::Run;
using real_guest::WaitFor;

constexpr char kMarker[] = "MINICLOUD-HIBERNATE-GUEST-BOOTED";
constexpr char kKey[] = "0f1e2d3c4b5a69788796a5b4c3d2e1f00112233445566778899aabbccddeeff0";

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// Real-mode code at 0x7c00: print the NUL-terminated message at 0x7c26 on COM1, then forever:
// print '.', spin 0x200 x 0xffff `loop`s.
//   cli; xor ax,ax; mov ds,ax; mov si,0x7c26
//   1: lodsb; test al,al; jz 2f; mov dx,0x3f8; out dx,al; jmp 1b
//   2: mov dx,0x3f8
//   3: mov al,'.'; out dx,al; mov bx,0x200
//   5: mov cx,0xffff
//   4: loop 4b; dec bx; jnz 5b; jmp 3b
std::string CountingBootSector(const std::string& message) {
  static constexpr uint8_t kCode[] = {0xfa, 0x31, 0xc0, 0x8e, 0xd8, 0xbe, 0x26, 0x7c, 0xac, 0x84,
                                      0xc0, 0x74, 0x06, 0xba, 0xf8, 0x03, 0xee, 0xeb, 0xf5, 0xba,
                                      0xf8, 0x03, 0xb0, 0x2e, 0xee, 0xbb, 0x00, 0x02, 0xb9, 0xff,
                                      0xff, 0xe2, 0xfe, 0x4b, 0x75, 0xf8, 0xeb, 0xf0};
  static_assert(sizeof(kCode) == 0x26, "the message must start at 0x7c26");
  std::string sector(512, '\0');
  memcpy(sector.data(), kCode, sizeof(kCode));
  memcpy(sector.data() + sizeof(kCode), message.data(), std::min<size_t>(message.size(), 400));
  sector[510] = static_cast<char>(0x55);
  sector[511] = static_cast<char>(0xaa);
  return sector;
}

DomainSpec GuestSpec(const fs::path& dir) {
  std::string image = CountingBootSector(absl::StrCat(kMarker, "\r\n"));
  image.resize(1 << 20, '\0');  // SeaBIOS skips single-sector virtio disks
  const fs::path raw = dir / "boot.raw";
  std::ofstream(raw, std::ios::binary).write(image.data(), image.size());
  const fs::path root = dir / "root.qcow2";
  REQUIRE(Run(absl::StrCat("qemu-img convert -q -f raw -O qcow2 ", raw.string(), " ",
                           root.string())) == 0);
  DomainSpec spec;
  spec.instance_id = "i-0bbbbbbbbbbbbbbb1";
  spec.smbios_uuid = "ec2e2e00-0000-4000-8000-0000000000b1";
  spec.smbios_serial = spec.smbios_uuid;
  spec.vcpus = 1;
  spec.memory_mib = 64;
  spec.accelerator = Accelerator::kTcg;
  spec.root_disk = root.string();
  spec.console_log = (dir / "console.log").string();
  return spec;
}

// The PCI slot of each encrypted disk's device in the running QEMU, by target, asked over a
// connection of the test's own to the same embedded driver.
std::map<std::string, int> CryptSlotsNow(const std::string& uri, const std::string& id) {
  virConnectPtr conn = virConnectOpen(uri.c_str());
  REQUIRE(conn != nullptr);
  virDomainPtr dom = virDomainLookupByName(conn, id.c_str());
  char* reply = nullptr;
  const int rc = dom == nullptr
                     ? -1
                     : virDomainQemuMonitorCommand(dom, R"({"execute":"query-pci"})", &reply, 0);
  const std::string text = reply != nullptr ? reply : "";
  free(reply);
  if (dom != nullptr) virDomainFree(dom);
  virConnectClose(conn);
  REQUIRE(rc == 0);
  absl::StatusOr<std::string> ret = QmpReturn(text);
  REQUIRE(ret.ok());
  absl::StatusOr<std::map<std::string, int>> slots = EbsDiskSlots(*ret);
  REQUIRE(slots.ok());
  return *slots;
}

// What the guest wrote after `before` was read (the log may be appended to or started anew).
std::string WrittenSince(const std::string& before, const std::string& now) {
  if (now.size() >= before.size() && now.compare(0, before.size(), before) == 0) {
    return now.substr(before.size());
  }
  return now;
}

// Restores `spec`'s guest from `saved` with `restore` (spec, maybe reordered) and checks it goes
// on counting without a second boot marker after `at_save` (the console when it was saved).
void RestoreAndCheckResumed(LibvirtHypervisor& hv, const DomainSpec& spec,
                            const DomainSpec& restore, const std::string& saved,
                            const std::string& at_save) {
  const absl::Status r = hv.RestoreDomain(restore, saved);
  INFO(r.ToString());
  REQUIRE(r.ok());
  CHECK(hv.Get(spec.instance_id)->state == DomainState::kRunning);
  REQUIRE(
      WaitFor([&] { return Count(WrittenSince(at_save, ReadFile(spec.console_log)), ".") >= 3; },
              std::chrono::seconds(90)));
  const std::string after_resume = ReadFile(spec.console_log);
  INFO("console after the resume: " << after_resume);
  CHECK(Count(WrittenSince(at_save, after_resume), kMarker) == 0);
}

// Powers the guest off, starts it from its definition and checks it boots cold (the marker
// again), then destroys it.
void CheckColdBootAndDestroy(LibvirtHypervisor& hv, const DomainSpec& spec) {
  REQUIRE(hv.StopDomain(spec.instance_id, StopMode::kForce).ok());
  const std::string at_stop = ReadFile(spec.console_log);
  REQUIRE(hv.CreateAndStart(spec).ok());
  CHECK(WaitFor(
      [&] { return Count(WrittenSince(at_stop, ReadFile(spec.console_log)), kMarker) == 1; },
      std::chrono::seconds(90)));
  CHECK(hv.Destroy(spec.instance_id).ok());
}

}  // namespace

TEST_CASE("hypervisor e2e: a saved guest resumes where it was, a cold boot starts over", "[e2e]") {
  MC_SKIP_UNLESS(geteuid() == 0, "needs root (the embedded QEMU driver)");
  MC_SKIP_UNLESS(Run("command -v qemu-system-x86_64 >/dev/null && command -v qemu-img "
                     ">/dev/null") == 0,
                 "qemu-system-x86_64 / qemu-img not found");
  real_guest::TempEmbedRoot root("mchb");
  absl::StatusOr<std::unique_ptr<LibvirtHypervisor>> hv =
      LibvirtHypervisor::Open(EmbedUri(root.dir.string()));
  INFO(hv.status().ToString());
  REQUIRE(hv.ok());
  const DomainSpec spec = GuestSpec(root.dir);
  REQUIRE((*hv)->CreateAndStart(spec).ok());
  REQUIRE(WaitFor(
      [&] {
        const std::string log = ReadFile(spec.console_log);
        return Count(log, kMarker) == 1 && Count(log, ".") >= 3;
      },
      std::chrono::seconds(90)));

  // Save: the domain is shut off and defined, the file holds its state.
  const std::string saved = (root.dir / "i.save").string();
  const absl::Status s = (*hv)->SaveDomain(spec.instance_id, saved);
  INFO(s.ToString());
  REQUIRE(s.ok());
  CHECK((*hv)->Get(spec.instance_id)->state == DomainState::kShutoff);
  REQUIRE(fs::exists(saved));
  CHECK(fs::file_size(saved) > 0);
  CHECK(((*hv)->SaveDomain(spec.instance_id, saved).code() ==
         absl::StatusCode::kFailedPrecondition));  // not running any more
  const std::string at_save = ReadFile(spec.console_log);

  // Restore: dots go on, no second boot.
  RestoreAndCheckResumed(**hv, spec, spec, saved, at_save);
  // A second restore of the running domain changes nothing.
  CHECK((*hv)->RestoreDomain(spec, saved).ok());

  // The control: a cold boot of the same disk prints the marker again.
  CheckColdBootAndDestroy(**hv, spec);
}

TEST_CASE("hypervisor e2e: a guest with encrypted disks resumes where it was, disks in place",
          "[e2e]") {
  MC_SKIP_UNLESS(geteuid() == 0, "needs root (the embedded QEMU driver)");
  MC_SKIP_UNLESS(Run("command -v qemu-system-x86_64 >/dev/null && command -v qemu-img "
                     ">/dev/null && command -v qemu-nbd >/dev/null") == 0,
                 "qemu-system-x86_64 / qemu-img / qemu-nbd not found");
  real_guest::TempEmbedRoot root("mchb");
  const fs::path work = root.dir / "work";
  fs::create_directories(work);
  const std::string uri = EmbedUri(root.dir.string());
  absl::StatusOr<std::unique_ptr<LibvirtHypervisor>> hv = LibvirtHypervisor::Open(uri);
  INFO(hv.status().ToString());
  REQUIRE(hv.ok());
  // The counting boot sector exists only inside the encrypted root.
  DomainSpec spec = GuestSpec(root.dir);
  real_guest::LuksExport root_vol(work, "vol-0bbbbbbbbbbbbbbb2", kKey, root.dir / "boot.raw");
  real_guest::LuksExport data_vol(work, "vol-0bbbbbbbbbbbbbbb3", kKey);
  spec.instance_id = "i-0bbbbbbbbbbbbbbb2";
  spec.smbios_uuid = "ec2e2e00-0000-4000-8000-0000000000b2";
  spec.smbios_serial = spec.smbios_uuid;
  spec.root_disk.clear();
  spec.ebs_disks = {root_vol.Disk(kKey, "vda")};
  const absl::Status started = (*hv)->CreateAndStart(spec);
  INFO(started.ToString());
  REQUIRE(started.ok());
  REQUIRE(WaitFor(
      [&] {
        const std::string log = ReadFile(spec.console_log);
        return Count(log, kMarker) == 1 && Count(log, ".") >= 3;
      },
      std::chrono::seconds(90)));
  // A data disk hot-plugged later takes the next slot down.
  const EbsDisk data = data_vol.Disk(kKey, "vdf");
  REQUIRE((*hv)->AttachDisk(spec.instance_id, data).ok());
  spec.ebs_disks.push_back(data);
  const std::map<std::string, int> slots = CryptSlotsNow(uri, spec.instance_id);
  REQUIRE(slots.size() == 2);

  const std::string saved = (root.dir / "i.save").string();
  const absl::Status s = (*hv)->SaveDomain(spec.instance_id, saved);
  INFO(s.ToString());
  REQUIRE(s.ok());
  CHECK((*hv)->Get(spec.instance_id)->state == DomainState::kShutoff);
  const std::string image = ReadFile(saved);
  CHECK(image.size() > kQmpSaveHeaderBytes);
  absl::StatusOr<QmpSaveHeader> header = DecodeQmpSaveHeader(image);
  REQUIRE(header.ok());
  CHECK(header->ebs_slots == slots);
  CHECK(image.find(kKey) == std::string::npos);
  CHECK(image.find(absl::Base64Escape(kKey)) == std::string::npos);
  const std::string at_save = ReadFile(spec.console_log);

  // A spec without the data disk the guest had is refused, and nothing runs.
  DomainSpec without_data = spec;
  without_data.ebs_disks.pop_back();
  CHECK((*hv)->RestoreDomain(without_data, saved).code() == absl::StatusCode::kFailedPrecondition);
  CHECK((*hv)->Get(spec.instance_id)->state == DomainState::kShutoff);

  // The disks listed the other way round: each must still get the slot it had.
  DomainSpec restore = spec;
  std::swap(restore.ebs_disks[0], restore.ebs_disks[1]);
  RestoreAndCheckResumed(**hv, spec, restore, saved, at_save);
  CHECK(CryptSlotsNow(uri, spec.instance_id) == slots);

  // The definition left behind boots cold (it does not wait for a migration stream).
  CheckColdBootAndDestroy(**hv, spec);
}

}  // namespace minicloud::hypervisor
