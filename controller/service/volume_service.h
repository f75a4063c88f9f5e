#pragma once

// EBS volumes and snapshots: CreateVolume, DescribeVolumes, DeleteVolume, ModifyVolume,
// DescribeVolumesModifications (volume_*.cc); CreateSnapshot, DescribeSnapshots, DeleteSnapshot,
// CopySnapshot (snapshot_*.cc); the zones' volume service states (DescribeAvailabilityZones,
// DescribeHosts). The rules of a volume's shape are common/volume_limits.h, the
// state changes controller/lifecycle/volume_lifecycle.h; this service loads and stores records
// around them and calls the zone's volume service (controller/volumes/volume_fleet.h).
//
// A call that needs the volume service records its intent first (a volume `creating` or
// `deleting`, a modification `modifying`), calls the service without holding the state lock, and
// records the answer. When the service cannot be reached (Unavailable) the volume stays in its
// transitional state and Reconcile() asks again, so a restart of the controller or of the
// volume service in the middle converges: nothing is deleted or rolled back unless asked. A
// volume being created is asked again for at most the retry budget
// (ControllerConfig::volume_retry_budget); then, or at once for a final answer of the service,
// it is `error` (controller/lifecycle/volume_failure.h decides which), and an instance launch
// waiting for it ends with EC2's StateReason.
//
// As EC2 does, a create answers the state it accepted (`creating`, `pending`) and the volume or
// snapshot becomes `available` / `completed` when the volume service has made it: the call asks
// the service before it answers, so a reachable service has made it by the time the caller
// describes it; a failure shows as the resource's `error` state with the service's reason.

#include <map>
#include <set>
#include <string>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "common/ids.h"
#include "controller/lifecycle/volume_lifecycle.h"
#include "controller/service/blob_store.h"
#include "controller/service/cloud_state.h"
#include "controller/volumes/disk_writer.h"
#include "controller/volumes/volume_fleet.h"
#include "controller/volumes/volume_keys.h"
#include "minicloud/v1/snapshots.pb.h"
#include "minicloud/v1/volumes.pb.h"

namespace minicloud::controller {

// DescribeVolumes' MaxResults: 5..500; a larger value returns 500 (EC2 API reference).
inline constexpr int32_t kMaxVolumesPerPage = 500;

class VolumeService {
 public:
  VolumeService(CloudState& state, const Clock& clock, IdGenerator& ids, const VolumeFleet& fleet)
      : state_(state), clock_(clock), ids_(ids), fleet_(fleet) {}

  // Answers the volume as accepted (`creating`); it is `available` once the zone's volume service
  // made it (before this returns when the service is reachable, else Reconcile() retries), or
  // `error` when the service refused (as EC2 shows a volume that failed to create). With a
  // snapshot id the volume is a copy-on-write clone of that completed snapshot, in the
  // snapshot's zone, at least the snapshot's size (its size when none is given).
  absl::StatusOr<v1::Volume> CreateVolume(const v1::CreateVolumeRequest& req);
  absl::StatusOr<v1::DescribeVolumesResponse> DescribeVolumes(
      const v1::DescribeVolumesRequest& req);
  // Only an `available` (or `error`) volume; it is `deleting` until the service removed it.
  absl::StatusOr<v1::DeleteVolumeResponse> DeleteVolume(const v1::DeleteVolumeRequest& req);
  // Grow only; type, IOPS, throughput and Multi-Attach by the same rules as CreateVolume.
  absl::StatusOr<v1::ModifyVolumeResponse> ModifyVolume(const v1::ModifyVolumeRequest& req);
  absl::StatusOr<v1::DescribeVolumesModificationsResponse> DescribeVolumesModifications(
      const v1::DescribeVolumesModificationsRequest& req);

  // AttachVolume (volume_attach.cc). Same AZ, an instance that is pending, running or stopped,
  // a free device slot, the volume available (or Multi-Attach). Records the attachment
  // `attaching`, asks the zone's volume service to export the volume (outside the state lock)
  // and records the endpoint; the host hot-plugs the disk and its report makes it `attached`.
  // A stopped instance's attachment is `attached` at once (the disk comes with the next boot).
  absl::StatusOr<v1::VolumeAttachment> AttachVolume(const v1::AttachVolumeRequest& req);
  // DetachVolume: the attachment becomes `detaching` and leaves the host's desired state; the
  // host's report that the disk is gone makes it `detached`. Force, or a stopped instance: at
  // once. Reconcile() then unexports the volume and makes it `available`.
  absl::StatusOr<v1::VolumeAttachment> DetachVolume(const v1::DetachVolumeRequest& req);

