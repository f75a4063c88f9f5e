// CreateVolume, DeleteVolume, ModifyVolume and the reconcile of volumes left mid-call.
// DescribeVolumes and DescribeVolumesModifications: volume_describe.cc.
#include "controller/service/volume_service.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include <optional>
#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/ec2_error.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "common/volume_limits.h"
#include "controller/lifecycle/lifecycle.h"
#include "controller/lifecycle/volume_failure.h"
#include "controller/lifecycle/volume_lifecycle.h"
#include "controller/service/tag_service.h"
#include "controller/service/timestamp.h"

namespace minicloud::controller {
namespace {

using lifecycle::VolumeEvent;

absl::Status DryRunOk() {
  return Ec2Error(absl::StatusCode::kFailedPrecondition, "DryRunOperation",
                  "Request would have succeeded, but DryRun flag is set.");
}

// The parameters that must match when a ClientToken is reused (deterministic bytes).
std::string RequestFingerprint(const v1::CreateVolumeRequest& req) {
  v1::CreateVolumeRequest copy = req;
  copy.clear_client_token();
  copy.clear_dry_run();
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream out(&bytes);
    google::protobuf::io::CodedOutputStream coded(&out);
    coded.SetSerializationDeterministic(true);
    copy.SerializeToCodedStream(&coded);
  }
  return bytes;
}

lifecycle::VolumeView ViewOf(const v1::VolumeRecord& r) { return VolumeViewOf(r); }

VolumeSpec SpecOf(const v1::VolumeRecord& r) {
  return VolumeSpec{r.volume_id(), r.size_gib(), r.volume_type(), r.snapshot_id(), r.encrypted()};
}

// True when a zone is one the cloud has: a host registered there, or a volume service.
bool ZoneKnownLocked(CloudState& state, const VolumeFleet& fleet, const std::string& zone) {
  if (fleet.Serves(zone)) return true;
  for (const auto& [id, h] : state.hosts()) {
    if (h.topology().availability_zone() == zone) return true;
  }
  return false;
}

}  // namespace

lifecycle::VolumeView VolumeViewOf(const v1::VolumeRecord& r) {
  lifecycle::VolumeView v{r.volume_id(), r.state(), 0, r.multi_attach_enabled(), ""};
  for (const auto& a : r.attachments()) {
    if (a.state() == v1::ATTACHMENT_STATE_DETACHED) continue;
    ++v.attachments;
    if (v.attached_to.empty()) v.attached_to = a.instance_id();
  }
  return v;
}

absl::StatusOr<const v1::VolumeRecord*> FindVolumeLocked(CloudState& state, const std::string& id) {
  if (!IsValidId(id, "vol")) {
    return Ec2Error(
        absl::StatusCode::kInvalidArgument, "InvalidVolumeID.Malformed",
        absl::StrCat("Invalid id: \"", QuoteForMessage(id, 64), "\" (expecting \"vol-...\")"));
  }
  auto it = state.volumes().find(id);
  // A hibernation volume belongs to its instance: the volume APIs do not know it.
  if (it == state.volumes().end() || !it->second.hibernation_state_of().empty()) {
    return Ec2Error(absl::StatusCode::kNotFound, "InvalidVolume.NotFound",
                    absl::StrCat("The volume '", id, "' does not exist."));
  }
  return &it->second;
}

