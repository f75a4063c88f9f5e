#include "agent/hypervisor/domain_xml.h"

#include <algorithm>
#include <cctype>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "agent/hypervisor/ebs_disk.h"
#include "common/string_view_compat.h"

namespace minicloud::hypervisor {
namespace {

bool IsHex(char c) { return absl::ascii_isxdigit(static_cast<unsigned char>(c)); }

// Domain names and tap names: letters, digits, '.', '_', '-'; must start with a letter or digit.
bool IsSafeName(std::string_view s) {
  if (s.empty() || !absl::ascii_isalnum(static_cast<unsigned char>(s[0]))) return false;
  for (char c : s) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') {
      return false;
    }
  }
  return true;
}

// 8-4-4-4-12 hex digits.
bool IsUuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? s[i] != '-' : !IsHex(s[i])) return false;
  }
  return true;
}

// Six hex octets separated by ':', unicast (I/G bit of the first octet clear).
bool IsUnicastMac(std::string_view s) {
  if (s.size() != 17) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i % 3 == 2 ? s[i] != ':' : !IsHex(s[i])) return false;
  }
  const int first = std::stoi(std::string(s.substr(0, 2)), nullptr, 16);
  return (first & 1) == 0;
}

bool HasControlChars(std::string_view s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) < 0x20 && c != '\t') return true;
  }
  return false;
}

absl::Status CheckPath(std::string_view field, std::string_view path, bool required) {
  if (path.empty()) {
    if (!required) return absl::OkStatus();
    return absl::InvalidArgumentError(absl::StrCat(AbslView(field), " is required"));
  }
  if (path[0] != '/') {
    return absl::InvalidArgumentError(
        absl::StrCat(AbslView(field), " must be an absolute path: ", AbslView(path)));
  }
  if (HasControlChars(path)) {
    return absl::InvalidArgumentError(
        absl::StrCat(AbslView(field), " contains control characters"));
  }
  return absl::OkStatus();
}

absl::Status Invalid(std::string_view instance_id, std::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("domain spec ", AbslView(instance_id), ": ", AbslView(what)));
}

}  // namespace

std::string XmlEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '\'':
        out += "&apos;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

