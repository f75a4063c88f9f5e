// RunInstances' EBS volumes: the records of an EBS-backed instance's root volume and of its Ebs
// mappings' data volumes, staged with the instance. VolumeService::FinishLaunchVolumes then makes
// them on the zone's volume service (the root: a copy-on-write clone of the AMI's snapshot, or a
// full copy of it made by the reconcile loop when the zone keeps none) and exports them; the host
// boots the instance once its root is exported.
#include <algorithm>
#include <optional>
#include <set>

#include "absl/algorithm/container.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/ec2_error.h"
#include "common/status_macros.h"
#include "common/volume_limits.h"
#include "controller/service/compute_service.h"
#include "controller/service/hibernation.h"

namespace minicloud::controller {

const v1::SnapshotRecord* ComputeService::CopySourceLocked(const v1::ImageRecord& image,
                                                           const EbsVolumePlan& plan) const {
  std::string id = plan.snapshot_id;
  if (plan.root) {
    // An uploaded AMI is imported into every zone by itself (retry once that is done); a baked,
    // copied or registered one has its snapshots where they were taken.
    if (!image.from_snapshot() || image.zone_snapshots().empty()) return nullptr;
    std::string first_zone;
    for (const auto& [zone, snapshot] : image.zone_snapshots()) {
      if (id.empty() || zone < first_zone) {
        first_zone = zone;
        id = snapshot;
      }
    }
  }
  if (id.empty()) return nullptr;
  auto it = state_.snapshots().find(id);
  return it == state_.snapshots().end() ? nullptr : &it->second;
}

absl::Status ComputeService::ZoneCopyAllowedLocked(const v1::ImageRecord& image,
                                                   const EbsVolumePlan& plan,
                                                   const std::string& zone) const {
  const v1::SnapshotRecord* source = CopySourceLocked(image, plan);
  if (source == nullptr) return absl::FailedPreconditionError("nothing to copy from");
  if (!ebs_hooks_.zone_copy) {
    return absl::FailedPreconditionError("this controller does not copy snapshots across zones");
  }
  return ebs_hooks_.zone_copy(*source, zone, plan.encrypted);
}

absl::StatusOr<std::vector<std::string>> ComputeService::EbsLaunchZonesLocked(
    const v1::ImageRecord& image, const std::vector<EbsVolumePlan>& plans) {
  const std::vector<ClonedSnapshot> cloned =
      ClonedSnapshots(image, plans, [this](const std::string& id) {
        auto it = state_.snapshots().find(id);
        return it == state_.snapshots().end() ? std::string() : it->second.availability_zone();
      });
  if (!plans.empty() && plans.front().root && image.zone_snapshots().empty()) {
    return Ec2Error(absl::StatusCode::kFailedPrecondition, "InvalidAMIID.Unavailable",
                    absl::StrCat("The AMI ", image.image_id(),
                                 " has no snapshot in any availability zone yet; retry once its "
                                 "import is complete"));
  }
  std::set<std::string> all;
  for (const auto& [id, host] : state_.hosts()) all.insert(host.topology().availability_zone());
  std::vector<std::string> served;  // sorted
  for (const std::string& z : all) {
    if (ebs_hooks_.serves_zone && ebs_hooks_.serves_zone(z)) served.push_back(z);
  }
  const std::optional<std::vector<std::string>> keeping = SnapshotZones(cloned);
  std::vector<std::string> zones;
  for (const std::string& z : keeping ? *keeping : served) {
    if (absl::c_binary_search(served, z)) zones.push_back(z);
  }
  if (zones.empty() && keeping) {
    // No zone with a volume service keeps every snapshot: copy the missing ones (EC2's
    // snapshots are regional), into the zones that need the fewest copies.
    zones = ZonesWithFewestCopies(cloned, served,
                                  [&](const ClonedSnapshot& c, const std::string& zone) {
                                    return ZoneCopyAllowedLocked(image, *c.plan, zone).ok();
                                  });
  }
  if (!zones.empty()) return zones;
  if (keeping && keeping->empty()) {
    std::string where;
    for (const ClonedSnapshot& c : cloned) {
      absl::StrAppend(
          &where, where.empty() ? "" : "; ", c.plan->device_name, " from ",
          c.plan->root ? absl::StrCat("the AMI ", image.image_id()) : c.plan->snapshot_id, ": ",
          absl::StrJoin(c.zones, ", "));
    }
    return Ec2Error(
        absl::StatusCode::kInvalidArgument, "InvalidParameterCombination",
        absl::StrCat("No availability zone holds every snapshot this launch clones (", where,
                     "), and they cannot all be copied into one (encrypted snapshots "
                     "are not copied across zones)."));
  }
  const std::vector<std::string> wanted =
      keeping ? *keeping : std::vector<std::string>(all.begin(), all.end());
  return Ec2Error(
      absl::StatusCode::kResourceExhausted, "InsufficientVolumeCapacity",
      absl::StrCat("There is no volume service in ",
                   wanted.empty() ? "any availability zone" : absl::StrJoin(wanted, ", "),
                   ": instances with these EBS volumes cannot launch there."));
}

absl::Status ComputeService::StageLaunchVolumesLocked(const std::vector<EbsVolumePlan>& plans,
                                                      const v1::ImageRecord& image,
                                                      v1::InstanceRecord& r,
                                                      CloudState::Changes& changes,
                                                      std::vector<std::string>& volume_ids) {
  if (plans.empty()) return absl::OkStatus();
  const std::string& zone = r.topology().availability_zone();
  if (!ebs_hooks_.serves_zone || !ebs_hooks_.serves_zone(zone)) {
    return Ec2Error(absl::StatusCode::kResourceExhausted, "InsufficientVolumeCapacity",
                    absl::StrCat("There is no volume service in availability zone ", zone,
                                 ": instances with EBS volumes cannot launch there."));
  }
  const int64_t now_ms = absl::ToUnixMillis(clock_.Now());
  bool root_encrypted = false;
  for (const EbsVolumePlan& p : plans) {
    v1::VolumeRecord v;
    v.set_volume_id(ids_.Next("vol"));
    v.set_availability_zone(zone);
    v.set_size_gib(p.size_gib);
    v.set_volume_type(p.volume_type);
    v.set_iops(p.iops);
    v.set_throughput(p.throughput);
    v.set_encrypted(p.encrypted);
    std::string target = "vda";
    if (p.root) {
      auto snap = image.zone_snapshots().find(zone);
      if (snap != image.zone_snapshots().end()) {
        v.set_snapshot_id(snap->second);
      } else if (absl::Status copy = ZoneCopyAllowedLocked(image, p, zone); copy.ok()) {
        // A baked or copied AMI keeps its snapshots where they were taken: the root is a full
        // copy of one (VolumeService's reconcile loop), and the instance stays pending until
        // the copy is made and exported.
        v.set_snapshot_id(CopySourceLocked(image, p)->snapshot_id());
      } else {
        // An uploaded AMI is imported into every zone (pending until done).
        std::vector<std::string> kept;
        for (const auto& [z, id] : image.zone_snapshots()) kept.push_back(z);
        std::sort(kept.begin(), kept.end());
        return Ec2Error(
            absl::StatusCode::kFailedPrecondition, "InvalidAMIID.Unavailable",
            absl::StrCat(
                "The AMI ", image.image_id(), " has no snapshot in ", zone,
                image.from_snapshot() && !kept.empty()
                    ? absl::StrCat(": its snapshots are kept in ", absl::StrJoin(kept, ", "),
                                   " and cannot be copied (", copy.message(), ")")
                    : " yet; retry once its import is complete"));
      }
      r.set_root_volume_id(v.volume_id());
      auto snap_record = state_.snapshots().find(v.snapshot_id());
      root_encrypted = p.encrypted ||
                       (snap_record != state_.snapshots().end() && snap_record->second.encrypted());
    } else {
      if (!p.snapshot_id.empty()) {
        auto snap = state_.snapshots().find(p.snapshot_id);
        if (snap != state_.snapshots().end() && snap->second.availability_zone() != zone) {
          // Copied in full by VolumeService's reconcile loop, when it may be.
          if (absl::Status copy = ZoneCopyAllowedLocked(image, p, zone); !copy.ok()) {
            return InvalidParameterValue(
                absl::StrCat("The snapshot ", p.snapshot_id, " is in ",
                             snap->second.availability_zone(), "; the instance launches in ", zone,
                             " and it cannot be copied there (", copy.message(), ")"));
          }
        }
        v.set_snapshot_id(p.snapshot_id);
      }
      MC_ASSIGN_OR_RETURN(target, volumes::EbsDeviceTarget(p.device_name));
    }
    v.set_state(v1::VOLUME_STATE_CREATING);
    v.set_create_time_ms(now_ms);
    v1::VolumeAttachmentRecord* a = v.add_attachments();
    a->set_instance_id(r.instance_id());
    a->set_device(p.device_name);
    a->set_state(v1::ATTACHMENT_STATE_ATTACHING);
    a->set_attach_time_ms(now_ms);
    a->set_delete_on_termination(p.delete_on_termination);
    a->set_target_dev(target);
    volume_ids.push_back(v.volume_id());
    changes.volumes[v.volume_id()] = std::move(v);
  }
  if (r.hibernation_configured()) {
    // The volume that will hold the guest's RAM when it hibernates (hibernation.h): made and
    // exported with the root, encrypted like it, deleted with the instance (DeleteOnTermination),
    // hidden from the volume APIs. Its attachment is no guest disk: the host gets it as
    // DesiredInstance.hibernation_disk and never reports it attached.
    v1::VolumeRecord v;
    v.set_volume_id(ids_.Next("vol"));
    v.set_availability_zone(zone);
    v.set_size_gib(HibernationVolumeGib(r.memory_mib()));
    v.set_volume_type("gp2");
    v.set_iops(static_cast<int32_t>(volumes::Gp2BaselineIops(v.size_gib())));
    v.set_encrypted(root_encrypted);
    v.set_hibernation_state_of(r.instance_id());
    v.set_state(v1::VOLUME_STATE_CREATING);
    v.set_create_time_ms(now_ms);
    v1::VolumeAttachmentRecord* a = v.add_attachments();
    a->set_instance_id(r.instance_id());
    a->set_state(v1::ATTACHMENT_STATE_ATTACHING);
    a->set_attach_time_ms(now_ms);
    a->set_delete_on_termination(true);
    r.set_hibernation_volume_id(v.volume_id());
    volume_ids.push_back(v.volume_id());
    changes.volumes[v.volume_id()] = std::move(v);
  }
  return absl::OkStatus();
}

}  // namespace minicloud::controller