absl::StatusOr<v1::Volume> VolumeService::CreateVolume(const v1::CreateVolumeRequest& req) {
  if (req.availability_zone().empty()) {
    return MissingParameter("The request must contain the parameter AvailabilityZone");
  }
  int64_t size_gib = req.size();
  if (!req.snapshot_id().empty()) {
    auto lock = state_.LockCommitted();
    MC_ASSIGN_OR_RETURN(const v1::SnapshotRecord* snap,
                        FindSnapshotLocked(state_, req.snapshot_id()));
    if (snap->state() != v1::SNAPSHOT_STATE_COMPLETED) {
      return Ec2Error(absl::StatusCode::kFailedPrecondition, "IncorrectState",
                      absl::StrCat("Snapshot '", snap->snapshot_id(),
                                   "' is not completed: no volume can be created from it yet"));
    }
    if (snap->availability_zone() != req.availability_zone()) {
      // EC2's snapshots are regional. Here a snapshot's bytes live on one zone's volume service:
      // a volume in another zone is a full copy (volume_zone_copy.cc), of plain data only.
      MC_RETURN_IF_ERROR(CheckZoneCopyLocked(*snap, req.availability_zone(), req.encrypted()));
    }
    if (size_gib == 0) size_gib = snap->volume_size_gib();
    if (size_gib < snap->volume_size_gib()) {
      // EC2 words it "Volume of size 4GB is smaller than snapshot 'snap-…', expect size >= 8GB".
      return InvalidParameterValue(
          absl::StrCat("Volume of size ", size_gib, "GB is smaller than snapshot '",
                       snap->snapshot_id(), "', expect size >= ", snap->volume_size_gib(), "GB"));
    }
  }
  if (size_gib == 0) {
    return MissingParameter("The request must contain the parameter size or snapshotId");
  }
  volumes::VolumeType type = volumes::kDefaultVolumeType;
  if (!req.volume_type().empty()) {
    MC_ASSIGN_OR_RETURN(type, volumes::ParseVolumeType(req.volume_type()));
  }
  volumes::VolumeRequest shape{type, size_gib, std::nullopt, std::nullopt,
                               req.multi_attach_enabled()};
  if (req.has_iops()) shape.iops = req.iops();
  if (req.has_throughput()) shape.throughput_mibps = req.throughput();
  MC_ASSIGN_OR_RETURN(const volumes::VolumePerformance perf, volumes::ResolveVolume(shape));
  if (!req.kms_key_id().empty() && !req.encrypted()) {
    // moto's answer (moto/ec2/exceptions.py, InvalidParameterDependency).
    return Ec2Error(absl::StatusCode::kInvalidArgument, "InvalidParameterDependency",
                    "The parameter [KmsKeyId] requires the parameter Encrypted to be set.");
  }
  MC_RETURN_IF_ERROR(ValidateTagSpecification(req.tags(), TagUse::kApiOnly, "volume"));
  if (req.client_token().size() > 64) {
    return InvalidParameterValue("The client token must be at most 64 characters");
  }

  v1::VolumeRecord r;
  {
    auto lock = state_.LockCommitted();
    if (!ZoneKnownLocked(state_, fleet_, req.availability_zone())) {
      return InvalidParameterValue(absl::StrCat("Invalid availability zone: [",
                                                QuoteForMessage(req.availability_zone(), 64), "]"));
    }
    if (!req.client_token().empty()) {
      for (const auto& [id, v] : state_.volumes()) {
        if (v.client_token() != req.client_token()) continue;
        if (v.request_fingerprint() != RequestFingerprint(req)) {
          return Ec2Error(absl::StatusCode::kInvalidArgument, "IdempotentParameterMismatch",
                          "The client token was used with different parameters");
        }
        return VolumeToApi(v);
      }
    }
    MC_RETURN_IF_ERROR(fleet_.ServiceFor(req.availability_zone()).status());
    if (req.dry_run()) {
      // The encryption rules answer before DryRun does (no key is made for a dry run).
      if (req.encrypted() && keys_ == nullptr) {
        return SetEncryptionLocked(r, true, req.kms_key_id());
      }
      return DryRunOk();
    }
    MC_ASSIGN_OR_RETURN(auto t,
                        lifecycle::Apply(lifecycle::VolumeView{}, VolumeEvent::kCreateAccepted));
    r.set_volume_id(ids_.Next("vol"));
    r.set_availability_zone(req.availability_zone());
    r.set_size_gib(size_gib);
    r.set_snapshot_id(req.snapshot_id());
    MC_RETURN_IF_ERROR(SetEncryptionLocked(r, req.encrypted(), req.kms_key_id()));
    r.set_volume_type(std::string(volumes::VolumeTypeName(type)));
    r.set_iops(static_cast<int32_t>(perf.iops));
    r.set_throughput(static_cast<int32_t>(perf.throughput_mibps));
    r.set_multi_attach_enabled(req.multi_attach_enabled());
    r.set_state(t.state);
    r.set_create_time_ms(absl::ToUnixMillis(clock_.Now()));
    r.set_client_token(req.client_token());
    if (!req.client_token().empty()) r.set_request_fingerprint(RequestFingerprint(req));
    SetTags(req.tags(), *r.mutable_tags());
    CloudState::Changes changes;
    changes.volumes[r.volume_id()] = r;
    MC_RETURN_IF_ERROR(Annotate(state_.CommitLocked(changes), "record volume"));
  }
  // EC2 answers the volume as accepted (`creating`); a refusal of the service shows as the
  // volume's `error` state (with its reason in the record), an unreachable service leaves it
  // `creating` for Reconcile().
  FinishCreate(r, nullptr);
  return VolumeToApi(r);
}

