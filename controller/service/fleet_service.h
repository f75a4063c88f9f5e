#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "common/clock.h"
#include "common/ids.h"
#include "controller/service/cloud_state.h"
#include "controller/service/identity.h"
#include "controller/volumes/volume_keys.h"
#include "minicloud/v1/host.pb.h"

namespace minicloud::controller {

// How many WatchDesired calls may wait at once. Each waiting call holds a server thread for up
// to 30 s; without a bound, anyone who can reach the port (registration is open until callers
// authenticate) could hold every thread the process can make.
struct WatchLimits {
  int max_waiting = 1024;        // in all: one per host, plus room for reconnects
  int max_waiting_per_host = 2;  // an agent waits in one; a reconnect may overlap the old one
};

// The controller's side of the host agents: registration, observed state coming up, desired
// state going down, and the periodic reconcile that times out launches and forgets old
// terminated instances. Thread-safe.
class FleetService {
 public:
  FleetService(CloudState& state, const Clock& clock, IdGenerator& ids, IdentitySigner& signer,
               WatchLimits watch_limits = {})
      : state_(state), clock_(clock), ids_(ids), signer_(signer), watch_limits_(watch_limits) {}

  absl::StatusOr<v1::RegisterHostResponse> RegisterHost(const v1::RegisterHostRequest& req);

  // Opens encrypted volumes' data keys for the hosts that attach them (DesiredEbsDisk.luks_key);
  // without it, encrypted volumes are left out of hosts' desired states.
  void SetVolumeKeys(const VolumeKeys* keys) { volume_keys_ = keys; }
  // Applies what an agent saw. NotFound for an unknown host (the agent then registers again).
  absl::Status ReportStatus(const v1::ReportStatusRequest& req);
  // Blocks up to max_wait (bounded) until the host's desired state differs from
  // known_generation. Instances come with their signed identity document: signed here, once
  // per instance (cached), outside the state lock. A call that would wait while WatchLimits
  // calls already wait (in all, or for its host) fails at once with ResourceExhausted; one
  // that need not wait is always answered. `cancelled` (the caller's call gone, polled while
  // waiting) ends the wait with Cancelled.
  absl::StatusOr<v1::DesiredState> WatchDesired(const v1::WatchDesiredRequest& req,
                                                const std::function<bool()>& cancelled = {});
  // Ends the waits of WatchDesired now and lets later calls answer without waiting: the
  // controller's shutdown drains its server without sitting out the agents' long-polls.
  void StopWatches();
  // OK when `instance_id` is placed on `host_id` and not terminated: the host may then speak for
  // the guest (its CloudFormation requests). PermissionDenied otherwise, the same for an unknown
  // instance and another host's (a host learns nothing of others).
  absl::Status CheckGuestOfHost(const std::string& host_id, const std::string& instance_id);
  // Calls waiting in WatchDesired right now.
  int WaitingWatches();
  // One reconcile pass; run periodically.
  absl::Status Reconcile();

 private:
  // The desired state; `to_sign` gets the index in d.instances() of every instance whose
  // identity document still needs its signatures.
  v1::DesiredState DesiredLocked(const std::string& host_id, std::vector<int>& to_sign,
                                 std::vector<std::string>& forget) const;
  // The EBS disks of each instance on the host (attachments with an export, not detaching);
  // `unready` gets the instances with an attaching volume not made (`creating`, `error`) or not
  // exported yet.
  std::map<std::string, std::vector<v1::DesiredEbsDisk>> EbsDisksOnHostLocked(
      const std::string& host_id, std::set<std::string>& unready) const;
  // An agent's view of an instance's EBS disks: attaching -> attached once the disk is there,
  // detaching -> detached once it is gone, and the host's last failure as the attachment's
  // error (volume_lifecycle.h decides).
  void ApplyEbsReportLocked(const v1::ObservedInstance& obs, CloudState::Changes& changes);
  // Fills the signatures of those instances (cache, else the signer). No lock needed.
  absl::Status SignIdentities(v1::DesiredState& d, const std::vector<int>& to_sign,
                              const std::vector<std::string>& forget);

  CloudState& state_;
  const Clock& clock_;
  IdGenerator& ids_;
  IdentitySigner& signer_;
  const WatchLimits watch_limits_;
  const VolumeKeys* volume_keys_ = nullptr;
  // Waiting WatchDesired calls, in all and per host id. Guarded by the state lock.
  int waiting_ = 0;
  bool watches_stopped_ = false;  // StopWatches; guarded by state_.mu()
  absl::flat_hash_map<std::string, int> waiting_by_host_;
  std::mutex signed_mu_;  // guards signed_ (never taken together with the state lock)
  // Signed identities by instance id (the document they sign is part of the value).
  absl::flat_hash_map<std::string, SignedIdentity> signed_;
};

}  // namespace minicloud::controller
