#include "agent/hypervisor/libvirt/qmp_disks.h"

#include <libvirt/libvirt-qemu.h>
#include <libvirt/virterror.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "agent/hypervisor/ebs_qmp.h"
#include "agent/hypervisor/libvirt/libvirt_internal.h"
#include "spdlog/spdlog.h"

namespace minicloud::hypervisor::libvirt_internal {
namespace {

// How long UnplugEbsDisk waits for the guest to release a device before it returns.
constexpr auto kUnplugWait = std::chrono::seconds(5);

// The step name of a command built by ebs_qmp ("blockdev-add luks"), for errors.
std::string StepOf(const std::string& command) {
  const nlohmann::json c = nlohmann::json::parse(command, nullptr, false);
  if (!c.is_object()) return "qmp";
  std::string step = c.value("execute", "qmp");
  if (auto a = c.find("arguments"); a != c.end() && a->is_object()) {
    if (a->contains("driver")) step += " " + a->value("driver", "");
    if (a->contains("qom-type")) step += " " + a->value("qom-type", "");
  }
  return step;
}

void Release(virDomainPtr dom, absl::string_view target, absl::string_view context) {
  for (const std::string& c : EbsReleaseCommands(std::string(target))) {
    absl::StatusOr<std::string> r = Qmp(dom, c, context, StepOf(c));
    // Absent nodes are the normal case for all but one of these.
    if (!r.ok() && !absl::StrContains(r.status().message(), "not found") &&
        !absl::StrContains(r.status().message(), "Failed to find node")) {
      spdlog::warn("hypervisor: {}", std::string(r.status().message()));
    }
  }
}

bool HasTarget(const std::vector<AttachedEbsDisk>& disks, absl::string_view target) {
  for (const AttachedEbsDisk& d : disks) {
    if (d.target_dev == target) return true;
  }
  return false;
}

}  // namespace

absl::StatusOr<std::string> Qmp(virDomainPtr dom, const std::string& command,
                                absl::string_view context, absl::string_view step, int fd) {
  char* result = nullptr;
  const int rc = fd < 0 ? virDomainQemuMonitorCommand(dom, command.c_str(), &result,
                                                      VIR_DOMAIN_QEMU_MONITOR_COMMAND_DEFAULT)
                        : virDomainQemuMonitorCommandWithFiles(
                              dom, command.c_str(), 1, &fd, nullptr, nullptr, &result,
                              VIR_DOMAIN_QEMU_MONITOR_COMMAND_DEFAULT);
  if (rc < 0) return LastError(absl::StrCat(context, ": ", step));
  const std::string reply = result != nullptr ? result : "";
  free(result);
  absl::StatusOr<std::string> ret = QmpReturn(reply);
  if (!ret.ok()) {
    return absl::Status(ret.status().code(),
                        absl::StrCat(context, ": ", step, ": ", ret.status().message()));
  }
  return ret;
}

absl::StatusOr<std::vector<AttachedEbsDisk>> QmpEbsDisks(virDomainPtr dom,
                                                         absl::string_view context) {
  absl::StatusOr<std::string> list =
      Qmp(dom, R"({"execute":"qom-list","arguments":{"path":"/machine/peripheral"}})", context,
          "qom-list");
  if (!list.ok()) {
    // A driver without a QEMU monitor (libvirt's test driver) has no EBS disks.
    if (list.status().code() == absl::StatusCode::kUnimplemented) {
      return std::vector<AttachedEbsDisk>{};
    }
    return list.status();
  }
  return EbsDisksInQomList(*list);
}

absl::StatusOr<std::vector<EbsDiskSize>> QmpEbsDiskSizes(virDomainPtr dom,
                                                         absl::string_view context) {
  absl::StatusOr<std::string> blocks =
      Qmp(dom, R"({"execute":"query-block"})", context, "query-block");
  if (!blocks.ok()) {
    if (blocks.status().code() == absl::StatusCode::kUnimplemented) {
      return std::vector<EbsDiskSize>{};
    }
    return blocks.status();
  }
  return EbsDiskSizesInQueryBlock(*blocks);
}

absl::Status PlugEbsDisk(virDomainPtr dom, const EbsDisk& disk, const std::string& nbd_tls_dir,
                         absl::string_view context, bool firmware_boot, int pci_slot) {
  Release(dom, disk.target_dev, context);  // an interrupted earlier plug
  absl::StatusOr<int> slot = pci_slot;
  if (pci_slot == 0) {
    absl::StatusOr<std::string> pci = Qmp(dom, R"({"execute":"query-pci"})", context, "query-pci");
    if (!pci.ok()) return pci.status();
    slot = FreePciSlot(*pci);
  }
  if (!slot.ok()) {
    return WithContext(context, slot.status());
  }
  absl::StatusOr<std::vector<std::string>> commands =
      EbsPlugCommands(disk, *slot, firmware_boot, nbd_tls_dir);
  if (!commands.ok()) {
    return WithContext(context, commands.status());
  }
  bool device_added = false;
  for (const std::string& c : *commands) {
    const std::string step = StepOf(c);
    absl::StatusOr<std::string> r = Qmp(dom, c, context, step);
    if (!r.ok()) {
      if (device_added) {
        // Only the I/O limits failed: take the device out again (the guest must release it).
        (void)Qmp(dom, EbsUnplugCommand(EbsDeviceId(disk)), context, "device_del");
      } else {
        Release(dom, disk.target_dev, context);
      }
      return r.status();
    }
    device_added = device_added || absl::StartsWith(step, "device_add");
  }
  return absl::OkStatus();
}

absl::Status UnplugEbsDisk(virDomainPtr dom, const AttachedEbsDisk& disk,
                           absl::string_view context) {
  EbsDisk d;
  d.target_dev = disk.target_dev;
  d.export_name = disk.export_name;
  absl::StatusOr<std::string> del =
      Qmp(dom, EbsUnplugCommand(EbsDeviceId(d)), context, "device_del");
  // Asking twice while the guest works on it is fine; a device already gone is success.
  if (!del.ok() && del.status().code() != absl::StatusCode::kNotFound &&
      !absl::StrContains(del.status().message(), "in progress")) {
    return del.status();
  }
  const auto deadline = std::chrono::steady_clock::now() + kUnplugWait;
  while (true) {
    absl::StatusOr<std::vector<AttachedEbsDisk>> now = QmpEbsDisks(dom, context);
    if (!now.ok()) return now.status();
    if (!HasTarget(*now, disk.target_dev)) {
      Release(dom, disk.target_dev, context);
      return absl::OkStatus();
    }
    if (std::chrono::steady_clock::now() >= deadline) return absl::OkStatus();  // asked
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

void ReleaseUnpluggedEbsNodes(virDomainPtr dom, const std::vector<AttachedEbsDisk>& devices,
                              absl::string_view context) {
  absl::StatusOr<std::string> nodes =
      Qmp(dom, R"({"execute":"query-named-block-nodes","arguments":{"flat":true}})", context,
          "query-named-block-nodes");
  if (!nodes.ok()) {
    if (nodes.status().code() != absl::StatusCode::kUnimplemented) {
      spdlog::warn("hypervisor: {}", std::string(nodes.status().message()));
    }
    return;
  }
  const nlohmann::json list = nlohmann::json::parse(*nodes, nullptr, false);
  if (!list.is_array()) return;
  std::set<std::string> orphans;
  for (const nlohmann::json& n : list) {
    if (!n.is_object()) continue;
    const std::string name = n.value("node-name", "");
    for (absl::string_view prefix : {"mcx-luks-", "mcx-nbd-"}) {
      if (!absl::StartsWith(name, prefix)) continue;
      const std::string target = name.substr(prefix.size());
      if (!HasTarget(devices, target)) orphans.insert(target);
    }
  }
  for (const std::string& t : orphans) {
    spdlog::info("hypervisor: {}: releasing the nodes of the unplugged EBS disk at {}",
                 std::string(context), t);
    Release(dom, t, context);
  }
}

absl::Status ResetMachine(virDomainPtr dom, absl::string_view context) {
  return Qmp(dom, R"({"execute":"system_reset"})", context, "system_reset").status();
}

}  // namespace minicloud::hypervisor::libvirt_internal