  // A snapshot of an `available` or `in-use` volume: answered `pending`, `completed` (Progress
  // 100%) once the zone's volume service took it (see the class comment).
  absl::StatusOr<v1::Snapshot> CreateSnapshot(const v1::CreateSnapshotRequest& req);
  absl::StatusOr<v1::DescribeSnapshotsResponse> DescribeSnapshots(
      const v1::DescribeSnapshotsRequest& req);
  // Refused (InvalidSnapshot.InUse) while an AMI uses the snapshot; volumes cloned from it keep
  // their data (the volume service's contract).
  absl::StatusOr<v1::DeleteSnapshotResponse> DeleteSnapshot(const v1::DeleteSnapshotRequest& req);
  // Within this cloud's region only: a new snapshot id in the source's zone, sharing its data.
  absl::StatusOr<v1::CopySnapshotResponse> CopySnapshot(const v1::CopySnapshotRequest& req);

  // The volumes RunInstances staged for its instances (ComputeService::EbsHooks::launched):
  // makes each on its zone's volume service and exports it for its instance. What the service
  // cannot do now is left to Reconcile().
  void FinishLaunchVolumes(const std::vector<std::string>& volume_ids);

  // EBS-backed AMIs (image_snapshot.cc). Where their disks are read (the blob store of uploaded
  // AMI files) and how a disk enters a volume; without them EBS-backed AMIs are refused.
  void SetImageSource(BlobStore* blobs, DiskWriter* writer) {
    image_blobs_ = blobs;
    disk_writer_ = writer;
  }
  bool CanImportImages() const { return image_blobs_ != nullptr && !fleet_.zones().empty(); }

  // Where encrypted volumes' data keys are made and sealed (volume_keys.h); without it,
  // encrypted volumes and snapshots are refused (UnsupportedOperation).
  void SetVolumeKeys(const VolumeKeys* keys) { keys_ = keys; }
  // Gives the EBS-backed AMI `image_id` its root snapshot in every zone with a volume service
  // that has none: recorded `pending` (VolumeId vol-ffffffff and "Created by RegisterImage ..."
  // as EC2 shows an AMI's snapshots), then the uploaded disk is written into a scratch volume
  // over NBD, snapshotted and the scratch volume dropped, and the snapshot is `completed`. A
  // zone whose service cannot be reached stays `pending`; Reconcile() asks again. Returns how
  // many snapshots completed.
  int ImportImage(const std::string& image_id);

  // Each zone's volume service as it answers now (asked outside the state lock, in parallel),
  // by zone name; zones without a service are absent.
  std::map<std::string, VolumeServiceState> ZoneStates() const;

  // Asks the volume services again for volumes left `creating` or `deleting` and snapshots left
  // `pending` or `deleting` (the service was unreachable, or the controller restarted mid-call),
  // and finishes attachments (ReconcileAttachments). Returns how many volumes, snapshots and
  // attachments changed state.
  int Reconcile();
  // Attachments: exports not made yet (the service was unreachable) are asked again; the
  // attachments of terminated (or forgotten) instances become `detached`; `detached` ones are
  // unexported (once no other attachment of the volume needs the export) and removed, and a
  // volume without attachments becomes `available`. Returns how many volumes changed.
  int ReconcileAttachments();

  // Whether a volume in `zone` may be made from `snap` of another zone, by a full copy
  // (volume_zone_copy.cc): CreateVolume's rule, and RunInstances' (ComputeService::EbsHooks).
  // Requires the state lock.
  absl::Status CheckZoneCopyLocked(const v1::SnapshotRecord& snap, const std::string& zone,
                                   bool encrypt) const;

 private:
  // Calls the service for a `pending` snapshot (or copy, or AMI import) and records the outcome.
  v1::SnapshotRecord FinishSnapshot(const v1::SnapshotRecord& r);
  // The AMI import's steps on the zone's service for snapshot `r` of `image` (image_snapshot.cc).
  // The service's side of an encrypted copy of a plain snapshot (snapshot_service.cc).
  absl::StatusOr<SnapshotInfo> RunEncryptingCopy(const v1::SnapshotRecord& r,
                                                 VolumeServiceClient& client);
  absl::StatusOr<SnapshotInfo> RunImageImport(const v1::SnapshotRecord& r,
                                              const v1::ImageRecord& image);
  // Calls the service for a `deleting` snapshot and purges the record once it is gone.
  bool FinishSnapshotDelete(const v1::SnapshotRecord& r);

