// AttachVolume, DetachVolume and the reconcile of attachments (volume_service.h).
//
// The attachment's life: AttachVolume records it `attaching` (the volume `in-use`), exports the
// volume on the zone's volume service outside the state lock and records the NBD endpoint; the
// instance's host then finds the disk in its desired state (FleetService) and hot-plugs it, and
// its report makes the attachment `attached`. DetachVolume makes it `detaching`: the disk leaves
// the desired state, the host unplugs it and its report makes it `detached`. Reconcile then
// unexports the volume and removes the attachment; the volume's last one ending makes it
// `available`. The state changes themselves are controller/lifecycle/volume_lifecycle.h's.
#include <algorithm>
#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/ec2_error.h"
#include "common/ids.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "common/volume_limits.h"
#include "controller/lifecycle/volume_failure.h"
#include "controller/lifecycle/volume_lifecycle.h"
#include "controller/service/instance_common.h"
#include "controller/service/volume_service.h"

namespace minicloud::controller {
namespace {

using lifecycle::AttachmentEvent;
using lifecycle::VolumeEvent;

// The instance has a domain whose guest must take or release the disk (the host reports it);
// otherwise (stopped) only the record changes and the disk follows at the next boot.
bool LiveInstance(const v1::InstanceRecord& r) {
  return r.state() == v1::INSTANCE_STATE_CODE_PENDING ||
         r.state() == v1::INSTANCE_STATE_CODE_RUNNING;
}

// EC2 refuses attaching to an instance that is not pending, running or stopped.
absl::Status CheckInstanceAttachable(const v1::InstanceRecord& r) {
  if (LiveInstance(r) || r.state() == v1::INSTANCE_STATE_CODE_STOPPED) return absl::OkStatus();
  return Ec2Error(absl::StatusCode::kFailedPrecondition, "IncorrectState",
                  absl::StrCat("Instance '", r.instance_id(), "' is not 'running' or 'stopped'."));
}

v1::VolumeAttachmentRecord* FindAttachment(v1::VolumeRecord& v, const std::string& instance_id) {
  for (auto& a : *v.mutable_attachments()) {
    if (a.instance_id() == instance_id) return &a;
  }
  return nullptr;
}

// The virtio slots an instance's disks already use: its root, its instance-store volumes (their
// device names map to slots by the same rule as EBS names: sdb and xvdb are one slot) and every
// other EBS attachment.
std::set<std::string> SlotsInUseLocked(CloudState& state, const v1::InstanceRecord& instance) {
  const std::string& instance_id = instance.instance_id();
  std::set<std::string> used = {"vda"};
  for (const v1::DesiredInstanceStoreDisk& d : instance.instance_store()) {
    if (auto target = volumes::EbsDeviceTarget(d.device_name()); target.ok()) used.insert(*target);
  }
  for (const auto& [id, v] : state.volumes()) {
    for (const auto& a : v.attachments()) {
      if (a.instance_id() == instance_id && a.state() != v1::ATTACHMENT_STATE_DETACHED) {
        used.insert(a.target_dev());
      }
    }
  }
  return used;
}

}  // namespace

absl::StatusOr<v1::VolumeAttachment> VolumeService::AttachVolume(
    const v1::AttachVolumeRequest& req) {
  if (req.volume_id().empty()) {
    return MissingParameter("The request must contain the parameter VolumeId");
  }
  if (req.instance_id().empty()) {
    return MissingParameter("The request must contain the parameter InstanceId");
  }
  if (req.device().empty())
    return MissingParameter("The request must contain the parameter device");
  MC_ASSIGN_OR_RETURN(const std::string target, volumes::EbsDeviceTarget(req.device()));

  v1::VolumeRecord v;
  {
    auto lock = state_.LockCommitted();
    MC_ASSIGN_OR_RETURN(const v1::VolumeRecord* found, FindVolumeLocked(state_, req.volume_id()));
    MC_ASSIGN_OR_RETURN(const v1::InstanceRecord* instance,
                        FindInstanceLocked(state_, req.instance_id()));
    if (instance->topology().availability_zone() != found->availability_zone()) {
      return Ec2Error(absl::StatusCode::kInvalidArgument, "InvalidVolume.ZoneMismatch",
                      absl::StrCat("The volume '", found->volume_id(),
                                   "' is not in the same availability zone as instance '",
                                   instance->instance_id(), "'"));
    }
    MC_RETURN_IF_ERROR(CheckInstanceAttachable(*instance));
    v = *found;
    // The same volume on the same instance again: the attachment lifecycle refuses it.
    const v1::VolumeAttachmentRecord* existing = FindAttachment(v, req.instance_id());
    MC_RETURN_IF_ERROR(
        lifecycle::Apply(v.volume_id(),
                         existing ? existing->state() : v1::ATTACHMENT_STATE_UNSPECIFIED,
                         AttachmentEvent::kAttachRequested)
            .status());
    MC_ASSIGN_OR_RETURN(auto t, lifecycle::Apply(VolumeViewOf(v), VolumeEvent::kAttachRequested));
    if (SlotsInUseLocked(state_, *instance).contains(target)) {
      return volumes::EbsDeviceInUse(req.device());
    }
    if (req.dry_run()) return DryRunOk();
    if (existing != nullptr) {
      // A detached attachment of the same instance waiting for its unexport: replaced.
      auto* list = v.mutable_attachments();
      list->erase(
          std::remove_if(list->begin(), list->end(),
                         [&](const auto& a) { return a.instance_id() == req.instance_id(); }),
          list->end());
    }
    v1::VolumeAttachmentRecord* a = v.add_attachments();
    a->set_instance_id(req.instance_id());
    a->set_device(req.device());
    a->set_target_dev(target);
    a->set_state(v1::ATTACHMENT_STATE_ATTACHING);
    a->set_attach_time_ms(absl::ToUnixMillis(clock_.Now()));
    a->set_delete_on_termination(false);  // data volumes (EC2's default for AttachVolume)
    v.set_state(t.state);
    CloudState::Changes changes;
    changes.volumes[v.volume_id()] = v;
    MC_RETURN_IF_ERROR(Annotate(state_.CommitLocked(changes), "record attachment"));
  }
  MC_RETURN_IF_ERROR(FinishExport(v.volume_id(), req.instance_id()));
  auto lock = state_.LockCommitted();
  auto it = state_.volumes().find(v.volume_id());
  if (it != state_.volumes().end()) v = it->second;
  v1::VolumeAttachmentRecord* a = FindAttachment(v, req.instance_id());
  if (a == nullptr) return absl::InternalError("the attachment vanished while it was made");
  v1::VolumeAttachment out = AttachmentToApi(v.volume_id(), *a);
  // EC2's AttachVolume always answers `attaching`: also for a stopped instance whose attachment
  // is recorded attached, and when the agent's hot-plug report was committed before this read.
  out.set_state(v1::ATTACHMENT_STATE_ATTACHING);
  return out;
}

absl::Status VolumeService::FinishExport(const std::string& volume_id,
                                         const std::string& instance_id) {
  std::string zone;
  {
    auto lock = state_.LockCommitted();
    auto it = state_.volumes().find(volume_id);
    if (it == state_.volumes().end()) return absl::OkStatus();
    zone = it->second.availability_zone();
  }
  auto client = fleet_.ServiceFor(zone);
  absl::StatusOr<NbdEndpoint> endpoint =
      client.ok() ? (*client)->ExportVolume(volume_id) : client.status();
  // The same rule as for making a volume: a call that did not get through is asked again, any
  // other answer is final (no retry budget here: a boot that waits for it ends at the launch
  // timeout at the latest).
  lifecycle::VolumeAttempt attempt;
  attempt.status = endpoint.status();
  const lifecycle::VolumeFailure failure = lifecycle::ClassifyVolumeFailure(attempt);
  if (failure.kind == lifecycle::VolumeFailureKind::kRetry) {
    spdlog::warn("export {}: {} (asked again)", volume_id, endpoint.status().message());
    return absl::OkStatus();  // stays attaching; ReconcileAttachments asks again
  }
  auto lock = state_.LockCommitted();
  auto it = state_.volumes().find(volume_id);
  if (it == state_.volumes().end()) return absl::OkStatus();
  v1::VolumeRecord v = it->second;
  v1::VolumeAttachmentRecord* a = FindAttachment(v, instance_id);
  if (a == nullptr || a->state() == v1::ATTACHMENT_STATE_DETACHED) return absl::OkStatus();
  CloudState::Changes changes;
  std::string host;
  if (auto inst = state_.instances().find(instance_id); inst != state_.instances().end()) {
    host = inst->second.host_id();
    if (endpoint.ok() && !LiveInstance(inst->second)) {
      // Nothing to hot-plug: the disk is part of the instance from its next boot on.
      MC_ASSIGN_OR_RETURN(auto s,
                          lifecycle::Apply(volume_id, a->state(), AttachmentEvent::kHostAttached));
      a->set_state(s);
    }
  }
  if (!endpoint.ok()) {
    if (auto inst = state_.instances().find(instance_id);
        inst != state_.instances().end() &&
        inst->second.state() == v1::INSTANCE_STATE_CODE_PENDING) {
      // A boot waits for this export (FleetService::DesiredLocked): the refusal ends it now, as
      // a volume that cannot be made does, instead of at the launch timeout. The attachment
      // stays: a launch's end detaches it (and deletes it if DeleteOnTermination), a start
      // that went back to stopped keeps its disks.
      std::set<std::string> hosts;
      if (FailBootLocked(instance_id,
                         absl::StrCat("volume ", volume_id, " (", a->device(),
                                      ") cannot be exported by the volume service of ", zone, ": ",
                                      endpoint.status().message()),
                         failure.reason_code, changes, hosts)) {
        MC_RETURN_IF_ERROR(Annotate(state_.CommitLocked(changes), "end the boot"));
        for (const std::string& h : hosts) state_.BumpGenerationLocked(h);
      }
      return Ec2Error(absl::StatusCode::kInternal, "InternalError",
                      absl::StrCat("The volume service of ", zone, " could not export ", volume_id,
                                   ": ", endpoint.status().message()));
    }
    // The service's final refusal: the attach did not happen, and nothing else changes.
    auto* list = v.mutable_attachments();
    list->erase(std::remove_if(list->begin(), list->end(),
                               [&](const auto& x) { return x.instance_id() == instance_id; }),
                list->end());
    if (VolumeViewOf(v).attachments == 0 && v.state() == v1::VOLUME_STATE_IN_USE) {
      MC_ASSIGN_OR_RETURN(auto t, lifecycle::Apply(VolumeViewOf(v), VolumeEvent::kLastDetached));
      v.set_state(t.state);
    }
    changes.volumes[volume_id] = v;
    MC_RETURN_IF_ERROR(Annotate(state_.CommitLocked(changes), "drop failed attachment"));
    return Ec2Error(absl::StatusCode::kInternal, "InternalError",
                    absl::StrCat("The volume service of ", zone, " could not export ", volume_id,
                                 ": ", endpoint.status().message()));
  }
  a->set_nbd_host(endpoint->host);
  a->set_nbd_port(endpoint->port);
  a->set_export_name(endpoint->export_name);
  a->set_nbd_tls(endpoint->tls);
  a->set_nbd_tls_hostname(endpoint->tls_hostname);
  changes.volumes[volume_id] = v;
  MC_RETURN_IF_ERROR(Annotate(state_.CommitLocked(changes), "record export"));
  if (!host.empty()) state_.BumpGenerationLocked(host);
  return absl::OkStatus();
}

absl::StatusOr<v1::VolumeAttachment> VolumeService::DetachVolume(
    const v1::DetachVolumeRequest& req) {
  if (req.volume_id().empty()) {
    return MissingParameter("The request must contain the parameter VolumeId");
  }
  if (!req.instance_id().empty()) MC_RETURN_IF_ERROR(CheckInstanceIdFormat(req.instance_id()));
  auto lock = state_.LockCommitted();
  MC_ASSIGN_OR_RETURN(const v1::VolumeRecord* found, FindVolumeLocked(state_, req.volume_id()));
  v1::VolumeRecord v = *found;
  std::vector<v1::VolumeAttachmentRecord*> current;
  for (auto& a : *v.mutable_attachments()) {
    if (a.state() != v1::ATTACHMENT_STATE_DETACHED) current.push_back(&a);
  }
  if (current.empty()) {
    return Ec2Error(absl::StatusCode::kFailedPrecondition, "IncorrectState",
                    absl::StrCat("Volume '", v.volume_id(), "' is in the '",
                                 lifecycle::VolumeStateName(v.state()), "' state."));
  }
  v1::VolumeAttachmentRecord* a = nullptr;
  for (auto* c : current) {
    if (req.instance_id().empty() || c->instance_id() == req.instance_id()) {
      if (a != nullptr) {
        return MissingParameter(absl::StrCat("Volume '", v.volume_id(),
                                             "' is attached to more than one instance: the "
                                             "request must contain the parameter InstanceId"));
      }
      a = c;
    }
  }
  auto not_found = [&] {
    return Ec2Error(absl::StatusCode::kNotFound, "InvalidAttachment.NotFound",
                    absl::StrCat("Attachment point for volume '", v.volume_id(), "' and instance '",
                                 QuoteForMessage(req.instance_id(), 64), "' does not exist."));
  };
  if (a == nullptr) return not_found();
  if (!req.device().empty() && req.device() != a->device()) {
    auto target = volumes::EbsDeviceTarget(req.device());
    if (!target.ok() || *target != a->target_dev()) return not_found();
  }
  MC_ASSIGN_OR_RETURN(
      v1::AttachmentState next,
      lifecycle::Apply(v.volume_id(), a->state(), AttachmentEvent::kDetachRequested));
  if (req.dry_run()) return DryRunOk();
  std::string host;
  bool live = false;
  if (auto inst = state_.instances().find(a->instance_id()); inst != state_.instances().end()) {
    host = inst->second.host_id();
    live = LiveInstance(inst->second);
  }
  a->set_state(next);
  if (req.force()) a->set_force(true);
  v1::VolumeAttachment out = AttachmentToApi(v.volume_id(), *a);
  if (!live || req.force()) {
    // No guest to wait for (stopped), or the caller does not wait for it (Force).
    MC_ASSIGN_OR_RETURN(auto done,
                        lifecycle::Apply(v.volume_id(), next, AttachmentEvent::kHostDetached));
    a->set_state(done);
  }
  CloudState::Changes changes;
  changes.volumes[v.volume_id()] = v;
  MC_RETURN_IF_ERROR(Annotate(state_.CommitLocked(changes), "record detachment"));
  if (!host.empty()) state_.BumpGenerationLocked(host);
  return out;
}

int VolumeService::ReconcileAttachments() {
  struct Pending {
    std::string volume_id, instance_id;
  };
  std::vector<Pending> exports;
  std::vector<v1::VolumeRecord> finishing;
  std::set<std::string> delete_after;  // DeleteOnTermination of a terminated instance
  std::vector<v1::VolumeRecord> deleting;
  {
    auto lock = state_.LockCommitted();
    CloudState::Changes changes;
    for (const auto& [id, v] : state_.volumes()) {
      v1::VolumeRecord next = v;
      bool changed = false;
      for (auto& a : *next.mutable_attachments()) {
        auto inst = state_.instances().find(a.instance_id());
        const bool gone = inst == state_.instances().end() ||
                          inst->second.state() == v1::INSTANCE_STATE_CODE_TERMINATED;
        if (a.state() == v1::ATTACHMENT_STATE_DETACHED) {
          // Noticed in an earlier pass whose unexport did not go through: still to delete.
          if (gone && a.delete_on_termination()) delete_after.insert(id);
          continue;
        }
        if (inst == state_.instances().end() ||
            inst->second.state() == v1::INSTANCE_STATE_CODE_TERMINATED) {
          // The instance is gone: its domain (and the guest's hold on the disk) went with it.
          // Volumes attached with DeleteOnTermination (an EBS root by default) are deleted once
          // unexported; the others are kept and become available.
          a.set_state(v1::ATTACHMENT_STATE_DETACHED);
          if (a.delete_on_termination()) delete_after.insert(id);
          changed = true;
          continue;
        }
        // A volume still being made (RunInstances' volumes) is exported once it exists.
        if (a.nbd_host().empty() && a.state() == v1::ATTACHMENT_STATE_ATTACHING &&
            v.state() != v1::VOLUME_STATE_CREATING && v.state() != v1::VOLUME_STATE_ERROR) {
          exports.push_back({id, a.instance_id()});
        }
      }
      if (changed) changes.volumes[id] = next;
      // A volume still being made keeps its ended attachments until it is: then it is deleted
      // with its instance when DeleteOnTermination says so (a launch that failed, a terminate
      // before the volume was made), or kept `available`.
      if (next.state() == v1::VOLUME_STATE_CREATING) continue;
      for (const auto& a : next.attachments()) {
        if (a.state() == v1::ATTACHMENT_STATE_DETACHED) {
          finishing.push_back(next);
          break;
        }
      }
    }
    (void)state_.CommitLocked(changes);  // a failed durable write does not return
  }
  int changed = 0;
  for (const auto& p : exports) {
    if (auto s = FinishExport(p.volume_id, p.instance_id); !s.ok()) {
      spdlog::warn("attach {} to {}: {}", p.volume_id, p.instance_id, s.message());
    }
  }
  for (const auto& v : finishing) {
    // The export stays while another attachment (Multi-Attach) still uses it.
    if (VolumeViewOf(v).attachments == 0) {
      auto client = fleet_.ServiceFor(v.availability_zone());
      absl::Status s = client.ok() ? (*client)->UnexportVolume(v.volume_id()) : client.status();
      if (!s.ok()) {
        spdlog::warn("unexport {}: {} (asked again)", v.volume_id(), s.message());
        continue;
      }
    }
    auto lock = state_.LockCommitted();
    auto it = state_.volumes().find(v.volume_id());
    if (it == state_.volumes().end()) continue;
    v1::VolumeRecord next = it->second;
    // Another attachment ended meanwhile and the export was kept for it: next pass.
    if (VolumeViewOf(v).attachments > 0 && VolumeViewOf(next).attachments == 0) continue;
    auto* list = next.mutable_attachments();
    list->erase(
        std::remove_if(list->begin(), list->end(),
                       [](const auto& a) { return a.state() == v1::ATTACHMENT_STATE_DETACHED; }),
        list->end());
    if (VolumeViewOf(next).attachments == 0 && next.state() == v1::VOLUME_STATE_IN_USE) {
      auto t = lifecycle::Apply(VolumeViewOf(next), VolumeEvent::kLastDetached);
      if (t.ok()) next.set_state(t->state);
    }
    if (delete_after.contains(next.volume_id()) && VolumeViewOf(next).attachments == 0) {
      auto t = lifecycle::Apply(VolumeViewOf(next), VolumeEvent::kDeleteRequested);
      if (t.ok() && t->changed) {
        next.set_state(t->state);
        deleting.push_back(next);
      }
    }
    CloudState::Changes changes;
    changes.volumes[next.volume_id()] = next;
    (void)state_.CommitLocked(changes);
    ++changed;
  }
  for (const auto& v : deleting) FinishDelete(v);  // unreachable service: Reconcile() retries
  return changed;
}

}  // namespace minicloud::controller
