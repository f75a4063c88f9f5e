// CreateImage: an EBS-backed AMI baked from the snapshots of an instance's EBS volumes, and the
// steps that move a `pending` AMI on (ReconcileImages). EC2's rules (EC2 API reference,
// CreateImage; User Guide "Create an Amazon EBS-backed AMI"):
// - the instance is EBS-backed and running or stopped; every EBS volume attached to it is
//   snapshotted, and the AMI's block device mapping names those snapshots (size, type,
//   DeleteOnTermination of the attachment, IOPS, throughput);
// - without NoReboot a running instance is shut down cleanly first, so the snapshots hold a
//   file system at rest, and started again afterwards; with it they are crash-consistent;
// - BlockDeviceMapping may change only DeleteOnTermination of an existing device (not its size
//   or encryption), leave a volume out with NoDevice, or add devices (blank volumes, ephemeral N);
// - the AMI is `pending` until its snapshots are completed, then `available`.
//
// The bake is a small state machine kept in the AMI's record (bake_step), so a controller
// restart in the middle continues where it was: "stop" (ask StopInstances), "stopping" (wait for
// `stopped`), "snapshot" (take the snapshots, record them in the mapping), "start" (start the
// instance again when the bake stopped it), "wait" (the snapshots complete).
#include <algorithm>
#include <functional>
#include <map>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/ec2_error.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "controller/service/compute_service.h"
#include "controller/service/ebs_mapping.h"
#include "controller/service/image_service.h"
#include "controller/service/instance_common.h"
#include "controller/service/tag_service.h"
#include "controller/service/volume_service.h"

