#include "agent/hypervisor/qmp_save.h"

#include <cstdint>
#include <nlohmann/json.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "agent/hypervisor/ebs_qmp.h"
#include "common/string_view_compat.h"

namespace minicloud::hypervisor {
namespace {

using nlohmann::json;

constexpr std::string_view kMagic = "MINICLOUD-QMP-SAVE 1\n";

std::string Command(std::string_view name, json arguments = nullptr) {
  json c = {{"execute", std::string(name)}};
  if (!arguments.is_null()) c["arguments"] = std::move(arguments);
  return c.dump();
}

bool ValidSlot(int slot) { return slot >= 1 && slot <= 31; }

}  // namespace

absl::StatusOr<std::string> EncodeQmpSaveHeader(const QmpSaveHeader& header) {
  json slots = json::object();
  for (const auto& [target, slot] : header.ebs_slots) {
    if (!IsEbsTarget(target) || !ValidSlot(slot)) {
      return absl::InvalidArgumentError(
          absl::StrCat("saved-state header: no EBS disk at ", target, ", slot ", slot));
    }
    slots[target] = slot;
  }
  std::string out = absl::StrCat(AbslView(kMagic), json{{"ebs_slots", slots}}.dump(), "\n");
  // At most 26 targets of a few bytes each: far below the header's size.
  if (out.size() > kQmpSaveHeaderBytes) return absl::InvalidArgumentError("header too large");
  out.resize(kQmpSaveHeaderBytes, ' ');
  return out;
}

absl::StatusOr<QmpSaveHeader> DecodeQmpSaveHeader(std::string_view head) {
  if (!absl::StartsWith(AbslView(head), AbslView(kMagic))) {
    return absl::NotFoundError("not a minicloud saved-state file");
  }
  if (head.size() < kQmpSaveHeaderBytes) {
    return absl::InvalidArgumentError("saved-state file: header cut short");
  }
  const std::string_view body = head.substr(kMagic.size(), kQmpSaveHeaderBytes - kMagic.size());
  const size_t end = body.find('\n');
  if (end == std::string_view::npos) {
    return absl::InvalidArgumentError("saved-state file: header without an end");
  }
  const json j = json::parse(body.substr(0, end), nullptr, /*allow_exceptions=*/false);
  const auto slots = j.is_object() ? j.find("ebs_slots") : j.end();
  if (!j.is_object() || slots == j.end() || !slots->is_object()) {
    return absl::InvalidArgumentError("saved-state file: header is not the expected JSON");
  }
  QmpSaveHeader out;
  for (const auto& [target, slot] : slots->items()) {
    if (!IsEbsTarget(target) || !slot.is_number_integer() || !ValidSlot(slot.get<int>())) {
      return absl::InvalidArgumentError(
          absl::StrCat("saved-state file: bad slot for EBS disk ", target));
    }
    out.ebs_slots[target] = slot.get<int>();
  }
  return out;
}

absl::StatusOr<std::map<std::string, int>> EbsDiskSlots(std::string_view query_pci_return) {
  const json r = json::parse(query_pci_return, nullptr, /*allow_exceptions=*/false);
  if (!r.is_array()) return absl::InvalidArgumentError("query-pci: not a list of buses");
  std::map<std::string, int> out;
  for (const json& bus : r) {
    if (!bus.is_object() || bus.value("bus", -1) != 0) continue;
    const auto devices = bus.find("devices");
    if (devices == bus.end() || !devices->is_array()) continue;
    for (const json& dev : *devices) {
      if (!dev.is_object()) continue;
      const std::optional<AttachedEbsDisk> disk = ParseEbsDeviceId(dev.value("qdev_id", ""));
      if (disk.has_value()) out[disk->target_dev] = dev.value("slot", -1);
    }
  }
  return out;
}

std::string GetFdCommand(std::string_view fdname) {
  return Command("getfd", {{"fdname", std::string(fdname)}});
}

std::string UnlimitedMigrationSpeedCommand() {
  // Bytes per second; INT64_MAX is as good as none.
  return Command("migrate-set-parameters", {{"max-bandwidth", INT64_MAX}});
}

std::string MigrateToFdCommand(std::string_view fdname) {
  return Command("migrate", {{"uri", absl::StrCat("fd:", AbslView(fdname))}});
}

std::string MigrateIncomingFromFdCommand(std::string_view fdname) {
  return Command("migrate-incoming", {{"uri", absl::StrCat("fd:", AbslView(fdname))}});
}

std::string MigrateCancelCommand() { return Command("migrate_cancel"); }

std::string QueryMigrateCommand() { return Command("query-migrate"); }

absl::StatusOr<bool> MigrationCompleted(std::string_view query_migrate_return) {
  const json r = json::parse(query_migrate_return, nullptr, /*allow_exceptions=*/false);
  if (!r.is_object() || !r.contains("status") || !r["status"].is_string()) {
    // Before any migration QEMU answers {} (no status yet); the caller asked after starting one.
    if (r.is_object() && r.empty()) return false;
    return absl::InvalidArgumentError("query-migrate: no status");
  }
  const std::string status = r["status"];
  if (status == "completed") return true;
  if (status == "failed" || status == "cancelled" || status == "cancelling") {
    return absl::FailedPreconditionError(
        absl::StrCat("migration ", status,
                     r.contains("error-desc") && r["error-desc"].is_string()
                         ? absl::StrCat(": ", r["error-desc"].get<std::string>())
                         : std::string()));
  }
  return false;
}

}  // namespace minicloud::hypervisor
