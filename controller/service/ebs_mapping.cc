#include "controller/service/ebs_mapping.h"

#include <algorithm>
#include <functional>
#include <optional>

#include "absl/algorithm/container.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/ec2_error.h"
#include "common/status_macros.h"
#include "common/volume_limits.h"

namespace minicloud::controller {
namespace {

absl::Status InvalidMapping(absl::string_view message) {
  return Ec2Error(absl::StatusCode::kInvalidArgument, "InvalidBlockDeviceMapping", message);
}

std::string DeviceKey(absl::string_view name) {
  absl::ConsumePrefix(&name, "/dev/");
  if (!absl::ConsumePrefix(&name, "sd")) absl::ConsumePrefix(&name, "xvd");
  return std::string(name);
}

// The volume's type, size and performance by volumes::ResolveVolume; `where` names the mapping.
absl::Status ResolvePerformance(EbsVolumePlan& v, const v1::EbsBlockDevice& ebs) {
  MC_ASSIGN_OR_RETURN(const volumes::VolumeType type, volumes::ParseVolumeType(v.volume_type));
  if (v.root && (type == volumes::VolumeType::kSt1 || type == volumes::VolumeType::kSc1)) {
    return InvalidMapping(absl::StrCat("The volume type ", v.volume_type, " of ", v.device_name,
                                       " cannot be a root (boot) volume"));
  }
  volumes::VolumeRequest r{.type = type, .size_gib = v.size_gib};
  if (ebs.has_iops())
    r.iops = ebs.iops();
  else if (v.iops > 0 && volumes::LimitsOf(type).iops_settable)
    r.iops = v.iops;
  if (ebs.has_throughput())
    r.throughput_mibps = ebs.throughput();
  else if (v.throughput > 0 && volumes::LimitsOf(type).throughput_settable) {
    r.throughput_mibps = v.throughput;
  }
  MC_ASSIGN_OR_RETURN(const volumes::VolumePerformance perf, volumes::ResolveVolume(r));
  v.iops = static_cast<int32_t>(perf.iops);
  v.throughput = static_cast<int32_t>(perf.throughput_mibps);
  return absl::OkStatus();
}

// Applies the fields `ebs` gives onto `v`.
void Override(EbsVolumePlan& v, const v1::EbsBlockDevice& ebs) {
  if (ebs.volume_size() > 0) v.size_gib = ebs.volume_size();
  if (!ebs.volume_type().empty()) {
    if (ebs.volume_type() != v.volume_type) v.iops = v.throughput = 0;  // the old type's
    v.volume_type = ebs.volume_type();
  }
  if (ebs.has_delete_on_termination()) v.delete_on_termination = ebs.delete_on_termination();
  if (ebs.has_encrypted()) v.encrypted = ebs.encrypted();
}

absl::Status CheckDataDevice(const v1::BlockDeviceMapping& m) {
  if (auto t = volumes::EbsDeviceTarget(m.device_name()); !t.ok()) {
    return InvalidMapping(absl::StrCat("Invalid device name ", m.device_name(),
                                       " for an EBS data volume: ", t.status().message()));
  }
  return absl::OkStatus();
}

}  // namespace

int64_t GibFor(int64_t bytes) {
  constexpr int64_t kGib = int64_t{1} << 30;
  return std::max<int64_t>(1, (bytes + kGib - 1) / kGib);
}

bool SameDevice(absl::string_view a, absl::string_view b) { return DeviceKey(a) == DeviceKey(b); }

std::vector<ClonedSnapshot> ClonedSnapshots(
    const v1::ImageRecord& image, const std::vector<EbsVolumePlan>& plans,
    const std::function<std::string(const std::string&)>& snapshot_zone) {
  std::vector<ClonedSnapshot> out;
  for (const EbsVolumePlan& p : plans) {
    if (p.root) {
      ClonedSnapshot& c = out.emplace_back(ClonedSnapshot{&p, {}});
      for (const auto& [zone, snapshot] : image.zone_snapshots()) c.zones.push_back(zone);
      std::sort(c.zones.begin(), c.zones.end());
    } else if (!p.snapshot_id.empty()) {
      out.push_back({&p, {snapshot_zone(p.snapshot_id)}});
    }
  }
  return out;
}

std::optional<std::vector<std::string>> SnapshotZones(const std::vector<ClonedSnapshot>& cloned) {
  if (cloned.empty()) return std::nullopt;
  std::vector<std::string> zones = cloned.front().zones;
  for (const ClonedSnapshot& c : cloned) {
    std::erase_if(zones, [&c](const std::string& z) { return !absl::c_linear_search(c.zones, z); });
  }
  return zones;
}

std::vector<std::string> ZonesWithFewestCopies(
    const std::vector<ClonedSnapshot>& cloned, const std::vector<std::string>& candidates,
    const std::function<bool(const ClonedSnapshot& c, const std::string& zone)>& copyable) {
  std::vector<std::string> best;
  size_t fewest = cloned.size() + 1;
  for (const std::string& zone : candidates) {
    size_t copies = 0;
    bool possible = true;
    for (const ClonedSnapshot& c : cloned) {
      if (absl::c_linear_search(c.zones, zone)) continue;
      if (!copyable(c, zone)) {
        possible = false;
        break;
      }
      ++copies;
    }
    if (!possible || copies > fewest) continue;
    if (copies < fewest) best.clear();
    fewest = copies;
    best.push_back(zone);
  }
  return best;
}

std::string ShownRootDeviceType(const v1::ImageRecord& image) {
  return image.root_device_type().empty() ? kRootDeviceTypeEbs : image.root_device_type();
}

absl::StatusOr<ImageMapping> ResolveImageMapping(const v1::RegisterImageRequest& req,
                                                 int64_t virtual_size_bytes) {
  const std::string& root = req.root_device_name();
  const std::string& asked = req.root_device_type();
  if (!asked.empty() && asked != kRootDeviceTypeEbs && asked != kRootDeviceTypeInstanceStore) {
    return InvalidParameterValue(absl::StrCat("Value (", asked,
                                              ") for parameter RootDeviceType is invalid. "
                                              "Expected 'ebs' or 'instance-store'."));
  }
  ImageMapping out;
  std::optional<v1::BlockDeviceMapping> root_entry;
  std::vector<std::string> keys;
  for (int i = 0; i < req.block_device_mappings_size(); ++i) {
    const v1::BlockDeviceMapping& m = req.block_device_mappings(i);
    if (m.device_name().empty()) {
      return MissingParameter(
          absl::StrCat("The request must contain the parameter "
                       "BlockDeviceMapping.",
                       i + 1, ".DeviceName"));
    }
    for (const auto& k : keys) {
      if (k == DeviceKey(m.device_name())) {
        return InvalidMapping(
            absl::StrCat("The device name ", m.device_name(), " is mapped more than once"));
      }
    }
    keys.push_back(DeviceKey(m.device_name()));
    if (!m.virtual_name().empty() && m.has_ebs()) {
      return InvalidMapping(absl::StrCat("The device ", m.device_name(),
                                         " names both a VirtualName and Ebs; give one"));
    }
    if (SameDevice(m.device_name(), root)) {
      if (m.no_device() || !m.has_ebs()) {
        return InvalidMapping(absl::StrCat("The root device ", root,
                                           " can only be mapped to Ebs (its volume's settings)"));
      }
      if (!m.ebs().snapshot_id().empty()) {
        return Ec2Error(absl::StatusCode::kInvalidArgument, "InvalidParameterCombination",
                        absl::StrCat("The root device ", root,
                                     " takes the uploaded disk: it cannot name a SnapshotId"));
      }
      root_entry = m;
      continue;
    }
    if (m.has_ebs()) {
      MC_RETURN_IF_ERROR(CheckDataDevice(m));
      if (m.ebs().snapshot_id().empty() && m.ebs().volume_size() <= 0) {
        return MissingParameter(absl::StrCat("The Ebs mapping of ", m.device_name(),
                                             " needs a SnapshotId or a VolumeSize"));
      }
    }
    out.mappings.push_back(m);
  }
  if (root_entry && asked == kRootDeviceTypeInstanceStore) {
    return InvalidMapping(
        absl::StrCat("An instance-store AMI cannot map its root device ", root, " to Ebs"));
  }
  if (!root_entry && asked != kRootDeviceTypeEbs) {
    out.root_device_type = asked;
    return out;
  }
  out.root_device_type = kRootDeviceTypeEbs;
  v1::BlockDeviceMapping r;
  if (root_entry) r = *root_entry;
  r.set_device_name(root);
  v1::EbsBlockDevice& ebs = *r.mutable_ebs();
  const int64_t disk_gib = GibFor(virtual_size_bytes);
  if (ebs.volume_size() == 0) ebs.set_volume_size(static_cast<int32_t>(disk_gib));
  if (ebs.volume_size() < disk_gib) {
    return InvalidMapping(
        absl::StrCat("Volume of size ", ebs.volume_size(),
                     "GB is smaller than the image's disk, expect size >= ", disk_gib, "GB"));
  }
  if (!ebs.has_delete_on_termination()) ebs.set_delete_on_termination(true);
  if (ebs.volume_type().empty()) ebs.set_volume_type("gp2");
  EbsVolumePlan check{.device_name = root,
                      .root = true,
                      .size_gib = ebs.volume_size(),
                      .volume_type = ebs.volume_type()};
  MC_RETURN_IF_ERROR(ResolvePerformance(check, ebs));
  out.mappings.insert(out.mappings.begin(), std::move(r));
  return out;
}

absl::StatusOr<std::vector<EbsVolumePlan>> ResolveEbsVolumes(
    const v1::ImageRecord& image,
    const google::protobuf::RepeatedPtrField<v1::BlockDeviceMapping>& mappings,
    const std::function<int64_t(const std::string&)>& snapshot_gib) {
  const bool ebs_root = image.root_device_type() == kRootDeviceTypeEbs;
  const std::string& root = image.root_device_name();
  std::vector<EbsVolumePlan> out;         // root first, then the data volumes in order
  std::vector<v1::EbsBlockDevice> asked;  // the Ebs fields that made each entry of `out`
  auto find = [&](absl::string_view device) -> EbsVolumePlan* {
    for (auto& v : out) {
      if (SameDevice(v.device_name, device)) return &v;
    }
    return nullptr;
  };
  const int64_t image_gib = GibFor(image.virtual_size_bytes());
  for (const v1::BlockDeviceMapping& m : image.block_device_mappings()) {
    if (!m.has_ebs() || m.no_device()) continue;
    EbsVolumePlan v{.device_name = m.device_name(),
                    .root = SameDevice(m.device_name(), root),
                    .volume_type = "gp2",
                    .snapshot_id = m.ebs().snapshot_id()};
    if (v.root && !ebs_root) continue;
    v.size_gib = v.root ? image_gib : (v.snapshot_id.empty() ? 0 : snapshot_gib(v.snapshot_id));
    Override(v, m.ebs());
    if (m.ebs().has_iops()) v.iops = m.ebs().iops();
    if (m.ebs().has_throughput()) v.throughput = m.ebs().throughput();
    out.push_back(std::move(v));
    asked.push_back(v1::EbsBlockDevice());
  }
  if (ebs_root && (out.empty() || !out.front().root)) {
    out.insert(out.begin(),
               EbsVolumePlan{
                   .device_name = root, .root = true, .size_gib = image_gib, .volume_type = "gp2"});
    asked.insert(asked.begin(), v1::EbsBlockDevice());
  }
  for (int i = 0; i < mappings.size(); ++i) {
    const v1::BlockDeviceMapping& m = mappings[i];
    if (m.device_name().empty()) {
      return MissingParameter(
          absl::StrCat("The request must contain the parameter "
                       "BlockDeviceMapping.",
                       i + 1, ".DeviceName"));
    }
    const bool is_root = SameDevice(m.device_name(), root);
    EbsVolumePlan* existing = find(m.device_name());
    if (m.no_device()) {
      if (existing && !existing->root) {
        const size_t at = static_cast<size_t>(existing - out.data());
        out.erase(out.begin() + static_cast<std::ptrdiff_t>(at));
        asked.erase(asked.begin() + static_cast<std::ptrdiff_t>(at));
      }
      continue;  // the root's NoDevice is ResolveInstanceStore's refusal
    }
    if (!m.has_ebs()) continue;  // instance store: ResolveInstanceStore
    if (!m.virtual_name().empty()) {
      return InvalidMapping(absl::StrCat("The device ", m.device_name(),
                                         " names both a VirtualName and Ebs; give one"));
    }
    const v1::EbsBlockDevice& ebs = m.ebs();
    if (is_root) {
      if (!ebs_root) {
        return InvalidMapping(absl::StrCat("The root device ", m.device_name(), " of ",
                                           image.image_id(),
                                           " is not an EBS volume: it takes no Ebs mapping"));
      }
      if (!ebs.snapshot_id().empty()) {
        return InvalidMapping(absl::StrCat("The root device ", m.device_name(),
                                           " is created from the AMI's snapshot; it cannot name "
                                           "another SnapshotId"));
      }
    } else {
      MC_RETURN_IF_ERROR(CheckDataDevice(m));
    }
    if (existing == nullptr) {
      EbsVolumePlan v{
          .device_name = m.device_name(), .volume_type = "gp2", .snapshot_id = ebs.snapshot_id()};
      if (!v.snapshot_id.empty())
        v.size_gib = snapshot_gib(v.snapshot_id);
      else if (ebs.volume_size() <= 0) {
        return MissingParameter(absl::StrCat("The Ebs mapping of ", m.device_name(),
                                             " needs a SnapshotId or a VolumeSize"));
      }
      out.push_back(std::move(v));
      asked.push_back(v1::EbsBlockDevice());
      existing = &out.back();
    } else if (!is_root && !ebs.snapshot_id().empty()) {
      existing->snapshot_id = ebs.snapshot_id();
      existing->size_gib = snapshot_gib(ebs.snapshot_id());
    }
    const int64_t floor_gib = existing->root                  ? image_gib
                              : existing->snapshot_id.empty() ? 0
                                                              : snapshot_gib(existing->snapshot_id);
    Override(*existing, ebs);
    asked[static_cast<size_t>(existing - out.data())] = ebs;
    if (existing->size_gib < floor_gib) {
      return InvalidMapping(absl::StrCat("Volume of size ", existing->size_gib,
                                         "GB is smaller than snapshot '",
                                         existing->root ? image.image_id() : existing->snapshot_id,
                                         "', expect size >= ", floor_gib, "GB"));
    }
  }
  for (size_t i = 0; i < out.size(); ++i) {
    MC_RETURN_IF_ERROR(ResolvePerformance(out[i], asked[i]));
  }
  return out;
}

}  // namespace minicloud::controller