  // The encryption of a new volume: an encrypted blank volume gets a new sealed data key; a clone
  // of an encrypted snapshot is encrypted with the snapshot's key (whatever was asked, as on
  // EC2). Encrypting a clone of an unencrypted snapshot is UnsupportedOperation (a full copy).
  // Requires the state lock.
  absl::Status SetEncryptionLocked(v1::VolumeRecord& r, bool encrypted,
                                   const std::string& kms_key_id);
  // Calls the service for a `creating` volume and records the outcome. Returns the record. A
  // volume from another zone's snapshot is copied only with `copy_now` (the reconcile loop).
  v1::VolumeRecord FinishCreate(const v1::VolumeRecord& r, absl::Status* service_error,
                                bool copy_now = false);
  // Copies across zones (volume_zone_copy.cc). CopyAcrossZones: the steps on both services,
  // which make `r` on its zone's service holding the snapshot's data; idempotent.
  absl::Status CopyAcrossZones(const v1::VolumeRecord& r, const v1::SnapshotRecord& snap);
  // A final failure to make `v` (controller/lifecycle/volume_failure.h): `v` becomes `error`
  // with the reason and EC2's StateReason code, and the launches waiting for it end in the same
  // `changes` (FailLaunchesLocked); `hosts` gets the hosts to wake. Requires the state lock.
  void MarkFailedLocked(v1::VolumeRecord& v, const absl::Status& why,
                        const std::string& reason_code, CloudState::Changes& changes,
                        std::set<std::string>& hosts);
  // The pending instances whose boot needs the `error` volume `v` (its attachments that are not
  // detached) end: a launch shutting-down → terminated, a start stopped, with the volume's
  // StateReason (lifecycle::EventKind::kVolumeFailed). Requires the state lock.
  void FailLaunchesLocked(const v1::VolumeRecord& v, CloudState::Changes& changes,
                          std::set<std::string>& hosts);
  // Ends the pending boot of `instance_id` because a volume it needs failed (`detail` says which
  // and why, `reason_code` is EC2's StateReason code; lifecycle::EventKind::kVolumeFailed):
  // staged in `changes` (over what `changes` already holds for it), its host added to `hosts`.
  // False when nothing changed (not a pending boot). Requires the state lock.
  bool FailBootLocked(const std::string& instance_id, std::string detail,
                      const std::string& reason_code, CloudState::Changes& changes,
                      std::set<std::string>& hosts);
  // FailLaunchesLocked for every `error` volume; returns how many instances changed.
  int FailLaunchesOfFailedVolumes();
  // Calls the service for a `deleting` volume and purges the record when it is gone.
  bool FinishDelete(const v1::VolumeRecord& r);
  // Exports the volume for an attachment without an endpoint and records the endpoint. A final
  // refusal of the service removes the attachment (the attach did not happen) and returns it.
  absl::Status FinishExport(const std::string& volume_id, const std::string& instance_id);

  CloudState& state_;
  const Clock& clock_;
  IdGenerator& ids_;
  const VolumeFleet& fleet_;
  BlobStore* image_blobs_ = nullptr;
  DiskWriter* disk_writer_ = nullptr;
  const VolumeKeys* keys_ = nullptr;
};

// The API view of a record (shared by the service's calls).
v1::Volume VolumeToApi(const v1::VolumeRecord& r);
v1::VolumeAttachment AttachmentToApi(const std::string& volume_id,
                                     const v1::VolumeAttachmentRecord& a);
// What the lifecycle decides on (attachments that are not detached).
lifecycle::VolumeView VolumeViewOf(const v1::VolumeRecord& r);

// InvalidVolume.NotFound unless the volume exists; InvalidParameterValue for a malformed id.
// Requires the state lock.
absl::StatusOr<const v1::VolumeRecord*> FindVolumeLocked(CloudState& state, const std::string& id);

// The API view of a snapshot record.
v1::Snapshot SnapshotToApi(const v1::SnapshotRecord& r, const std::string& owner_id);

// InvalidSnapshot.NotFound unless the snapshot exists (and is not being deleted);
// InvalidSnapshotID.Malformed for a malformed id. Requires the state lock.
absl::StatusOr<const v1::SnapshotRecord*> FindSnapshotLocked(CloudState& state,
                                                             const std::string& id);

// The AMI that uses `snapshot_id` (its root snapshot in some zone, or a snapshot its
// block-device mapping names), or "" when none does. THE hook of "a snapshot an AMI uses cannot
// be deleted" (InvalidSnapshot.InUse). Requires the state lock.
std::string ImageUsingSnapshotLocked(CloudState& state, const std::string& snapshot_id);

// The EBS-backed AMI whose root snapshot `snapshot_id` is (an import of its uploaded disk), or
// nullptr. Requires the state lock.
const v1::ImageRecord* ImageImportOfLocked(CloudState& state, const std::string& snapshot_id);

}  // namespace minicloud::controller
