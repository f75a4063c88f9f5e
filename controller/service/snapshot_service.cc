// CreateSnapshot, DeleteSnapshot, CopySnapshot, the reconcile of snapshots left mid-call and the
// zones' volume service states. DescribeSnapshots and the API view: snapshot_describe.cc.
#include <future>
#include <optional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/ec2_error.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "controller/service/tag_service.h"
#include "controller/service/volume_service.h"

namespace minicloud::controller {
namespace {

// EC2's description limit for snapshots (CreateSnapshot, CopySnapshot): 255 characters.
constexpr size_t kMaxSnapshotDescription = 255;
// EC2 shows this volume id on snapshots made by CopySnapshot ("an arbitrary volume ID that
// should not be used for any purpose", EC2 API reference, Snapshot.VolumeId).
constexpr char kCopyVolumeId[] = "vol-ffffffff";

absl::Status DryRunOk() {
  return Ec2Error(absl::StatusCode::kFailedPrecondition, "DryRunOperation",
                  "Request would have succeeded, but DryRun flag is set.");
}

absl::Status CheckDescription(const std::string& d) {
  if (d.size() > kMaxSnapshotDescription) {
    return InvalidParameterValue(absl::StrCat("The description must be at most ",
                                              kMaxSnapshotDescription, " characters long"));
  }
  return absl::OkStatus();
}

absl::Status SnapshotIncorrectState(const std::string& id, const std::string& what) {
  return Ec2Error(absl::StatusCode::kFailedPrecondition, "IncorrectState",
                  absl::StrCat("Snapshot '", id, "' is ", what));
}

}  // namespace

absl::StatusOr<v1::Snapshot> VolumeService::CreateSnapshot(const v1::CreateSnapshotRequest& req) {
  if (req.volume_id().empty()) {
    return MissingParameter("The request must contain the parameter VolumeId");
  }
  MC_RETURN_IF_ERROR(CheckDescription(req.description()));
  MC_RETURN_IF_ERROR(ValidateTagSpecification(req.tags(), TagUse::kApiOnly, "snapshot"));
  v1::SnapshotRecord r;
  {
    auto lock = state_.LockCommitted();
    MC_ASSIGN_OR_RETURN(const v1::VolumeRecord* v, FindVolumeLocked(state_, req.volume_id()));
    if (v->state() != v1::VOLUME_STATE_AVAILABLE && v->state() != v1::VOLUME_STATE_IN_USE) {
      return Ec2Error(absl::StatusCode::kFailedPrecondition, "IncorrectState",
                      absl::StrCat("Volume '", v->volume_id(),
                                   "' is not 'available' or 'in-use': a snapshot cannot be taken"));
    }
    MC_RETURN_IF_ERROR(fleet_.ServiceFor(v->availability_zone()).status());
    if (req.dry_run()) return DryRunOk();
    r.set_snapshot_id(ids_.Next("snap"));
    r.set_volume_id(v->volume_id());
    r.set_availability_zone(v->availability_zone());
    r.set_volume_size_gib(v->size_gib());
    // EC2: snapshots of an encrypted volume are encrypted, with the volume's data key.
    r.set_encrypted(v->encrypted());
    r.set_sealed_data_key(v->sealed_data_key());
    r.set_data_key_id(v->data_key_id());
    r.set_kms_key_id(v->kms_key_id());
    r.set_state(v1::SNAPSHOT_STATE_PENDING);
    r.set_description(req.description());
    r.set_start_time_ms(absl::ToUnixMillis(clock_.Now()));
    SetTags(req.tags(), *r.mutable_tags());
    CloudState::Changes changes;
    changes.snapshots[r.snapshot_id()] = r;
    MC_RETURN_IF_ERROR(Annotate(state_.CommitLocked(changes), "record snapshot"));
  }
  FinishSnapshot(r);
  return SnapshotToApi(r, state_.config().owner_id);  // as accepted: pending (EC2's answer)
}

v1::SnapshotRecord VolumeService::FinishSnapshot(const v1::SnapshotRecord& r) {
  std::optional<v1::ImageRecord> image;
  {
    auto lock = state_.LockCommitted();
    if (const v1::ImageRecord* i = ImageImportOfLocked(state_, r.snapshot_id())) image = *i;
  }
  auto client = fleet_.ServiceFor(r.availability_zone());
  const absl::StatusOr<SnapshotInfo> made =
      !client.ok()                     ? absl::StatusOr<SnapshotInfo>(client.status())
      : image                          ? RunImageImport(r, *image)
      : r.source_snapshot_id().empty() ? (*client)->CreateSnapshot(r.volume_id(), r.snapshot_id())
      : r.encrypted() && r.data_key_id() == r.snapshot_id()
          ? RunEncryptingCopy(r, **client)
          : (*client)->CopySnapshot(r.source_snapshot_id(), r.snapshot_id());
  auto lock = state_.LockCommitted();
  auto it = state_.snapshots().find(r.snapshot_id());
  if (it == state_.snapshots().end()) return r;
  if (it->second.state() != v1::SNAPSHOT_STATE_PENDING) return it->second;
  if (made.status().code() == absl::StatusCode::kUnavailable) return it->second;  // ask later
  v1::SnapshotRecord next = it->second;
  if (made.ok()) {
    next.set_state(v1::SNAPSHOT_STATE_COMPLETED);
    next.set_stored_bytes(made->stored_bytes);
    next.set_completion_time_ms(absl::ToUnixMillis(clock_.Now()));
  } else {
    next.set_state(v1::SNAPSHOT_STATE_ERROR);
    next.set_error_message(std::string(made.status().message()));
  }
  CloudState::Changes changes;
  changes.snapshots[next.snapshot_id()] = next;
  (void)state_.CommitLocked(changes);  // a failed durable write does not return
  return next;
}

absl::StatusOr<SnapshotInfo> VolumeService::RunEncryptingCopy(const v1::SnapshotRecord& r,
                                                              VolumeServiceClient& client) {
  // The service encrypts only into a volume: a scratch volume made from the source with the
  // copy's key (the full, encrypting copy), snapshotted as the copy, then deleted. Every step is
  // idempotent by id, so a retry after a lost answer or a restart picks up where it stopped.
  if (keys_ == nullptr) return absl::FailedPreconditionError("no key store");
  MC_ASSIGN_OR_RETURN(std::string key, keys_->Open(r.sealed_data_key(), r.data_key_id()));
  const std::string scratch = absl::StrCat("vol-copy-", r.snapshot_id());
  VolumeSpec spec{.volume_id = scratch,
                  .size_gib = r.volume_size_gib(),
                  .volume_type = "gp2",
                  .snapshot_id = r.source_snapshot_id(),
                  .encrypted = true,
                  .encryption_key = std::move(key)};
  MC_RETURN_IF_ERROR(client.CreateVolume(spec));
  MC_ASSIGN_OR_RETURN(SnapshotInfo made, client.CreateSnapshot(scratch, r.snapshot_id()));
  if (absl::Status s = client.DeleteVolume(scratch); !s.ok()) {
    // The copy is made; the scratch volume only takes space until a later delete succeeds.
    spdlog::warn("copy {}: delete scratch volume {}: {}", r.snapshot_id(), scratch, s.ToString());
  }
  return made;
}

absl::StatusOr<v1::DeleteSnapshotResponse> VolumeService::DeleteSnapshot(
    const v1::DeleteSnapshotRequest& req) {
  if (req.snapshot_id().empty()) {
    return MissingParameter("The request must contain the parameter SnapshotId");
  }
  v1::SnapshotRecord r;
  {
    auto lock = state_.LockCommitted();
    MC_ASSIGN_OR_RETURN(const v1::SnapshotRecord* found,
                        FindSnapshotLocked(state_, req.snapshot_id()));
    if (std::string image = ImageUsingSnapshotLocked(state_, found->snapshot_id());
        !image.empty()) {
      // The code and message moto answers (moto/ec2/exceptions.py, InvalidSnapshotInUse).
      return Ec2Error(
          absl::StatusCode::kFailedPrecondition, "InvalidSnapshot.InUse",
          absl::StrCat("The snapshot ", found->snapshot_id(), " is currently in use by ", image));
    }
    if (found->state() == v1::SNAPSHOT_STATE_PENDING) {
      // Its creation may still be on its way to the volume service; deleting now could leave
      // the service a snapshot nobody knows about.
      return SnapshotIncorrectState(found->snapshot_id(),
                                    "pending: delete it once it is completed");
    }
    if (req.dry_run()) return DryRunOk();
    r = *found;
    r.set_state(v1::SNAPSHOT_STATE_DELETING);
    CloudState::Changes changes;
    changes.snapshots[r.snapshot_id()] = r;
    MC_RETURN_IF_ERROR(Annotate(state_.CommitLocked(changes), "record snapshot deletion"));
  }
  FinishSnapshotDelete(r);  // unreachable service: stays deleting (hidden), Reconcile() retries
  return v1::DeleteSnapshotResponse();
}

bool VolumeService::FinishSnapshotDelete(const v1::SnapshotRecord& r) {
  auto client = fleet_.ServiceFor(r.availability_zone());
  absl::Status s = client.ok() ? (*client)->DeleteSnapshot(r.snapshot_id()) : client.status();
  if (!s.ok() && s.code() != absl::StatusCode::kNotFound) return false;
  auto lock = state_.LockCommitted();
  auto it = state_.snapshots().find(r.snapshot_id());
  if (it == state_.snapshots().end() || it->second.state() != v1::SNAPSHOT_STATE_DELETING) {
    return false;
  }
  CloudState::Changes changes;
  changes.deleted_snapshots.push_back(r.snapshot_id());
  (void)state_.CommitLocked(changes);
  return true;
}

absl::StatusOr<v1::CopySnapshotResponse> VolumeService::CopySnapshot(
    const v1::CopySnapshotRequest& req) {
  if (req.source_snapshot_id().empty()) {
    return MissingParameter("The request must contain the parameter SourceSnapshotId");
  }
  if (req.source_region().empty()) {
    return MissingParameter("The request must contain the parameter SourceRegion");
  }
  if (req.source_region() != state_.config().region) {
    return InvalidParameterValue(
        absl::StrCat("Invalid value '", QuoteForMessage(req.source_region(), 64),
                     "' for SourceRegion: this cloud has one region, ", state_.config().region));
  }
  if (!req.kms_key_id().empty() && !req.encrypted()) {
    // moto's answer (moto/ec2/exceptions.py, InvalidParameterDependency).
    return Ec2Error(absl::StatusCode::kInvalidArgument, "InvalidParameterDependency",
                    "The parameter [KmsKeyId] requires the parameter Encrypted to be set.");
  }
  if (!req.kms_key_id().empty()) {
    MC_RETURN_IF_ERROR(
        ResolveEbsKmsKey(req.kms_key_id(), state_.config().region, state_.config().owner_id)
            .status());
  }
  MC_RETURN_IF_ERROR(CheckDescription(req.description()));
  MC_RETURN_IF_ERROR(ValidateTagSpecification(req.tags(), TagUse::kApiOnly, "snapshot"));
  v1::SnapshotRecord r;
  {
    auto lock = state_.LockCommitted();
    MC_ASSIGN_OR_RETURN(const v1::SnapshotRecord* source,
                        FindSnapshotLocked(state_, req.source_snapshot_id()));
    if (source->state() != v1::SNAPSHOT_STATE_COMPLETED) {
      return SnapshotIncorrectState(source->snapshot_id(), "not completed: it cannot be copied");
    }
    // EC2: an encrypted copy of an unencrypted snapshot is encrypted under a new key (a full
    // copy); a copy of an encrypted snapshot keeps its key and shares its data.
    const bool encrypting = req.encrypted() && !source->encrypted();
    if (encrypting && keys_ == nullptr) {
      return Ec2Error(
          absl::StatusCode::kInvalidArgument, "UnsupportedOperation",
          "Encrypted snapshots are not supported by this controller: it has no key store.");
    }
    MC_RETURN_IF_ERROR(fleet_.ServiceFor(source->availability_zone()).status());
    if (req.dry_run()) return DryRunOk();
    r.set_snapshot_id(ids_.Next("snap"));
    r.set_volume_id(kCopyVolumeId);
    if (encrypting) {
      MC_ASSIGN_OR_RETURN(
          const std::string arn,
          ResolveEbsKmsKey(req.kms_key_id(), state_.config().region, state_.config().owner_id));
      MC_ASSIGN_OR_RETURN(std::string sealed, keys_->NewSealedKey(r.snapshot_id()));
      r.set_sealed_data_key(std::move(sealed));
      r.set_data_key_id(r.snapshot_id());
      r.set_kms_key_id(arn);
    } else {
      r.set_sealed_data_key(source->sealed_data_key());
      r.set_data_key_id(source->data_key_id());
      r.set_kms_key_id(source->kms_key_id());
    }
    r.set_availability_zone(source->availability_zone());
    r.set_volume_size_gib(source->volume_size_gib());
    r.set_encrypted(encrypting || source->encrypted());
    r.set_state(v1::SNAPSHOT_STATE_PENDING);
    r.set_description(req.description());
    r.set_start_time_ms(absl::ToUnixMillis(clock_.Now()));
    r.set_source_snapshot_id(source->snapshot_id());
    SetTags(req.tags(), *r.mutable_tags());
    CloudState::Changes changes;
    changes.snapshots[r.snapshot_id()] = r;
    MC_RETURN_IF_ERROR(Annotate(state_.CommitLocked(changes), "record snapshot copy"));
  }
  FinishSnapshot(r);
  v1::CopySnapshotResponse resp;
  resp.set_snapshot_id(r.snapshot_id());
  *resp.mutable_tags() = req.tags();
  return resp;
}

std::map<std::string, VolumeServiceState> VolumeService::ZoneStates() const {
  std::vector<std::pair<std::string, std::future<VolumeServiceState>>> asked;
  for (const auto& [zone, client] : fleet_.zones()) {
    VolumeServiceClient* c = client.get();
    asked.emplace_back(zone, std::async(std::launch::async, [c] { return c->GetState(); }));
  }
  std::map<std::string, VolumeServiceState> out;
  for (auto& [zone, state] : asked) out[zone] = state.get();
  return out;
}

}  // namespace minicloud::controller
