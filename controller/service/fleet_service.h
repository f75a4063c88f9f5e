#pragma once

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "common/ids.h"
#include "controller/service/cloud_state.h"
#include "minicloud/v1/host.pb.h"

namespace minicloud::controller {

// The controller's side of the host agents: registration, observed state coming up, desired
// state going down, and the periodic reconcile that times out launches and forgets old
// terminated instances. Thread-safe.
class FleetService {
 public:
  FleetService(CloudState& state, const Clock& clock, IdGenerator& ids)
      : state_(state), clock_(clock), ids_(ids) {}

  absl::StatusOr<v1::RegisterHostResponse> RegisterHost(const v1::RegisterHostRequest& req);
  // Applies what an agent saw. NotFound for an unknown host (the agent then registers again).
  absl::Status ReportStatus(const v1::ReportStatusRequest& req);
  // Blocks up to max_wait (bounded) until the host's desired state differs from
  // known_generation.
  absl::StatusOr<v1::DesiredState> WatchDesired(const v1::WatchDesiredRequest& req);
  // One reconcile pass; run periodically.
  absl::Status Reconcile();

 private:
  v1::DesiredState DesiredLocked(const std::string& host_id) const;

  CloudState& state_;
  const Clock& clock_;
  IdGenerator& ids_;
};

}  // namespace minicloud::controller