absl::Status VolumeService::SetEncryptionLocked(v1::VolumeRecord& r, bool encrypted,
                                                const std::string& kms_key_id) {
  const v1::SnapshotRecord* snap = nullptr;
  if (!r.snapshot_id().empty()) {
    auto it = state_.snapshots().find(r.snapshot_id());
    if (it != state_.snapshots().end()) snap = &it->second;
  }
  if (snap != nullptr && snap->encrypted()) {
    // EC2: a volume from an encrypted snapshot is encrypted, with the snapshot's data key.
    r.set_encrypted(true);
    r.set_sealed_data_key(snap->sealed_data_key());
    r.set_data_key_id(snap->data_key_id());
    r.set_kms_key_id(snap->kms_key_id());
    if (!kms_key_id.empty()) {
      MC_ASSIGN_OR_RETURN(
          const std::string arn,
          ResolveEbsKmsKey(kms_key_id, state_.config().region, state_.config().owner_id));
      (void)arn;  // one key exists: the snapshot's is it
    }
    return absl::OkStatus();
  }
  if (!encrypted) return absl::OkStatus();
  if (keys_ == nullptr) {
    return Ec2Error(absl::StatusCode::kInvalidArgument, "UnsupportedOperation",
                    "Encrypted volumes are not supported by this controller: it has no key store.");
  }
  // A blank volume, or an encrypted one from a plain snapshot (the volume service copies the
  // snapshot's data into it, encrypting): a key of its own.
  MC_ASSIGN_OR_RETURN(const std::string arn, ResolveEbsKmsKey(kms_key_id, state_.config().region,
                                                              state_.config().owner_id));
  MC_ASSIGN_OR_RETURN(std::string sealed, keys_->NewSealedKey(r.volume_id()));
  r.set_encrypted(true);
  r.set_sealed_data_key(std::move(sealed));
  r.set_data_key_id(r.volume_id());
  r.set_kms_key_id(arn);
  return absl::OkStatus();
}

v1::VolumeRecord VolumeService::FinishCreate(const v1::VolumeRecord& staged,
                                             absl::Status* service_error, bool copy_now) {
  absl::Status s;
  v1::VolumeRecord r = staged;
  if (r.sealed_data_key().empty()) {
    // Volumes staged by RunInstances (Ebs mappings) get their encryption here, once.
    auto lock = state_.LockCommitted();
    auto it = state_.volumes().find(r.volume_id());
    if (it != state_.volumes().end() && it->second.sealed_data_key().empty() &&
        it->second.state() == v1::VOLUME_STATE_CREATING) {
      v1::VolumeRecord next = it->second;
      absl::Status e = SetEncryptionLocked(next, next.encrypted(), "");
      if (!e.ok() || !next.sealed_data_key().empty()) {
        CloudState::Changes changes;
        std::set<std::string> hosts;
        // The key cannot be made (no key store, a KMS key refused): final, as EC2 ends a
        // launch whose volume's key cannot be used (Client.InternalError).
        if (!e.ok()) {
          const lifecycle::VolumeFailure failure = lifecycle::ClassifyVolumeFailure(
              {e, !next.snapshot_id().empty(), absl::ZeroDuration(),
               state_.config().volume_retry_budget});
          MarkFailedLocked(next, e, failure.reason_code, changes, hosts);
        }
        changes.volumes[next.volume_id()] = next;
        (void)state_.CommitLocked(changes);
        for (const std::string& h : hosts) state_.BumpGenerationLocked(h);
        if (service_error) *service_error = e;
        if (!e.ok()) return next;
      }
      r = next;
    }
  }
  std::optional<v1::SnapshotRecord> other_zone;  // the source of a copy across zones
  if (!r.snapshot_id().empty()) {
    // A clone of a snapshot still being made (an AMI's disk being imported) waits for it.
    auto lock = state_.LockCommitted();
    auto snap = state_.snapshots().find(r.snapshot_id());
    if (snap != state_.snapshots().end() && snap->second.state() == v1::SNAPSHOT_STATE_PENDING) {
      if (service_error) *service_error = absl::UnavailableError("snapshot pending");
      return r;
    }
    if (snap != state_.snapshots().end() &&
        snap->second.availability_zone() != r.availability_zone()) {
      other_zone = snap->second;
    }
  }
  if (other_zone && !copy_now) {
    // A full copy takes time: the reconcile loop makes it, never an API call.
    if (service_error) *service_error = absl::UnavailableError("copied by the reconcile loop");
    return r;
  }
  auto client = fleet_.ServiceFor(r.availability_zone());
  VolumeSpec spec = SpecOf(r);
  if (r.encrypted() && r.data_key_id() == r.volume_id()) {
    // Its own key (blank, or encrypting a plain snapshot's copy); a clone of an encrypted
    // snapshot needs none: the data it shares is already encrypted.
    absl::StatusOr<std::string> key = keys_ != nullptr
                                          ? keys_->Open(r.sealed_data_key(), r.data_key_id())
                                          : absl::FailedPreconditionError("no key store");
    if (key.ok()) spec.encryption_key = *std::move(key);
    if (!key.ok()) client = key.status();
  }
  if (other_zone) {
    s = CopyAcrossZones(r, *other_zone);
  } else {
    s = client.ok() ? (*client)->CreateVolume(spec) : client.status();
  }
  if (service_error) *service_error = s;
  auto lock = state_.LockCommitted();
  auto it = state_.volumes().find(r.volume_id());
  if (it == state_.volumes().end()) return r;
  v1::VolumeRecord next = it->second;
  if (next.state() != v1::VOLUME_STATE_CREATING) return next;  // a late or repeated answer
  const int64_t now_ms = absl::ToUnixMillis(clock_.Now());
  const absl::Duration retried_for = next.retrying_since_ms() == 0
                                         ? absl::ZeroDuration()
                                         : absl::Milliseconds(now_ms - next.retrying_since_ms());
  const lifecycle::VolumeFailure failure = lifecycle::ClassifyVolumeFailure(
      {s, !next.snapshot_id().empty(), retried_for, state_.config().volume_retry_budget});
  CloudState::Changes changes;
  if (failure.kind == lifecycle::VolumeFailureKind::kRetry) {
    // Asked again later (Reconcile); the first such failure starts the retry budget, durably,
    // so that a restart of the controller does not start it anew.
    if (next.retrying_since_ms() == 0) {
      next.set_retrying_since_ms(now_ms);
      changes.volumes[next.volume_id()] = next;
      (void)state_.CommitLocked(changes);
    }
    return next;
  }
  std::set<std::string> hosts;
  if (failure.kind == lifecycle::VolumeFailureKind::kFinal) {
    MarkFailedLocked(next, s, failure.reason_code, changes, hosts);
  } else {
    auto t = lifecycle::Apply(ViewOf(next), VolumeEvent::kServiceCreated);
    if (!t.ok() || !t->changed) return next;
    next.set_state(t->state);
    next.clear_retrying_since_ms();
  }
  changes.volumes[next.volume_id()] = next;
  (void)state_.CommitLocked(changes);  // a failed durable write does not return
  for (const std::string& h : hosts) state_.BumpGenerationLocked(h);
  return next;
}