namespace minicloud::controller {
namespace {

constexpr size_t kMaxImageDescription = 255;  // EC2's limit for AMI descriptions

constexpr char kStepStop[] = "stop";
constexpr char kStepStopping[] = "stopping";
constexpr char kStepSnapshot[] = "snapshot";
constexpr char kStepStart[] = "start";
constexpr char kStepWait[] = "wait";

// The instance's EBS attachments that count for an image (not detaching or detached), root
// first, then by device name.
struct AttachedVolume {
  const v1::VolumeRecord* volume;
  const v1::VolumeAttachmentRecord* attachment;
};
std::vector<AttachedVolume> AttachedVolumesLocked(CloudState& state,
                                                  const v1::InstanceRecord& inst) {
  std::vector<AttachedVolume> out;
  for (const auto& [id, v] : state.volumes()) {
    if (!v.hibernation_state_of().empty()) continue;  // the saved RAM is not baked
    for (const auto& a : v.attachments()) {
      if (a.instance_id() != inst.instance_id()) continue;
      if (a.state() != v1::ATTACHMENT_STATE_ATTACHED &&
          a.state() != v1::ATTACHMENT_STATE_ATTACHING) {
        continue;
      }
      out.push_back({&v, &a});
    }
  }
  std::sort(out.begin(), out.end(), [&](const AttachedVolume& a, const AttachedVolume& b) {
    const bool ra = a.volume->volume_id() == inst.root_volume_id();
    const bool rb = b.volume->volume_id() == inst.root_volume_id();
    if (ra != rb) return ra;
    return a.attachment->device() < b.attachment->device();
  });
  return out;
}

}  // namespace

absl::StatusOr<v1::CreateImageResponse> ImageService::CreateImage(
    const v1::CreateImageRequest& req) {
  if (req.instance_id().empty()) {
    return MissingParameter("The request must contain the parameter InstanceId");
  }
  if (req.name().empty()) return MissingParameter("The request must contain the parameter Name");
  MC_RETURN_IF_ERROR(CheckInstanceIdFormat(req.instance_id()));
  if (!IsValidImageName(req.name())) {
    return InvalidParameterValue(
        absl::StrCat("AMI name '", QuoteForMessage(req.name(), 140),
                     "' must be 3-128 characters of letters, numbers, ( ) [ ] space . / - ' @ _"));
  }
  if (req.description().size() > kMaxImageDescription) {
    return InvalidParameterValue(
        absl::StrCat("The description must be at most ", kMaxImageDescription, " characters long"));
  }
  MC_RETURN_IF_ERROR(ValidateTagSpecification(req.tags(), TagUse::kApiOnly, "image"));
  MC_RETURN_IF_ERROR(ValidateTagSpecification(req.snapshot_tags(), TagUse::kApiOnly, "snapshot"));
  if (volumes_ == nullptr) {
    return Ec2Error(absl::StatusCode::kFailedPrecondition, "UnsupportedOperation",
                    "CreateImage needs a volume service: this cloud has none");
  }
  std::string image_id;
  {
    std::lock_guard<std::mutex> lock(state_.mu());
    MC_ASSIGN_OR_RETURN(const v1::InstanceRecord* inst,
                        FindInstanceLocked(state_, req.instance_id()));
    if (inst->root_device_type() == kRootDeviceTypeInstanceStore ||
        inst->root_volume_id().empty()) {
      // EC2 makes AMIs of instance-store-backed instances by bundling, never by CreateImage; the
      // code is the one StopInstances answers for them. A host-local root (AMIs registered
      // without an Ebs root) is not a volume either.
      return Ec2Error(
          absl::StatusCode::kFailedPrecondition, "UnsupportedOperation",
          absl::StrCat("The instance '", inst->instance_id(),
                       "' does not have an 'ebs' root device type: CreateImage makes AMIs of "
                       "EBS-backed instances only"));
    }
    const bool running = inst->state() == v1::INSTANCE_STATE_CODE_RUNNING;
    if (!running && inst->state() != v1::INSTANCE_STATE_CODE_STOPPED) {
      return Ec2Error(absl::StatusCode::kFailedPrecondition, "IncorrectInstanceState",
                      absl::StrCat("The instance '", inst->instance_id(),
                                   "' is not in a state from which it can be imaged (running or "
                                   "stopped)."));
    }
    // Existing devices may change only DeleteOnTermination (EC2's rule).
    const std::vector<AttachedVolume> attached = AttachedVolumesLocked(state_, *inst);
    for (const v1::BlockDeviceMapping& m : req.block_device_mappings()) {
      if (m.device_name().empty()) {
        return MissingParameter("Each BlockDeviceMapping needs a DeviceName");
      }
      for (const AttachedVolume& a : attached) {
        if (!SameDevice(a.attachment->device(), m.device_name())) continue;
        if (m.no_device() && a.volume->volume_id() == inst->root_volume_id()) {
          return Ec2Error(absl::StatusCode::kInvalidArgument, "InvalidBlockDeviceMapping",
                          absl::StrCat("The root device ", m.device_name(),
                                       " cannot be left out of the image"));
        }
        const v1::EbsBlockDevice& e = m.ebs();
        if (m.has_ebs() &&
            (!e.snapshot_id().empty() || e.volume_size() != 0 || !e.volume_type().empty() ||
             e.has_iops() || e.has_throughput() || e.has_encrypted())) {
          return Ec2Error(
              absl::StatusCode::kInvalidArgument, "InvalidBlockDeviceMapping",
              absl::StrCat("Only DeleteOnTermination of the existing device ", m.device_name(),
                           " can change in CreateImage; resize or re-type the "
                           "instance's volume first"));
        }
      }
    }
    MC_RETURN_IF_ERROR(CheckNameFreeLocked(req.name()));
    if (req.dry_run()) return DryRunOk();
    v1::ImageRecord rec;
    rec.set_image_id(ids_.Next("ami"));
    rec.set_name(req.name());
    rec.set_description(req.description());
    rec.set_architecture(inst->architecture().empty() ? "x86_64" : inst->architecture());
    rec.set_root_device_name(inst->root_device_name());
    rec.set_root_device_type(kRootDeviceTypeEbs);
    rec.set_from_snapshot(true);
    // The guest boots as the instance did: the source AMI's kernel and initramfs for a direct
    // kernel boot (they stay stored while this AMI names them), else the disk's bootloader.
    // The disk itself is the root snapshot, not an uploaded file.
    v1::BootImage boot = state_.BootImageOf(*inst);
    boot.clear_sha256();
    boot.clear_size_bytes();
    boot.set_image_id(rec.image_id());
    *rec.mutable_boot() = boot;
    rec.set_creation_time_ms(absl::ToUnixMillis(clock_.Now()));
    rec.set_owner_id(state_.config().owner_id);
    rec.set_state("pending");
    rec.set_bake_instance_id(inst->instance_id());
    rec.set_bake_reboot(running && !req.no_reboot());
    rec.set_bake_step(rec.bake_reboot() ? kStepStop : kStepSnapshot);
    *rec.mutable_bake_overrides() = req.block_device_mappings();
    *rec.mutable_bake_snapshot_tags() = req.snapshot_tags();
    SetTags(req.tags(), *rec.mutable_tags());
    CloudState::Changes changes;
    changes.images[rec.image_id()] = rec;
    MC_RETURN_IF_ERROR(Annotate(state_.CommitLocked(changes), "record image"));
    image_id = rec.image_id();
    spdlog::info("CreateImage {} of {} ({})", image_id, inst->instance_id(),
                 rec.bake_reboot() ? "stop, snapshot, start" : "no reboot");
  }
  AdvanceImage(image_id);  // without a reboot: the snapshots are taken before this answers
  v1::CreateImageResponse resp;
  resp.set_image_id(image_id);
  return resp;
}

int ImageService::ReconcileImages() {
  std::vector<std::string> pending;
  {
    auto lock = state_.LockCommitted();
    for (const auto& [id, img] : state_.images()) {
      if (img.state() == "pending") pending.push_back(id);
    }
  }
  int changed = 0;
  for (const auto& id : pending) changed += AdvanceImage(id) ? 1 : 0;
  return changed;
}

bool ImageService::AdvanceImage(const std::string& image_id) {
  std::lock_guard<std::mutex> advancing(advance_mu_);
  // Records `next` as the AMI's new step / state; false when the AMI is gone.
  auto record = [&](const std::function<void(v1::ImageRecord&)>& change) {
    auto lock = state_.LockCommitted();
    auto it = state_.images().find(image_id);
    if (it == state_.images().end()) return false;
    v1::ImageRecord next = it->second;
    change(next);
    CloudState::Changes changes;
    changes.images[image_id] = next;
    return state_.CommitLocked(changes).ok();
  };
  auto fail = [&](const std::string& why) {
    spdlog::warn("image {} failed: {}", image_id, why);
    record([&](v1::ImageRecord& r) {
      r.set_state("failed");
      r.set_state_reason(why);
      r.clear_bake_step();
    });
    return true;
  };
  for (int guard = 0; guard < 8; ++guard) {
    v1::ImageRecord img;
    v1::InstanceStateCode inst_state = v1::INSTANCE_STATE_CODE_UNSPECIFIED;
    {
      auto lock = state_.LockCommitted();
      auto it = state_.images().find(image_id);
      if (it == state_.images().end() || it->second.state() != "pending") return guard > 0;
      img = it->second;
      if (auto i = state_.instances().find(img.bake_instance_id()); i != state_.instances().end()) {
        inst_state = i->second.state();
      }
    }
    const std::string& step = img.bake_step();
    if (step == kStepStop || step == kStepStopping || step == kStepSnapshot) {
      if (inst_state == v1::INSTANCE_STATE_CODE_UNSPECIFIED ||
          inst_state == v1::INSTANCE_STATE_CODE_TERMINATED ||
          inst_state == v1::INSTANCE_STATE_CODE_SHUTTING_DOWN) {
        return fail(absl::StrCat("the instance ", img.bake_instance_id(),
                                 " was terminated before its volumes were snapshotted"));
      }
    }
    if (step == kStepStop) {
      if (compute_ == nullptr) return fail("this controller cannot stop the instance");
      if (inst_state == v1::INSTANCE_STATE_CODE_RUNNING) {
        v1::StopInstancesRequest stop;
        stop.add_instance_ids(img.bake_instance_id());
        if (auto s = compute_->StopInstances(stop); !s.ok()) {
          return fail(absl::StrCat("stop ", img.bake_instance_id(), ": ", s.status().message()));
        }
      }
      if (!record([](v1::ImageRecord& r) { r.set_bake_step(kStepStopping); })) return true;
      continue;
    }
    if (step == kStepStopping) {
      if (inst_state != v1::INSTANCE_STATE_CODE_STOPPED) return guard > 0;  // wait for the host
      if (!record([](v1::ImageRecord& r) { r.set_bake_step(kStepSnapshot); })) return true;
      continue;
    }
    if (step == kStepSnapshot) {
      if (absl::Status s = SnapshotInstanceVolumes(image_id); !s.ok()) {
        if (s.code() == absl::StatusCode::kUnavailable) return guard > 0;  // ask again later
        return fail(std::string(s.message()));
      }
      const bool restart = img.bake_reboot();
      if (!record([&](v1::ImageRecord& r) { r.set_bake_step(restart ? kStepStart : kStepWait); })) {
        return true;
      }
      continue;
    }
    if (step == kStepStart) {
      if (compute_ != nullptr && inst_state == v1::INSTANCE_STATE_CODE_STOPPED) {
        v1::StartInstancesRequest start;
        start.add_instance_ids(img.bake_instance_id());
        if (auto s = compute_->StartInstances(start); !s.ok()) {
          // The AMI does not depend on it: the instance stays stopped, as a failed start would.
          spdlog::warn("image {}: start {} again: {}", image_id, img.bake_instance_id(),
                       s.status().message());
        }
      }
      if (!record([](v1::ImageRecord& r) { r.set_bake_step(kStepWait); })) return true;
      continue;
    }
    // kStepWait (and CopyImage's AMIs): available once every snapshot it names is completed.
    std::vector<std::string> snaps;
    for (const auto& m : img.block_device_mappings()) {
      if (m.has_ebs() && !m.ebs().snapshot_id().empty()) snaps.push_back(m.ebs().snapshot_id());
    }
    for (const auto& [zone, s] : img.zone_snapshots()) snaps.push_back(s);
    std::string failed;
    bool all_done = true;
    {
      auto lock = state_.LockCommitted();
      for (const auto& id : snaps) {
        auto it = state_.snapshots().find(id);
        if (it == state_.snapshots().end() || it->second.state() == v1::SNAPSHOT_STATE_ERROR) {
          failed = absl::StrCat("the snapshot ", id, " failed",
                                it == state_.snapshots().end()
                                    ? std::string(" (gone)")
                                    : absl::StrCat(": ", it->second.error_message()));
          break;
        }
        if (it->second.state() != v1::SNAPSHOT_STATE_COMPLETED) all_done = false;
      }
    }
    if (!failed.empty()) return fail(failed);
    if (!all_done) return guard > 0;
    record([](v1::ImageRecord& r) {
      r.clear_state();  // available
      r.clear_bake_step();
      r.clear_bake_overrides();
      r.clear_bake_snapshot_tags();
    });
    spdlog::info("image {} available", image_id);
    return true;
  }
  return true;
}

absl::Status ImageService::SnapshotInstanceVolumes(const std::string& image_id) {
  struct Planned {
    std::string volume_id;
    v1::BlockDeviceMapping mapping;  // its entry in the AMI (snapshot id filled in below)
    bool root = false;
  };
  std::vector<Planned> planned;
  v1::ImageRecord img;
  std::string zone;
  {
    auto lock = state_.LockCommitted();
    auto it = state_.images().find(image_id);
    if (it == state_.images().end()) return absl::NotFoundError("image deregistered");
    img = it->second;
    auto inst = state_.instances().find(img.bake_instance_id());
    if (inst == state_.instances().end()) return absl::NotFoundError("instance gone");
    zone = inst->second.topology().availability_zone();
    for (const AttachedVolume& a : AttachedVolumesLocked(state_, inst->second)) {
      bool left_out = false;
      Planned p;
      p.volume_id = a.volume->volume_id();
      p.root = p.volume_id == inst->second.root_volume_id();
      p.mapping.set_device_name(a.attachment->device());
      v1::EbsBlockDevice& e = *p.mapping.mutable_ebs();
      e.set_volume_size(static_cast<int32_t>(a.volume->size_gib()));
      e.set_volume_type(a.volume->volume_type());
      e.set_delete_on_termination(a.attachment->delete_on_termination());
      if (a.volume->volume_type() == "io1" || a.volume->volume_type() == "io2" ||
          a.volume->volume_type() == "gp3") {
        e.set_iops(a.volume->iops());
      }
      if (a.volume->volume_type() == "gp3") e.set_throughput(a.volume->throughput());
      e.set_encrypted(a.volume->encrypted());
      for (const auto& o : img.bake_overrides()) {
        if (!SameDevice(o.device_name(), p.mapping.device_name())) continue;
        if (o.no_device()) left_out = true;
        if (o.ebs().has_delete_on_termination()) {
          e.set_delete_on_termination(o.ebs().delete_on_termination());
        }
      }
      if (!left_out) planned.push_back(std::move(p));
    }
  }
  if (planned.empty() || !planned.front().root) {
    return absl::FailedPreconditionError("the instance's root volume is not attached");
  }
  // One snapshot per volume, taken back to back (each is a point in time of its volume).
  for (Planned& p : planned) {
    v1::CreateSnapshotRequest snap;
    snap.set_volume_id(p.volume_id);
    snap.set_description(absl::StrCat("Created by CreateImage(", img.bake_instance_id(), ") for ",
                                      image_id, " from ", p.volume_id));
    *snap.mutable_tags() = img.bake_snapshot_tags();
    MC_ASSIGN_OR_RETURN(const v1::Snapshot made, volumes_->CreateSnapshot(snap));
    p.mapping.mutable_ebs()->set_snapshot_id(made.snapshot_id());
  }
  auto lock = state_.LockCommitted();
  auto it = state_.images().find(image_id);
  if (it == state_.images().end()) return absl::OkStatus();  // deregistered meanwhile
  v1::ImageRecord next = it->second;
  next.clear_block_device_mappings();
  for (const Planned& p : planned) *next.add_block_device_mappings() = p.mapping;
  // Devices the instance has not: added as given (EC2 keeps them in the AMI's mapping).
  for (const auto& o : img.bake_overrides()) {
    bool known = o.no_device();
    for (const Planned& p : planned)
      known = known || SameDevice(p.mapping.device_name(), o.device_name());
    if (!known) *next.add_block_device_mappings() = o;
  }
  (*next.mutable_zone_snapshots())[zone] = planned.front().mapping.ebs().snapshot_id();
  next.set_virtual_size_bytes(planned.front().mapping.ebs().volume_size() * (int64_t{1} << 30));
  CloudState::Changes changes;
  changes.images[image_id] = next;
  return Annotate(state_.CommitLocked(changes), "record the image's snapshots");
}

}  // namespace minicloud::controller
