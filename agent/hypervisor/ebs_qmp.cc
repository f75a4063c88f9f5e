#include "agent/hypervisor/ebs_qmp.h"

#include <nlohmann/json.hpp>
#include <set>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "agent/hypervisor/ebs_disk.h"
#include "common/string_view_compat.h"

namespace minicloud::hypervisor {
namespace {

using nlohmann::json;

constexpr absl::string_view kPrefix = "mcx-";

std::string KeyId(std::string_view target) { return absl::StrCat("mcx-key-", AbslView(target)); }
std::string NbdNode(std::string_view target) { return absl::StrCat("mcx-nbd-", AbslView(target)); }
std::string TlsId(std::string_view target) { return absl::StrCat("mcx-tls-", AbslView(target)); }
std::string LuksNode(std::string_view target) {
  return absl::StrCat("mcx-luks-", AbslView(target));
}

std::string Command(std::string_view name, json arguments) {
  json c = {{"execute", std::string(name)}};
  if (!arguments.is_null()) c["arguments"] = std::move(arguments);
  return c.dump();
}

}  // namespace

bool IsEbsTarget(std::string_view t) {
  if (t.size() < 3 || t.size() > 4 || t.substr(0, 2) != "vd") return false;
  for (char c : t.substr(2)) {
    if (c < 'a' || c > 'z') return false;
  }
  return true;
}

std::string EbsDeviceId(const EbsDisk& disk) {
  return absl::StrCat(kPrefix, disk.target_dev, "-", disk.export_name);
}

absl::StatusOr<std::vector<std::string>> EbsPlugCommands(const EbsDisk& d, int pci_slot,
                                                         bool firmware_boot,
                                                         const std::string& nbd_tls_dir) {
  if (absl::Status s = ValidateEbsDisk(d); !s.ok()) return s;
  if (pci_slot < 1 || pci_slot > 31) {
    return absl::InvalidArgumentError(absl::StrCat(d.volume_id, ": PCI slot out of [1, 31]"));
  }
  const std::string& t = d.target_dev;
  const bool encrypted = !d.luks_key.empty();
  std::vector<std::string> out;
  if (encrypted) {
    // base64: the key's bytes whatever they are (QEMU's secret object decodes it).
    out.push_back(Command("object-add", {{"qom-type", "secret"},
                                         {"id", KeyId(t)},
                                         {"format", "base64"},
                                         {"data", absl::Base64Escape(d.luks_key)}}));
  }
  // cache.direct: no host page cache (the libvirt element's cache='none'); discard reaches the
  // volume service. reconnect-delay: when the connection drops (the volume service or its daemon
  // restarts, a grow re-creates the export), QEMU reconnects and holds the guest's requests for
  // up to that long, as an EBS volume's I/O stalls rather than fails; without it QEMU fails every
  // later request with EIO for good (measured with QEMU 7.2's client against a restarted
  // server).
  json nbd = {
      {"driver", "nbd"},
      {"node-name", NbdNode(t)},
      {"server", {{"type", "inet"}, {"host", d.nbd_host}, {"port", std::to_string(d.nbd_port)}}},
      {"export", d.export_name},
      {"reconnect-delay", kNbdReconnectDelaySeconds},
      {"cache", {{"direct", true}, {"no-flush", false}}},
      {"discard", "unmap"}};
  if (d.nbd_tls) {
    if (nbd_tls_dir.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(d.volume_id, ": NBD over TLS and no client credentials on this host"));
    }
    out.push_back(Command("object-add", {{"qom-type", "tls-creds-x509"},
                                         {"id", TlsId(t)},
                                         {"dir", nbd_tls_dir},
                                         {"endpoint", "client"},
                                         {"verify-peer", true}}));
    nbd["tls-creds"] = TlsId(t);
    if (!d.nbd_tls_hostname.empty()) nbd["tls-hostname"] = d.nbd_tls_hostname;
  }
  out.push_back(Command("blockdev-add", std::move(nbd)));
  if (encrypted) {
    out.push_back(Command("blockdev-add", {{"driver", "luks"},
                                           {"node-name", LuksNode(t)},
                                           {"file", NbdNode(t)},
                                           {"key-secret", KeyId(t)},
                                           {"cache", {{"direct", true}, {"no-flush", false}}},
                                           {"discard", "unmap"}}));
    out.push_back(Command("object-del", {{"id", KeyId(t)}}));
  }
  json dev = {{"driver", "virtio-blk-pci"},
              {"id", EbsDeviceId(d)},
              {"drive", encrypted ? LuksNode(t) : NbdNode(t)},
              {"serial", EbsSerial(d.volume_id)},
              {"bus", "pci.0"},
              {"addr", absl::StrCat("0x", absl::Hex(pci_slot))}};
  // 0: before anything libvirt numbers (its <boot dev='hd'/> becomes bootindex 1 at most).
  if (d.boot && firmware_boot) dev["bootindex"] = 0;
  out.push_back(Command("device_add", std::move(dev)));
  const volumes::IoTune& io = d.iotune;
  if (io.total_bytes_sec > 0 || io.total_iops_sec > 0) out.push_back(ThrottleCommand(d));
  return out;
}