void VolumeService::MarkFailedLocked(v1::VolumeRecord& v, const absl::Status& why,
                                     const std::string& reason_code, CloudState::Changes& changes,
                                     std::set<std::string>& hosts) {
  auto t = lifecycle::Apply(ViewOf(v), VolumeEvent::kServiceFailed);
  if (!t.ok() || !t->changed) return;
  v.set_state(t->state);
  v.set_error_message(std::string(why.message()));
  v.set_error_reason_code(reason_code);
  v.clear_retrying_since_ms();
  // In the same commit: the launches that waited for it end (a restart finds both or neither).
  FailLaunchesLocked(v, changes, hosts);
}

void VolumeService::FailLaunchesLocked(const v1::VolumeRecord& v, CloudState::Changes& changes,
                                       std::set<std::string>& hosts) {
  if (v.state() != v1::VOLUME_STATE_ERROR) return;
  for (const auto& a : v.attachments()) {
    if (a.state() == v1::ATTACHMENT_STATE_DETACHED) continue;
    const std::string what = v.hibernation_state_of().empty()
                                 ? absl::StrCat("volume ", v.volume_id(), " (", a.device(), ")")
                                 : absl::StrCat("hibernation volume ", v.volume_id());
    FailBootLocked(a.instance_id(),
                   absl::StrCat(what, v.snapshot_id().empty() ? "" : " from ", v.snapshot_id(),
                                " cannot be created: ", v.error_message()),
                   v.error_reason_code(), changes, hosts);
  }
}

