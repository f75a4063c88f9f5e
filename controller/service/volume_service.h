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

  // Asks the volume services again for volumes left `creating` or `deleting` (the service was
  // unreachable, or the controller restarted mid-call). Returns how many volumes changed state.
  int Reconcile();

 private:
  // Calls the service for a `creating` volume and records the outcome. Returns the record.
  v1::VolumeRecord FinishCreate(const v1::VolumeRecord& r, absl::Status* service_error);
  // Calls the service for a `deleting` volume and purges the record when it is gone.
  bool FinishDelete(const v1::VolumeRecord& r);

  CloudState& state_;
  const Clock& clock_;
  IdGenerator& ids_;
  const VolumeFleet& fleet_;
};

// The API view of a record (shared by the service's calls).
v1::Volume VolumeToApi(const v1::VolumeRecord& r);

// InvalidVolume.NotFound unless the volume exists; InvalidParameterValue for a malformed id.
// Requires the state lock.
absl::StatusOr<const v1::VolumeRecord*> FindVolumeLocked(CloudState& state, const std::string& id);

}  // namespace minicloud::controller
