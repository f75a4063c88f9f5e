// AMIs made of snapshots that exist already: RegisterImage with a root SnapshotId (no uploaded
// disk) and CopyImage within this cloud's region.
//
// RegisterImage of a snapshot (EC2 API reference, RegisterImage: "If you specify a snapshot ID
// for the root device, the AMI is EBS-backed"): the snapshot must be `completed`; the root
// volume size defaults to the snapshot's and may not be smaller. The AMI's root lives in the
// snapshot's availability zone only (instances of it launch there). The guest boots from the
// disk like a physical machine: the disk must carry a BIOS bootloader (GRUB in its MBR and a
// kernel and initramfs it finds), since no kernel is given to QEMU; cloud-init then finds its
// data on the metadata service as usual.
//
// CopyImage (EC2 API reference, CopyImage): SourceRegion must be this cloud's region; the copy
// is a new AMI id whose snapshots are copies (CopySnapshot) of the source's, `pending` until
// they are completed. Tags are not copied (CopyImageTags is not supported).
#include <map>

#include "absl/strings/str_cat.h"
#include "common/ec2_error.h"
#include "common/ids.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "controller/service/ebs_mapping.h"
#include "controller/service/image_service.h"
#include "controller/service/instance_common.h"
#include "controller/service/tag_service.h"
#include "controller/service/volume_service.h"