bool VolumeService::FailBootLocked(const std::string& instance_id, std::string detail,
                                   const std::string& reason_code, CloudState::Changes& changes,
                                   std::set<std::string>& hosts) {
  auto it = state_.instances().find(instance_id);
  if (it == state_.instances().end()) return false;
  auto staged = changes.instances.find(instance_id);
  v1::InstanceRecord r = staged != changes.instances.end() ? staged->second : it->second;
  lifecycle::Event e{lifecycle::EventKind::kVolumeFailed, std::move(detail)};
  e.reason_code = reason_code;
  auto t = lifecycle::Apply(lifecycle::InstanceLifecycle::Of(r), e, clock_.Now());
  if (!t.ok() || !t->changed) return false;
  spdlog::warn("{}: {}", instance_id, t->state_reason ? t->state_reason->message : "");
  lifecycle::Record(*t, r);
  changes.instances[instance_id] = std::move(r);
  if (t->notify_host && !it->second.host_id().empty()) hosts.insert(it->second.host_id());
  return true;
}

int VolumeService::FailLaunchesOfFailedVolumes() {
  auto lock = state_.LockCommitted();
  CloudState::Changes changes;
  std::set<std::string> hosts;
  for (const auto& [id, v] : state_.volumes()) FailLaunchesLocked(v, changes, hosts);
  if (changes.instances.empty()) return 0;
  (void)state_.CommitLocked(changes);
  for (const std::string& h : hosts) state_.BumpGenerationLocked(h);
  return static_cast<int>(changes.instances.size());
}

absl::StatusOr<v1::DeleteVolumeResponse> VolumeService::DeleteVolume(
    const v1::DeleteVolumeRequest& req) {
  if (req.volume_id().empty()) {
    return MissingParameter("The request must contain the parameter VolumeId");
  }
  v1::VolumeRecord r;
  {
    auto lock = state_.LockCommitted();
    MC_ASSIGN_OR_RETURN(const v1::VolumeRecord* found, FindVolumeLocked(state_, req.volume_id()));
    MC_ASSIGN_OR_RETURN(auto t, lifecycle::Apply(ViewOf(*found), VolumeEvent::kDeleteRequested));
    if (req.dry_run()) return DryRunOk();
    r = *found;
    if (t.changed) {
      r.set_state(t.state);
      CloudState::Changes changes;
      changes.volumes[r.volume_id()] = r;
      MC_RETURN_IF_ERROR(Annotate(state_.CommitLocked(changes), "record volume deletion"));
    }
  }
  FinishDelete(r);  // unreachable service: stays deleting, Reconcile() asks again
  return v1::DeleteVolumeResponse();
}

bool VolumeService::FinishDelete(const v1::VolumeRecord& r) {
  auto client = fleet_.ServiceFor(r.availability_zone());
  absl::Status s = client.ok() ? (*client)->DeleteVolume(r.volume_id()) : client.status();
  if (!s.ok()) return false;
  auto lock = state_.LockCommitted();
  auto it = state_.volumes().find(r.volume_id());
  if (it == state_.volumes().end()) return false;
  auto t = lifecycle::Apply(ViewOf(it->second), VolumeEvent::kServiceDeleted);
  if (!t.ok() || !t->purge) return false;
  CloudState::Changes changes;
  changes.deleted_volumes.push_back(r.volume_id());
  (void)state_.CommitLocked(changes);
  return true;
}

int VolumeService::Reconcile() {
  // A failure recorded before launches ended with it (by a controller without this rule):
  // those launches end now, as they would have at the failure.
  int changed = FailLaunchesOfFailedVolumes();
  std::vector<v1::VolumeRecord> creating, deleting;
  {
    auto lock = state_.LockCommitted();
    for (const auto& [id, v] : state_.volumes()) {
      if (v.state() == v1::VOLUME_STATE_CREATING) creating.push_back(v);
      if (v.state() == v1::VOLUME_STATE_DELETING) deleting.push_back(v);
    }
  }
  for (const auto& v : creating) {
    if (FinishCreate(v, nullptr, /*copy_now=*/true).state() != v1::VOLUME_STATE_CREATING) {
      ++changed;
    }
  }
  for (const auto& v : deleting) changed += FinishDelete(v) ? 1 : 0;

  std::vector<v1::SnapshotRecord> pending, deleting_snapshots;
  {
    auto lock = state_.LockCommitted();
    for (const auto& [id, s] : state_.snapshots()) {
      if (s.state() == v1::SNAPSHOT_STATE_PENDING) pending.push_back(s);
      if (s.state() == v1::SNAPSHOT_STATE_DELETING) deleting_snapshots.push_back(s);
    }
  }
  for (const auto& s : pending) {
    if (FinishSnapshot(s).state() != v1::SNAPSHOT_STATE_PENDING) ++changed;
  }
  for (const auto& s : deleting_snapshots) changed += FinishSnapshotDelete(s) ? 1 : 0;
  return changed + ReconcileAttachments();
}

}  // namespace minicloud::controller