absl::Status ValidateDomainSpec(const DomainSpec& spec) {
  const std::string_view id = spec.instance_id;
  if (!IsSafeName(id) || id.size() > 64) {
    return Invalid(id, "instance_id must be 1-64 characters of [A-Za-z0-9._-]");
  }
  if (!IsUuid(spec.smbios_uuid)) {
    return Invalid(id, absl::StrCat("smbios_uuid is not a UUID: '", spec.smbios_uuid, "'"));
  }
  if (!spec.smbios_serial.empty() &&
      (spec.smbios_serial.size() > 64 || HasControlChars(spec.smbios_serial))) {
    return Invalid(id, "smbios_serial must be at most 64 printable characters");
  }
  if (spec.vcpus < 1 || spec.vcpus > 255) return Invalid(id, "vcpus must be in [1, 255]");
  if (spec.memory_mib < 16 || spec.memory_mib > (int64_t{1} << 24)) {
    return Invalid(id, "memory_mib must be in [16, 16777216]");
  }
  int boot_disks = 0;
  for (const EbsDisk& d : spec.ebs_disks) boot_disks += d.boot ? 1 : 0;
  if (boot_disks > 1) return Invalid(id, "at most one EBS disk is the boot disk");
  if (boot_disks == 1 && !spec.root_disk.empty()) {
    return Invalid(id, "root_disk must be empty when an EBS volume is the boot disk");
  }
  if (absl::Status s = CheckPath("root_disk", spec.root_disk, /*required=*/boot_disks == 0);
      !s.ok()) {
    return Invalid(id, StdView(s.message()));
  }
  if (absl::Status s = CheckPath("kernel", spec.kernel, false); !s.ok()) {
    return Invalid(id, StdView(s.message()));
  }
  if (absl::Status s = CheckPath("initrd", spec.initrd, false); !s.ok()) {
    return Invalid(id, StdView(s.message()));
  }
  if (absl::Status s = CheckPath("console_log", spec.console_log, false); !s.ok()) {
    return Invalid(id, StdView(s.message()));
  }
  if (spec.kernel.empty() && (!spec.initrd.empty() || !spec.kernel_cmdline.empty())) {
    return Invalid(id, "initrd and kernel_cmdline need a kernel");
  }
  if (HasControlChars(spec.kernel_cmdline)) {
    return Invalid(id, "kernel_cmdline contains control characters");
  }
  for (size_t i = 0; i < spec.interfaces.size(); ++i) {
    const NetworkInterface& nic = spec.interfaces[i];
    const std::string where = absl::StrCat("interfaces[", i, "]: ");
    if (!IsSafeName(nic.bridge) || nic.bridge.size() > 15) {
      return Invalid(id, absl::StrCat(where, "bridge must be 1-15 characters of [A-Za-z0-9._-]"));
    }
    if (!IsUnicastMac(nic.mac)) {
      return Invalid(id, absl::StrCat(where, "mac is not a unicast MAC: '", nic.mac, "'"));
    }
    if (!nic.tap.empty()) {
      if (!IsSafeName(nic.tap) || nic.tap.size() > 15) {
        return Invalid(id, absl::StrCat(where, "tap must be 1-15 characters of [A-Za-z0-9._-]"));
      }
      // libvirt treats these prefixes as its own auto-generated names and would rename the tap.
      if (absl::StartsWith(nic.tap, "vnet") || absl::StartsWith(nic.tap, "macvtap") ||
          absl::StartsWith(nic.tap, "macvlan")) {
        return Invalid(id, absl::StrCat(where, "tap name '", nic.tap, "' uses a libvirt prefix"));
      }
    }
  }
  std::vector<std::string_view> targets;
  for (size_t i = 0; i < spec.instance_store.size(); ++i) {
    const InstanceStoreDisk& disk = spec.instance_store[i];
    const std::string where = absl::StrCat("instance_store[", i, "]: ");
    if (absl::Status s = CheckPath("path", disk.path, /*required=*/true); !s.ok()) {
      return Invalid(id, absl::StrCat(where, s.message()));
    }
    const std::string_view t = disk.target_dev;
    if (t.size() != 3 || t.substr(0, 2) != "vd" || t[2] < 'b' || t[2] > 'z') {
      return Invalid(id,
                     absl::StrCat(where, "target_dev must be vd[b-z], got '", AbslView(t), "'"));
    }
    // virtio-blk serials hold 20 bytes.
    if (disk.serial.empty() || disk.serial.size() > 20 ||
        !std::all_of(disk.serial.begin(), disk.serial.end(), absl::ascii_isalnum)) {
      return Invalid(id, absl::StrCat(where, "serial must be 1-20 characters of [A-Za-z0-9]"));
    }
    if (std::find(targets.begin(), targets.end(), t) != targets.end()) {
      return Invalid(id, absl::StrCat("two disks use target ", AbslView(t)));
    }
    targets.push_back(t);
  }
  for (const EbsDisk& disk : spec.ebs_disks) {
    if (absl::Status s = ValidateEbsDisk(disk); !s.ok()) return Invalid(id, StdView(s.message()));
    if (std::find(targets.begin(), targets.end(), disk.target_dev) != targets.end()) {
      return Invalid(id, absl::StrCat("two disks use target ", disk.target_dev));
    }
    targets.push_back(disk.target_dev);
  }
  return absl::OkStatus();
}

