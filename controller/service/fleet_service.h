#pragma once

#include <map>
#include <mutex>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "common/clock.h"
#include "common/ids.h"
#include "controller/service/cloud_state.h"
#include "controller/service/identity.h"
#include "minicloud/v1/host.pb.h"

namespace minicloud::controller {

// The controller's side of the host agents: registration, observed state coming up, desired
// state going down, and the periodic reconcile that times out launches and forgets old
// terminated instances. Thread-safe.
class FleetService {
 public:
  FleetService(CloudState& state, const Clock& clock, IdGenerator& ids, IdentitySigner& signer)
      : state_(state), clock_(clock), ids_(ids), signer_(signer) {}

  absl::StatusOr<v1::RegisterHostResponse> RegisterHost(const v1::RegisterHostRequest& req);
  // Applies what an agent saw. NotFound for an unknown host (the agent then registers again).
  absl::Status ReportStatus(const v1::ReportStatusRequest& req);
  // Blocks up to max_wait (bounded) until the host's desired state differs from
  // known_generation. Instances come with their signed identity document: signed here, once
  // per instance (cached), outside the state lock.
  absl::StatusOr<v1::DesiredState> WatchDesired(const v1::WatchDesiredRequest& req);
  // One reconcile pass; run periodically.
  absl::Status Reconcile();

 private:
  // The desired state; `to_sign` gets the index in d.instances() of every instance whose
  // identity document still needs its signatures.
  v1::DesiredState DesiredLocked(const std::string& host_id, std::vector<int>& to_sign,
                                 std::vector<std::string>& forget) const;
  // Fills the signatures of those instances (cache, else the signer). No lock needed.
  absl::Status SignIdentities(v1::DesiredState& d, const std::vector<int>& to_sign,
                              const std::vector<std::string>& forget);

  CloudState& state_;
  const Clock& clock_;
  IdGenerator& ids_;
  IdentitySigner& signer_;
  std::mutex signed_mu_;  // guards signed_ (never taken together with the state lock)
  // Signed identities by instance id (the document they sign is part of the value).
  absl::flat_hash_map<std::string, SignedIdentity> signed_;
};

}  // namespace minicloud::controller
