// ModifyVolume: grow, change type, IOPS, throughput or Multi-Attach (EC2 Elastic Volumes).
#include <optional>

#include "absl/strings/str_cat.h"
#include "common/ec2_error.h"
#include "common/status_macros.h"
#include "common/volume_limits.h"
#include "controller/lifecycle/volume_lifecycle.h"
#include "controller/service/timestamp.h"
#include "controller/service/volume_service.h"

namespace minicloud::controller {
namespace {

bool Settable(volumes::VolumeType t) { return volumes::LimitsOf(t).iops_settable; }

}  // namespace

absl::StatusOr<v1::ModifyVolumeResponse> VolumeService::ModifyVolume(
    const v1::ModifyVolumeRequest& req) {
  if (req.volume_id().empty()) {
    return MissingParameter("The request must contain the parameter VolumeId");
  }
  if (!req.has_size() && req.volume_type().empty() && !req.has_iops() && !req.has_throughput() &&
      !req.has_multi_attach_enabled()) {
    return InvalidParameterValue(
        "Invalid input: Must specify at least one of size, type, iops, throughput or "
        "multi-attach-enabled");
  }
  v1::VolumeRecord r;
  v1::VolumeModification m;
  {
    auto lock = state_.LockCommitted();
    MC_ASSIGN_OR_RETURN(const v1::VolumeRecord* found, FindVolumeLocked(state_, req.volume_id()));
    lifecycle::VolumeView view{found->volume_id(), found->state(), 0, found->multi_attach_enabled(),
                               ""};
    MC_RETURN_IF_ERROR(lifecycle::Apply(view, lifecycle::VolumeEvent::kModifyRequested).status());
    if (!found->modifications().empty()) {
      const auto last = found->modifications().rbegin()->state();
      if (last == v1::MODIFICATION_STATE_MODIFYING || last == v1::MODIFICATION_STATE_OPTIMIZING) {
        return Ec2Error(absl::StatusCode::kFailedPrecondition, "IncorrectModificationState",
                        absl::StrCat("Volume ", found->volume_id(),
                                     " is already being modified; wait until it completes."));
      }
    }
    MC_ASSIGN_OR_RETURN(const volumes::VolumeType from,
                        volumes::ParseVolumeType(found->volume_type()));
    volumes::VolumeType to = from;
    if (!req.volume_type().empty()) {
      MC_ASSIGN_OR_RETURN(to, volumes::ParseVolumeType(req.volume_type()));
    }
    const int64_t size = req.has_size() ? req.size() : found->size_gib();
    if (size < found->size_gib()) {
      return InvalidParameterValue(absl::StrCat("New size (", size,
                                                "GiB) cannot be smaller than the existing size (",
                                                found->size_gib(), "GiB)."));
    }
    // Defaults of the target (botocore ModifyVolumeRequest.Iops / .Throughput): kept when the
    // type keeps them, else 3,000 IOPS (gp3, io1, io2) and 125 MiB/s (gp3).
    volumes::VolumeRequest target{to, size, std::nullopt, std::nullopt,
                                  req.has_multi_attach_enabled() ? req.multi_attach_enabled()
                                                                 : found->multi_attach_enabled()};
    if (req.has_iops()) {
      target.iops = req.iops();
    } else if (Settable(to)) {
      target.iops = Settable(from) ? found->iops() : volumes::kGp3DefaultIops;
    }
    if (req.has_throughput()) {
      target.throughput_mibps = req.throughput();
    } else if (to == volumes::VolumeType::kGp3 && from == volumes::VolumeType::kGp3) {
      target.throughput_mibps = found->throughput();
    }
    MC_ASSIGN_OR_RETURN(const volumes::VolumePerformance perf, volumes::ResolveVolume(target));
    if (target.multi_attach != found->multi_attach_enabled() &&
        found->state() == v1::VOLUME_STATE_IN_USE) {
      return Ec2Error(absl::StatusCode::kFailedPrecondition, "IncorrectState",
                      "Multi-Attach can be turned on or off only while the volume is available.");
    }
    if (to == from && size == found->size_gib() && perf.iops == found->iops() &&
        perf.throughput_mibps == found->throughput() &&
        target.multi_attach == found->multi_attach_enabled()) {
      return InvalidParameterValue(absl::StrCat("The modification of ", found->volume_id(),
                                                " changes nothing: it already has them."));
    }
    if (req.dry_run()) {
      return Ec2Error(absl::StatusCode::kFailedPrecondition, "DryRunOperation",
                      "Request would have succeeded, but DryRun flag is set.");
    }
    m.set_volume_id(found->volume_id());
    m.set_state(v1::MODIFICATION_STATE_MODIFYING);
    m.set_original_size(found->size_gib());
    m.set_original_iops(found->iops());
    m.set_original_volume_type(found->volume_type());
    m.set_original_throughput(found->throughput());
    m.set_original_multi_attach_enabled(found->multi_attach_enabled());
    m.set_target_size(size);
    m.set_target_iops(static_cast<int32_t>(perf.iops));
    m.set_target_volume_type(std::string(volumes::VolumeTypeName(to)));
    m.set_target_throughput(static_cast<int32_t>(perf.throughput_mibps));
    m.set_target_multi_attach_enabled(target.multi_attach);
    *m.mutable_start_time() = ToTimestamp(absl::ToUnixMillis(clock_.Now()));
    r = *found;
    *r.add_modifications() = m;
    CloudState::Changes changes;
    changes.volumes[r.volume_id()] = r;
    MC_RETURN_IF_ERROR(Annotate(state_.CommitLocked(changes), "record volume modification"));
  }

  // Only a larger size needs the volume service; type and IOPS are the host's I/O limits.
  absl::Status s;
  if (m.target_size() > m.original_size()) {
    auto client = fleet_.ServiceFor(r.availability_zone());
    s = client.ok() ? (*client)->GrowVolume(r.volume_id(), m.target_size()) : client.status();
  }
  auto lock = state_.LockCommitted();
  auto it = state_.volumes().find(r.volume_id());
  if (it == state_.volumes().end()) return v1::ModifyVolumeResponse();  // deleted meanwhile
  v1::VolumeRecord next = it->second;
  v1::VolumeModification& rec = *next.mutable_modifications()->rbegin();
  if (s.ok()) {
    next.set_size_gib(m.target_size());
    next.set_volume_type(m.target_volume_type());
    next.set_iops(m.target_iops());
    next.set_throughput(m.target_throughput());
    next.set_multi_attach_enabled(m.target_multi_attach_enabled());
    rec.set_state(v1::MODIFICATION_STATE_COMPLETED);
    rec.set_progress(100);
  } else {
    rec.set_state(v1::MODIFICATION_STATE_FAILED);
    rec.set_status_message(std::string(s.message()));
  }
  *rec.mutable_end_time() = ToTimestamp(absl::ToUnixMillis(clock_.Now()));
  v1::ModifyVolumeResponse resp;
  *resp.mutable_modification() = rec;
  CloudState::Changes changes;
  changes.volumes[next.volume_id()] = next;
  MC_RETURN_IF_ERROR(Annotate(state_.CommitLocked(changes), "record volume modification"));
  if (s.ok()) {
    // The hosts of its instances see the new size and I/O limits (a grow reaches a running
    // guest's disk: Hypervisor::GrowDisk).
    for (const v1::VolumeAttachmentRecord& a : next.attachments()) {
      auto inst = state_.instances().find(a.instance_id());
      if (inst != state_.instances().end() && !inst->second.host_id().empty()) {
        state_.BumpGenerationLocked(inst->second.host_id());
      }
    }
  }
  if (!s.ok()) {
    return Ec2Error(absl::StatusCode::kUnavailable, "Unavailable",
                    absl::StrCat("The volume service of ", r.availability_zone(),
                                 " could not grow ", r.volume_id(), ": ", s.message()));
  }
  return resp;
}

}  // namespace minicloud::controller
