#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "common/ids.h"
#include "controller/scheduler/scheduler.h"
#include "controller/service/cloud_state.h"
#include "minicloud/v1/compute.pb.h"

namespace minicloud::controller {

// EC2 limits (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/create-placement-group.html,
// API_CreatePlacementGroup): 500 groups per region, names up to 255 ASCII characters; a partition
// group created without a count gets 2 partitions.
inline constexpr int kMaxPlacementGroupsPerRegion = 500;
inline constexpr size_t kMaxPlacementGroupNameLength = 255;
inline constexpr int kDefaultPartitionCount = 2;

// CreatePlacementGroup / DescribePlacementGroups / DeletePlacementGroup. Thread-safe.
class PlacementGroupService {
 public:
  PlacementGroupService(CloudState& state, const Clock& clock, IdGenerator& ids)
      : state_(state), clock_(clock), ids_(ids) {}

  absl::StatusOr<v1::CreatePlacementGroupResponse> CreatePlacementGroup(
      const v1::CreatePlacementGroupRequest& req);
  absl::StatusOr<v1::DescribePlacementGroupsResponse> DescribePlacementGroups(
      const v1::DescribePlacementGroupsRequest& req);
  absl::StatusOr<v1::DeletePlacementGroupResponse> DeletePlacementGroup(
      const v1::DeletePlacementGroupRequest& req);

 private:
  CloudState& state_;
  const Clock& clock_;
  IdGenerator& ids_;
};

// InvalidPlacementGroup.Unknown unless a group of that name exists. Requires the state lock.
absl::StatusOr<const v1::PlacementGroupRecord*> FindPlacementGroupLocked(CloudState& state,
                                                                         const std::string& name);

// The scheduler's view of a group: its rules plus every instance of the group that is not
// terminated (active = HoldsCapacity). A restarting member stays in the list: the scheduler
// ignores it itself (PlacementRequest::restart_instance_id). Requires the state lock. The view
// is shared with the state's index (StateIndex::SchedulerGroup): drop it under the lock.
std::shared_ptr<const scheduler::PlacementGroup> SchedulerGroupLocked(
    CloudState& state, const v1::PlacementGroupRecord& record);

// Instances of the group that are not terminated. Requires the state lock.
int GroupInstanceCountLocked(CloudState& state, const std::string& group_name);

}  // namespace minicloud::controller