std::string ThrottleCommand(const EbsDisk& d) {
  const volumes::IoTune& io = d.iotune;
  // block_set_io_throttle needs all six base limits; the optional ones only when set (QEMU
  // refuses a *_max_length without its *_max, like libvirt). All zero lifts the limits.
  // "id" must reach the device that holds the BlockBackend: for virtio-blk-pci that is its
  // "virtio-backend" child, not the PCI proxy (QEMU: "Device does not have a block device
  // backend").
  json a = {{"id", absl::StrCat("/machine/peripheral/", EbsDeviceId(d), "/virtio-backend")},
            {"bps", io.total_bytes_sec},
            {"bps_rd", 0},
            {"bps_wr", 0},
            {"iops", io.total_iops_sec},
            {"iops_rd", 0},
            {"iops_wr", 0}};
  if (io.total_bytes_sec_max > 0) a["bps_max"] = io.total_bytes_sec_max;
  if (io.total_iops_sec_max > 0) a["iops_max"] = io.total_iops_sec_max;
  if (io.size_iops_sec > 0) a["iops_size"] = io.size_iops_sec;
  if (io.total_bytes_sec_max_length > 0) a["bps_max_length"] = io.total_bytes_sec_max_length;
  if (io.total_iops_sec_max_length > 0) a["iops_max_length"] = io.total_iops_sec_max_length;
  return Command("block_set_io_throttle", std::move(a));
}

std::string EbsUnplugCommand(std::string_view device_id) {
  return Command("device_del", {{"id", std::string(device_id)}});
}

std::vector<std::string> EbsReleaseCommands(std::string_view target_dev) {
  return {Command("blockdev-del", {{"node-name", LuksNode(target_dev)}}),
          Command("blockdev-del", {{"node-name", NbdNode(target_dev)}}),
          Command("object-del", {{"id", KeyId(target_dev)}}),
          Command("object-del", {{"id", TlsId(target_dev)}})};
}

absl::StatusOr<std::string> QmpReturn(std::string_view reply) {
  const json r = json::parse(reply, nullptr, /*allow_exceptions=*/false);
  if (!r.is_object()) return absl::InvalidArgumentError("QMP reply is not a JSON object");
  if (auto e = r.find("error"); e != r.end() && e->is_object()) {
    const std::string cls = e->value("class", "");
    const std::string desc = e->value("desc", "");
    return absl::Status(cls == "DeviceNotFound" ? absl::StatusCode::kNotFound
                                                : absl::StatusCode::kFailedPrecondition,
                        absl::StrCat("QEMU: ", cls, ": ", desc));
  }
  if (auto ret = r.find("return"); ret != r.end()) return ret->dump();
  return absl::InvalidArgumentError("QMP reply has neither return nor error");
}