// Choices worth knowing about:
// - TCG guests get <cpu mode='maximum'> (QEMU's -cpu max: every feature TCG implements; libvirt
//   has no custom model named "max"). Measured here (QEMU 7.2 TCG, Debian 6.1 cloud kernel,
//   2 vCPU, 3 runs each on a loaded 2-core host): boot to init, a busybox gzip/sha256 workload
//   and python3 startup + a json/re/hashlib workload are the same within noise for max and
//   qemu64. What decides it: max exposes RDRAND/RDSEED, so the guest's CRNG is ready at once;
//   with qemu64 and no entropy source, python3 in early boot died with "failed to get random
//   numbers" (getrandom not ready). virtio-rng is added as well, but it needs a module loaded.
//   KVM guests get host-passthrough.
// - machine 'pc' (i440fx): no PCIe root ports to emulate; simplest and fastest under TCG.
// - Root disk: qcow2 with cache='writeback' (guest flushes are honoured, works on any host
//   filesystem including tmpfs, which cache='none' with O_DIRECT does not) and discard='unmap'
//   so trimmed blocks shrink the overlay.
// - Instance-store volumes follow the root disk: sparse raw files with cache='writeback' (as the
//   root: any host filesystem) and discard='unmap' (a guest's TRIM punches holes, the file stays
//   sparse); the serial (e.g. "ephemeral0") lets the guest find each one by id.
// - EBS disks (an EBS root and data volumes) are validated here but are no elements: the
//   adapter plugs them over QMP once QEMU runs (ebs_qmp.h says why).
// - No graphics, no video, no USB controller, no memballoon: a headless EC2-like machine.
// - on_poweroff=destroy: a guest 'poweroff' stops the domain, it stays defined (state shutoff)
//   so the runtime observes 'stopped'; on_reboot=restart keeps 'reboot' inside the guest.
absl::StatusOr<std::string> BuildDomainXml(const DomainSpec& spec) {
  if (absl::Status s = ValidateDomainSpec(spec); !s.ok()) return s;
  const bool kvm = spec.accelerator == Accelerator::kKvm;
  const std::string serial =
      spec.smbios_serial.empty() ? spec.smbios_uuid : std::string(spec.smbios_serial);

  const absl::string_view ns = AbslView(kOwnerNamespacePrefix);
  std::string x;
  absl::StrAppend(&x, "<domain type='", kvm ? "kvm" : "qemu", "'>\n");
  absl::StrAppend(&x, "  <name>", XmlEscape(spec.instance_id), "</name>\n");
  absl::StrAppend(&x, "  <uuid>", XmlEscape(spec.smbios_uuid), "</uuid>\n");
  absl::StrAppend(&x, "  <metadata>\n");
  absl::StrAppend(&x, "    <", ns, ":instance xmlns:", ns, "='", AbslView(kOwnerNamespaceUri),
                  "'>\n");
  absl::StrAppend(&x, "      <", ns, ":id>", XmlEscape(spec.instance_id), "</", ns, ":id>\n");
  absl::StrAppend(&x, "    </", ns, ":instance>\n");
  absl::StrAppend(&x, "  </metadata>\n");
  absl::StrAppend(&x, "  <memory unit='MiB'>", spec.memory_mib, "</memory>\n");
  absl::StrAppend(&x, "  <currentMemory unit='MiB'>", spec.memory_mib, "</currentMemory>\n");
  absl::StrAppend(&x, "  <vcpu placement='static'>", spec.vcpus, "</vcpu>\n");
  absl::StrAppend(&x, "  <sysinfo type='smbios'>\n");
  absl::StrAppend(&x, "    <system>\n");
  absl::StrAppend(&x, "      <entry name='manufacturer'>", XmlEscape(kSmbiosManufacturer),
                  "</entry>\n");
  absl::StrAppend(&x, "      <entry name='product'>", XmlEscape(kSmbiosProduct), "</entry>\n");
  absl::StrAppend(&x, "      <entry name='serial'>", XmlEscape(serial), "</entry>\n");
  absl::StrAppend(&x, "      <entry name='uuid'>", XmlEscape(spec.smbios_uuid), "</entry>\n");
  absl::StrAppend(&x, "    </system>\n");
  absl::StrAppend(&x, "  </sysinfo>\n");
  absl::StrAppend(&x, "  <os>\n");
  absl::StrAppend(&x, "    <type arch='x86_64' machine='pc'>hvm</type>\n");
  if (!spec.kernel.empty()) {
    absl::StrAppend(&x, "    <kernel>", XmlEscape(spec.kernel), "</kernel>\n");
    if (!spec.initrd.empty()) {
      absl::StrAppend(&x, "    <initrd>", XmlEscape(spec.initrd), "</initrd>\n");
    }
    if (!spec.kernel_cmdline.empty()) {
      absl::StrAppend(&x, "    <cmdline>", XmlEscape(spec.kernel_cmdline), "</cmdline>\n");
    }
  } else {
    absl::StrAppend(&x, "    <boot dev='hd'/>\n");
  }
  absl::StrAppend(&x, "    <smbios mode='sysinfo'/>\n");
  absl::StrAppend(&x, "  </os>\n");
  absl::StrAppend(&x, "  <features>\n    <acpi/>\n    <apic/>\n  </features>\n");
  if (kvm) {
    absl::StrAppend(&x, "  <cpu mode='host-passthrough' check='none' migratable='off'/>\n");
  } else {
    // libvirt has no custom model named "max"; mode='maximum' is QEMU's -cpu max.
    absl::StrAppend(&x, "  <cpu mode='maximum' check='none' migratable='off'/>\n");
  }
  absl::StrAppend(&x, "  <clock offset='utc'>\n");
  absl::StrAppend(&x, "    <timer name='rtc' tickpolicy='catchup'/>\n");
  absl::StrAppend(&x, "    <timer name='pit' tickpolicy='delay'/>\n");
  absl::StrAppend(&x, "    <timer name='hpet' present='no'/>\n");
  absl::StrAppend(&x, "  </clock>\n");
  absl::StrAppend(&x, "  <on_poweroff>destroy</on_poweroff>\n");
  absl::StrAppend(&x, "  <on_reboot>restart</on_reboot>\n");
  absl::StrAppend(&x, "  <on_crash>destroy</on_crash>\n");
  absl::StrAppend(&x, "  <devices>\n");
  // The root: the local overlay of an instance-store-backed instance. EBS disks (an EBS root
  // too) are not libvirt elements: the adapter plugs them over QMP once QEMU runs (ebs_qmp.h).
  if (!spec.root_disk.empty()) {
    absl::StrAppend(&x, "    <disk type='file' device='disk'>\n");
    absl::StrAppend(&x,
                    "      <driver name='qemu' type='qcow2' cache='writeback' discard='unmap'/>\n");
    absl::StrAppend(&x, "      <source file='", XmlEscape(spec.root_disk), "'/>\n");
    absl::StrAppend(&x, "      <target dev='vda' bus='virtio'/>\n");
    absl::StrAppend(&x, "    </disk>\n");
  }
  for (const InstanceStoreDisk& disk : spec.instance_store) {
    absl::StrAppend(&x, "    <disk type='file' device='disk'>\n");
    absl::StrAppend(&x,
                    "      <driver name='qemu' type='raw' cache='writeback' discard='unmap'/>\n");
    absl::StrAppend(&x, "      <source file='", XmlEscape(disk.path), "'/>\n");
    absl::StrAppend(&x, "      <target dev='", XmlEscape(disk.target_dev), "' bus='virtio'/>\n");
    absl::StrAppend(&x, "      <serial>", XmlEscape(disk.serial), "</serial>\n");
    absl::StrAppend(&x, "    </disk>\n");
  }
  absl::StrAppend(&x, "    <controller type='usb' model='none'/>\n");
  for (const NetworkInterface& nic : spec.interfaces) {
    absl::StrAppend(&x, "    <interface type='bridge'>\n");
    absl::StrAppend(&x, "      <mac address='", XmlEscape(absl::AsciiStrToLower(nic.mac)), "'/>\n");
    absl::StrAppend(&x, "      <source bridge='", XmlEscape(nic.bridge), "'/>\n");
    if (!nic.tap.empty()) {
      absl::StrAppend(&x, "      <target dev='", XmlEscape(nic.tap), "'/>\n");
    }
    absl::StrAppend(&x, "      <model type='virtio'/>\n");
    absl::StrAppend(&x, "    </interface>\n");
  }
  if (!spec.console_log.empty()) {
    const std::string log = XmlEscape(spec.console_log);
    absl::StrAppend(&x, "    <serial type='file'>\n");
    absl::StrAppend(&x, "      <source path='", log, "' append='on'/>\n");
    absl::StrAppend(&x, "      <target port='0'/>\n");
    absl::StrAppend(&x, "    </serial>\n");
    absl::StrAppend(&x, "    <console type='file'>\n");
    absl::StrAppend(&x, "      <source path='", log, "' append='on'/>\n");
    absl::StrAppend(&x, "      <target type='serial' port='0'/>\n");
    absl::StrAppend(&x, "    </console>\n");
  } else {
    absl::StrAppend(&x, "    <serial type='null'>\n");
    absl::StrAppend(&x, "      <target port='0'/>\n");
    absl::StrAppend(&x, "    </serial>\n");
    absl::StrAppend(&x, "    <console type='null'>\n");
    absl::StrAppend(&x, "      <target type='serial' port='0'/>\n");
    absl::StrAppend(&x, "    </console>\n");
  }
  absl::StrAppend(&x, "    <rng model='virtio'>\n");
  absl::StrAppend(&x, "      <backend model='random'>/dev/urandom</backend>\n");
  absl::StrAppend(&x, "    </rng>\n");
  absl::StrAppend(&x, "    <memballoon model='none'/>\n");
  absl::StrAppend(&x, "  </devices>\n");
  absl::StrAppend(&x, "</domain>\n");
  return x;
}