namespace minicloud::controller {
namespace {

constexpr size_t kMaxImageDescription = 255;

absl::Status CheckNewImage(const std::string& name, const std::string& description) {
  if (name.empty()) return MissingParameter("The request must contain the parameter Name");
  if (!IsValidImageName(name)) {
    return InvalidParameterValue(
        absl::StrCat("AMI name '", QuoteForMessage(name, 140),
                     "' must be 3-128 characters of letters, numbers, ( ) [ ] space . / - ' @ _"));
  }
  if (description.size() > kMaxImageDescription) {
    return InvalidParameterValue(
        absl::StrCat("The description must be at most ", kMaxImageDescription, " characters long"));
  }
  return absl::OkStatus();
}

std::string RootNameOf(const v1::RegisterImageRequest& req) {
  return req.root_device_name().empty() ? "/dev/xvda" : req.root_device_name();
}

}  // namespace

bool ImageService::IsSnapshotRegistration(const v1::RegisterImageRequest& req) {
  if (req.image_size_bytes() != 0) return false;
  const std::string root = RootNameOf(req);
  for (const auto& m : req.block_device_mappings()) {
    if (SameDevice(m.device_name(), root) && m.has_ebs() && !m.ebs().snapshot_id().empty()) {
      return true;
    }
  }
  return false;
}

absl::StatusOr<v1::RegisterImageResponse> ImageService::RegisterSnapshotImage(
    const v1::RegisterImageRequest& req) {
  MC_RETURN_IF_ERROR(CheckNewImage(req.name(), req.description()));
  if (!IsSnapshotRegistration(req)) {
    return MissingParameter("The root device's mapping must name a SnapshotId");
  }
  if (req.kernel_size_bytes() != 0 || req.ramdisk_size_bytes() != 0) {
    return Ec2Error(absl::StatusCode::kInvalidArgument, "InvalidParameterCombination",
                    "An AMI of a snapshot boots from its disk: it takes no kernel or ramdisk");
  }
  MC_RETURN_IF_ERROR(ValidateTagSpecification(req.tags(), TagUse::kApiOnly, "image"));
  v1::RegisterImageRequest normal = req;
  if (normal.architecture().empty()) normal.set_architecture("x86_64");
  if (normal.architecture() != "x86_64") {
    return InvalidParameterValue(absl::StrCat("Unsupported architecture '",
                                              QuoteForMessage(normal.architecture(), 32),
                                              "'; hosts run x86_64 guests"));
  }
  normal.set_root_device_name(RootNameOf(req));
  if (normal.root_device_type() == kRootDeviceTypeInstanceStore) {
    return Ec2Error(absl::StatusCode::kInvalidArgument, "InvalidBlockDeviceMapping",
                    "An instance-store AMI cannot map its root device to an EBS snapshot");
  }
  std::string root_snapshot;
  for (auto& m : *normal.mutable_block_device_mappings()) {
    if (SameDevice(m.device_name(), normal.root_device_name()) && m.has_ebs()) {
      root_snapshot = m.ebs().snapshot_id();
      m.mutable_ebs()->clear_snapshot_id();  // ResolveImageMapping checks the rest
    }
  }
  if (volumes_ == nullptr) {
    return Ec2Error(absl::StatusCode::kFailedPrecondition, "UnsupportedOperation",
                    "AMIs of snapshots need a volume service: this cloud has none");
  }
  std::lock_guard<std::mutex> lock(state_.mu());
  MC_ASSIGN_OR_RETURN(const v1::SnapshotRecord* snap, FindSnapshotLocked(state_, root_snapshot));
  if (snap->state() != v1::SNAPSHOT_STATE_COMPLETED) {
    return Ec2Error(absl::StatusCode::kFailedPrecondition, "IncorrectState",
                    absl::StrCat("Snapshot '", snap->snapshot_id(),
                                 "' is not completed: an AMI cannot be registered from it yet"));
  }
  const int64_t snap_bytes = snap->volume_size_gib() * (int64_t{1} << 30);
  MC_ASSIGN_OR_RETURN(ImageMapping mapping, ResolveImageMapping(normal, snap_bytes));
  for (const auto& m : mapping.mappings) {
    if (m.has_ebs() && !m.ebs().snapshot_id().empty()) {
      MC_ASSIGN_OR_RETURN(const v1::SnapshotRecord* data,
                          FindSnapshotLocked(state_, m.ebs().snapshot_id()));
      if (data->availability_zone() != snap->availability_zone()) {
        return InvalidParameterValue(
            absl::StrCat("The snapshot ", data->snapshot_id(), " is in ", data->availability_zone(),
                         "; the root snapshot in ", snap->availability_zone()));
      }
    }
  }
  MC_RETURN_IF_ERROR(CheckNameFreeLocked(normal.name()));
  v1::ImageRecord rec;
  rec.set_image_id(ids_.Next("ami"));
  rec.set_name(normal.name());
  rec.set_description(normal.description());
  rec.set_architecture(normal.architecture());
  rec.set_root_device_name(normal.root_device_name());
  rec.set_root_device_type(kRootDeviceTypeEbs);
  rec.set_from_snapshot(true);
  rec.mutable_boot()->set_image_id(rec.image_id());  // no kernel: BIOS boot from the disk
  rec.set_virtual_size_bytes(snap_bytes);
  for (auto& m : mapping.mappings) {
    if (SameDevice(m.device_name(), normal.root_device_name())) {
      m.mutable_ebs()->set_snapshot_id(root_snapshot);
    }
    *rec.add_block_device_mappings() = std::move(m);
  }
  (*rec.mutable_zone_snapshots())[snap->availability_zone()] = root_snapshot;
  rec.set_creation_time_ms(absl::ToUnixMillis(clock_.Now()));
  rec.set_owner_id(state_.config().owner_id);
  SetTags(normal.tags(), *rec.mutable_tags());
  CloudState::Changes changes;
  changes.images[rec.image_id()] = rec;
  MC_RETURN_IF_ERROR(Annotate(state_.CommitLocked(changes), "record image"));
  spdlog::info("registered {} '{}' from {}", rec.image_id(), rec.name(), root_snapshot);
  v1::RegisterImageResponse resp;
  resp.set_image_id(rec.image_id());
  return resp;
}

absl::StatusOr<v1::CopyImageResponse> ImageService::CopyImage(const v1::CopyImageRequest& req) {
  if (req.source_image_id().empty()) {
    return MissingParameter("The request must contain the parameter SourceImageId");
  }
  if (req.source_region().empty()) {
    return MissingParameter("The request must contain the parameter SourceRegion");
  }
  MC_RETURN_IF_ERROR(CheckNewImage(req.name(), req.description()));
  if (req.source_region() != state_.config().region) {
    return InvalidParameterValue(
        absl::StrCat("Invalid value '", QuoteForMessage(req.source_region(), 64),
                     "' for SourceRegion: this cloud has one region, ", state_.config().region));
  }
  v1::ImageRecord source;
  {
    auto lock = state_.LockCommitted();
    auto it = state_.images().find(req.source_image_id());
    if (it == state_.images().end()) {
      return Ec2Error(absl::StatusCode::kNotFound, "InvalidAMIID.NotFound",
                      absl::StrCat("The image id '[", QuoteForMessage(req.source_image_id(), 64),
                                   "]' does not exist"));
    }
    if (!it->second.state().empty()) {
      return Ec2Error(absl::StatusCode::kFailedPrecondition, "InvalidAMIID.Unavailable",
                      absl::StrCat("The image ", it->second.image_id(), " is ", it->second.state(),
                                   ": only available AMIs can be copied"));
    }
    MC_RETURN_IF_ERROR(CheckNameFreeLocked(req.name()));
    source = it->second;
  }
  if (req.dry_run()) return DryRunOk();
  v1::ImageRecord rec = source;
  rec.set_image_id(ids_.Next("ami"));
  rec.set_name(req.name());
  rec.set_description(req.description());
  rec.mutable_boot()->set_image_id(rec.image_id());
  rec.set_creation_time_ms(absl::ToUnixMillis(clock_.Now()));
  rec.clear_tags();
  // Each distinct snapshot of the source once (an AMI's root snapshot is both in its mapping
  // and in zone_snapshots).
  std::map<std::string, std::string> copied;
  auto copy = [&](const std::string& id) -> absl::StatusOr<std::string> {
    if (auto c = copied.find(id); c != copied.end()) return c->second;
    if (volumes_ == nullptr) return absl::FailedPreconditionError("no volume service");
    v1::CopySnapshotRequest c;
    c.set_source_snapshot_id(id);
    c.set_source_region(req.source_region());
    c.set_description(absl::StrCat("Copied for DestinationAmi ", rec.image_id(), " from SourceAmi ",
                                   source.image_id(), " for SourceSnapshot ", id));
    MC_ASSIGN_OR_RETURN(const v1::CopySnapshotResponse made, volumes_->CopySnapshot(c));
    copied[id] = made.snapshot_id();
    return made.snapshot_id();
  };
  for (auto& m : *rec.mutable_block_device_mappings()) {
    if (!m.has_ebs() || m.ebs().snapshot_id().empty()) continue;
    MC_ASSIGN_OR_RETURN(std::string id, copy(m.ebs().snapshot_id()));
    m.mutable_ebs()->set_snapshot_id(id);
  }
  for (auto& [zone, snap] : *rec.mutable_zone_snapshots()) {
    MC_ASSIGN_OR_RETURN(snap, copy(snap));
  }
  if (!copied.empty()) {
    rec.set_state("pending");
    rec.set_bake_step("wait");
    rec.set_from_snapshot(true);  // its snapshots are copies, never imports of the disk
  }
  {
    std::lock_guard<std::mutex> lock(state_.mu());
    MC_RETURN_IF_ERROR(CheckNameFreeLocked(rec.name()));  // a racing call may have won
    CloudState::Changes changes;
    changes.images[rec.image_id()] = rec;
    MC_RETURN_IF_ERROR(Annotate(state_.CommitLocked(changes), "record image copy"));
  }
  spdlog::info("copied {} to {} ({} snapshots)", source.image_id(), rec.image_id(), copied.size());
  if (!copied.empty()) AdvanceImage(rec.image_id());
  v1::CopyImageResponse resp;
  resp.set_image_id(rec.image_id());
  return resp;
}

}  // namespace minicloud::controller
