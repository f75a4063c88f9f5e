#include "controller/service/block_device_mapping.h"

#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/ec2_error.h"

namespace minicloud::controller {
namespace {

absl::Status InvalidMapping(absl::string_view message) {
  return Ec2Error(absl::StatusCode::kInvalidArgument, "InvalidBlockDeviceMapping", message);
}

absl::string_view WithoutDev(absl::string_view name) {
  absl::ConsumePrefix(&name, "/dev/");
  return name;
}

// The slot letter of a device name an instance-store volume may take: /dev/sd[b-z] and
// /dev/xvd[b-z] (one slot per letter, as EC2 treats sdf and xvdf as one device). nullopt for
// anything else.
std::optional<char> SlotOf(absl::string_view name) {
  name = WithoutDev(name);
  if (!absl::ConsumePrefix(&name, "sd") && !absl::ConsumePrefix(&name, "xvd")) return std::nullopt;
  if (name.size() != 1 || name[0] < 'b' || name[0] > 'z') return std::nullopt;
  return name[0];
}

// Any device name a mapping may carry (EBS names included), reduced to a key that is equal for
// names EC2 treats as one device: the part after sd / xvd (or the whole name).
std::string DeviceKey(absl::string_view name) {
  name = WithoutDev(name);
  if (!absl::ConsumePrefix(&name, "sd")) absl::ConsumePrefix(&name, "xvd");
  return std::string(name);
}

std::optional<int> EphemeralIndex(absl::string_view virtual_name) {
  if (!absl::ConsumePrefix(&virtual_name, "ephemeral") || virtual_name.empty() ||
      virtual_name.size() > 2 || !absl::ascii_isdigit(virtual_name[0]) ||
      (virtual_name.size() == 2 && virtual_name[0] == '0')) {
    return std::nullopt;
  }
  int n = 0;
  if (!absl::SimpleAtoi(virtual_name, &n) || n >= kMaxInstanceStoreVolumes) return std::nullopt;
  return n;
}

}  // namespace

absl::StatusOr<std::vector<v1::DesiredInstanceStoreDisk>> ResolveInstanceStore(
    const InstanceType& type,
    const google::protobuf::RepeatedPtrField<v1::BlockDeviceMapping>& mappings,
    absl::string_view root_device_name) {
  if (mappings.size() > kMaxBlockDeviceMappings) {
    return InvalidParameterValue(absl::StrCat("At most ", kMaxBlockDeviceMappings,
                                              " block device mappings are allowed; got ",
                                              mappings.size()));
  }
  const std::string root_key = DeviceKey(root_device_name);
  std::set<std::string> devices;                       // keys of every mapped device name
  std::map<int, std::pair<char, std::string>> placed;  // ephemeral index -> slot, name
  std::set<char> taken;                                // slots mappings give a device
  std::set<char> removed;                              // slots NoDevice empties
  for (int i = 0; i < mappings.size(); ++i) {
    const v1::BlockDeviceMapping& m = mappings[i];
    const std::string where = absl::StrCat("BlockDeviceMapping.", i + 1);
    if (m.device_name().empty()) {
      return MissingParameter(
          absl::StrCat("The request must contain the parameter ", where, ".DeviceName"));
    }
    if (!devices.insert(DeviceKey(m.device_name())).second) {
      return InvalidMapping(
          absl::StrCat("The device name ", m.device_name(), " is mapped more than once"));
    }
    const std::optional<char> slot = SlotOf(m.device_name());
    if (m.no_device()) {
      if (DeviceKey(m.device_name()) == root_key) {
        return InvalidMapping(
            absl::StrCat("The root device ", m.device_name(), " cannot be removed (NoDevice)"));
      }
      if (slot) removed.insert(*slot);
      continue;  // NoDevice wins over VirtualName and Ebs
    }
    if (!m.virtual_name().empty() && m.has_ebs()) {
      return InvalidMapping(absl::StrCat("The device ", m.device_name(),
                                         " names both a VirtualName and Ebs; give one"));
    }
    if (m.has_ebs()) {
      // An EBS volume (controller/service/ebs_mapping.h decides it): its slot is taken.
      if (slot) taken.insert(*slot);
      continue;
    }
    if (m.virtual_name().empty()) {
      return InvalidMapping(
          absl::StrCat("The device ", m.device_name(), " needs VirtualName, Ebs or NoDevice"));
    }
    const std::optional<int> index = EphemeralIndex(m.virtual_name());
    if (!index) {
      return InvalidParameterValue(
          absl::StrCat("Value (", m.virtual_name(), ") for parameter ", where,
                       ".VirtualName is invalid. Expected ephemeral0 to ephemeral",
                       kMaxInstanceStoreVolumes - 1, "."));
    }
    if (!slot || DeviceKey(m.device_name()) == root_key) {
      return InvalidMapping(absl::StrCat("Invalid device name ", m.device_name(), " for ",
                                         m.virtual_name(),
                                         ": instance store takes /dev/sd[b-z] or /dev/xvd[b-z]"));
    }
    if (placed.contains(*index)) {
      return InvalidMapping(
          absl::StrCat("The virtual name ", m.virtual_name(), " is mapped more than once"));
    }
    placed[*index] = {*slot, std::string(WithoutDev(m.device_name()))};
    taken.insert(*slot);
  }
  std::vector<v1::DesiredInstanceStoreDisk> out;
  char next = 'b';
  for (int i = 0; i < type.instance_store_disks; ++i) {
    char slot = 0;
    std::string name;
    if (auto it = placed.find(i); it != placed.end()) {
      std::tie(slot, name) = it->second;
    } else {
      while (next <= 'z' && (taken.contains(next) || root_key == std::string(1, next))) ++next;
      if (next > 'z') break;  // no name left: EC2 would not attach more either
      slot = next++;
      name = absl::StrCat("sd", std::string(1, slot));
    }
    if (removed.contains(slot)) continue;
    v1::DesiredInstanceStoreDisk d;
    d.set_virtual_name(absl::StrCat("ephemeral", i));
    d.set_device_name(name);
    d.set_size_gb(type.instance_store_gb);
    out.push_back(std::move(d));
  }
  return out;
}

}  // namespace minicloud::controller
