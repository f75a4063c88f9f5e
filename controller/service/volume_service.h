#pragma once

// EBS volumes: CreateVolume, DescribeVolumes, DeleteVolume, ModifyVolume,
// DescribeVolumesModifications. The rules of a volume's shape are common/volume_limits.h, the
// state changes controller/lifecycle/volume_lifecycle.h; this service loads and stores records
// around them and calls the zone's volume service (controller/volumes/volume_fleet.h).
//
// A call that needs the volume service records its intent first (a volume `creating` or
// `deleting`, a modification `modifying`), calls the service without holding the state lock, and
// records the answer. When the service cannot be reached (Unavailable) the volume stays in its
// transitional state and Reconcile() asks again, so a restart of the controller or of the
// volume service in the middle converges: nothing is deleted or rolled back unless asked.

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "common/ids.h"
#include "controller/lifecycle/volume_lifecycle.h"
#include "controller/service/cloud_state.h"
#include "controller/volumes/volume_fleet.h"
#include "minicloud/v1/volumes.pb.h"

namespace minicloud::controller {

// DescribeVolumes' MaxResults: 5..500; a larger value returns 500 (EC2 API reference).
inline constexpr int32_t kMaxVolumesPerPage = 500;

class VolumeService {
 public:
  VolumeService(CloudState& state, const Clock& clock, IdGenerator& ids, const VolumeFleet& fleet)
      : state_(state), clock_(clock), ids_(ids), fleet_(fleet) {}

  // Answers the volume as recorded once the zone's volume service answered: `available`, or
  // `creating` when the service was unreachable (Reconcile() retries), or the service's refusal
  // (the volume is then recorded `error`, as EC2 shows a volume that failed to create).
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

  // Asks the volume services again for volumes left `creating` or `deleting` (the service was
  // unreachable, or the controller restarted mid-call), and finishes attachments
  // (ReconcileAttachments). Returns how many volumes changed.
  int Reconcile();
  // Attachments: exports not made yet (the service was unreachable) are asked again; the
  // attachments of terminated (or forgotten) instances become `detached`; `detached` ones are
  // unexported (once no other attachment of the volume needs the export) and removed, and a
  // volume without attachments becomes `available`. Returns how many volumes changed.
  int ReconcileAttachments();

 private:
  // Calls the service for a `creating` volume and records the outcome. Returns the record.
  v1::VolumeRecord FinishCreate(const v1::VolumeRecord& r, absl::Status* service_error);
  // Calls the service for a `deleting` volume and purges the record when it is gone.
  bool FinishDelete(const v1::VolumeRecord& r);
  // Exports the volume for an attachment without an endpoint and records the endpoint. A final
  // refusal of the service removes the attachment (the attach did not happen) and returns it.
  absl::Status FinishExport(const std::string& volume_id, const std::string& instance_id);

  CloudState& state_;
  const Clock& clock_;
  IdGenerator& ids_;
  const VolumeFleet& fleet_;
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

}  // namespace minicloud::controller