absl::StatusOr<std::string> BuildIncomingDomainXml(const DomainSpec& spec) {
  absl::StatusOr<std::string> x = BuildDomainXml(spec);
  if (!x.ok()) return x;
  constexpr std::string_view kQemuNs = " xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'";
  constexpr std::string_view kEnd = "</domain>\n";
  const size_t open_end = x->find('>');  // of <domain type='...'>, the first element
  x->insert(open_end, kQemuNs);
  x->insert(x->size() - kEnd.size(),
            "  <qemu:commandline>\n"
            "    <qemu:arg value='-incoming'/>\n"
            "    <qemu:arg value='defer'/>\n"
            "  </qemu:commandline>\n");
  return x;
}

std::optional<std::string> ParseOwnerMetadata(std::string_view xml) {
  // Find a start tag whose local name is "id": "<id>" or "<prefix:id>".
  size_t pos = 0;
  while ((pos = xml.find("id>", pos)) != std::string_view::npos) {
    const size_t lt = xml.rfind('<', pos);
    if (lt == std::string_view::npos) return std::nullopt;
    const std::string_view name = xml.substr(lt + 1, pos + 2 - (lt + 1));  // "id" or "p:id"
    const bool is_start = !name.empty() && name[0] != '/' &&
                          (name == "id" || (name.size() > 3 && name[name.size() - 3] == ':' &&
                                            name.find_first_of(" /=") == std::string_view::npos));
    if (is_start) {
      const size_t begin = pos + 3;
      const size_t end = xml.find('<', begin);
      if (end == std::string_view::npos) return std::nullopt;
      std::string text(xml.substr(begin, end - begin));
      // Unescape the five predefined entities (all that XmlEscape produces).
      std::string out;
      for (size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '&') {
          out += text[i];
          continue;
        }
        static constexpr std::pair<std::string_view, char> kEntities[] = {
            {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&apos;", '\''}, {"&quot;", '"'}};
        bool matched = false;
        for (const auto& [entity, ch] : kEntities) {
          if (std::string_view(text).substr(i, entity.size()) == entity) {
            out += ch;
            i += entity.size() - 1;
            matched = true;
            break;
          }
        }
        if (!matched) out += '&';
      }
      return out;
    }
    pos += 3;
  }
  return std::nullopt;
}

}  // namespace minicloud::hypervisor