std::optional<AttachedEbsDisk> ParseEbsDeviceId(std::string_view id) {
  if (!absl::StartsWith(AbslView(id), kPrefix)) return std::nullopt;
  const std::string_view rest = id.substr(kPrefix.size());
  const size_t dash = rest.find('-');
  if (dash == std::string_view::npos || dash + 1 >= rest.size()) return std::nullopt;
  const std::string_view target = rest.substr(0, dash);
  if (!IsEbsTarget(target)) return std::nullopt;
  return AttachedEbsDisk{std::string(target), std::string(rest.substr(dash + 1))};
}

std::vector<AttachedEbsDisk> EbsDisksInQomList(std::string_view qom_list_return) {
  std::vector<AttachedEbsDisk> out;
  const json r = json::parse(qom_list_return, nullptr, /*allow_exceptions=*/false);
  if (!r.is_array()) return out;
  for (const json& p : r) {
    if (!p.is_object()) continue;
    if (!absl::StartsWith(p.value("type", ""), "child<")) continue;
    if (std::optional<AttachedEbsDisk> d = ParseEbsDeviceId(p.value("name", ""))) {
      out.push_back(*std::move(d));
    }
  }
  return out;
}

std::vector<EbsDiskSize> EbsDiskSizesInQueryBlock(std::string_view query_block_return) {
  std::vector<EbsDiskSize> out;
  const json r = json::parse(query_block_return, nullptr, /*allow_exceptions=*/false);
  if (!r.is_array()) return out;
  constexpr absl::string_view kPeripheral = "/machine/peripheral/";
  constexpr absl::string_view kBackend = "/virtio-backend";
  for (const json& b : r) {
    if (!b.is_object()) continue;
    absl::string_view qdev;
    const auto q = b.find("qdev");
    if (q == b.end() || !q->is_string()) continue;
    const std::string& qs = q->get_ref<const std::string&>();
    qdev = qs;
    if (!absl::ConsumePrefix(&qdev, kPeripheral) || !absl::ConsumeSuffix(&qdev, kBackend)) {
      continue;
    }
    const std::optional<AttachedEbsDisk> disk = ParseEbsDeviceId(StdView(qdev));
    if (!disk) continue;
    const json* inserted = b.contains("inserted") ? &b["inserted"] : nullptr;
    if (inserted == nullptr || !inserted->is_object()) continue;
    const std::string node = inserted->value("node-name", "");
    const auto image = inserted->find("image");
    if (node.empty() || image == inserted->end() || !image->is_object()) continue;
    const auto size = image->find("virtual-size");
    if (size == image->end() || !size->is_number_integer() || size->get<int64_t>() <= 0) continue;
    out.push_back({disk->target_dev, node, size->get<int64_t>()});
  }
  return out;
}

std::string NbdReconnectCommand(std::string_view target_dev) {
  return Command(
      "human-monitor-command",
      {{"command-line", absl::StrCat("qemu-io ", NbdNode(target_dev), " \"read 0 512\"")}});
}

std::string GrowCommand(std::string_view node_name, int64_t bytes) {
  return Command("block_resize", {{"node-name", std::string(node_name)}, {"size", bytes}});
}

absl::StatusOr<int> FreePciSlot(std::string_view query_pci_return) {
  const json r = json::parse(query_pci_return, nullptr, /*allow_exceptions=*/false);
  if (!r.is_array()) return absl::InvalidArgumentError("query-pci: not a list of buses");
  std::set<int> used;
  bool bus0 = false;
  for (const json& bus : r) {
    if (!bus.is_object() || bus.value("bus", -1) != 0) continue;
    bus0 = true;
    const auto devices = bus.find("devices");
    if (devices == bus.end() || !devices->is_array()) continue;
    for (const json& dev : *devices) {
      if (dev.is_object()) used.insert(dev.value("slot", -1));
    }
  }
  if (!bus0) return absl::InvalidArgumentError("query-pci: no bus 0");
  for (int slot = 31; slot >= 8; --slot) {
    if (!used.contains(slot)) return slot;
  }
  return absl::ResourceExhaustedError("no free PCI slot on bus 0 for an EBS disk");
}

}  // namespace minicloud::hypervisor
