#pragma once

// The placement model and the Scheduler interface.
//
// The scheduler is business logic over a read-only snapshot (Nomad style): no I/O, no clock, no
// global RNG. Every host that is not used gets a named reason; ties are broken by a stable hash
// of (request id, host id) so a recorded decision replays exactly. Rules are documented in
// controller/scheduler/README.md; the short version:
//
//   * One request lands in ONE availability zone (as EC2: one RunInstances call = one subnet).
//   * No group: spread over racks, then hosts (fewest instances of this request), then the host
//     with the most free memory, then free vCPUs.
//   * cluster: one AZ, locked by the first launch; pack onto the racks/hosts already holding the
//     group, then best fit.
//   * spread: at most 7 ACTIVE members per AZ, each on its own rack (or host).
//   * partition: partitions 1..partition_count (<= 7); a rack that holds an active member of
//     partition p never takes another partition's instance.
//
// "Active" (the brief's "running") is defined precisely on GroupMember::active.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/instance_limits.h"

namespace minicloud::scheduler {

// EC2 limits the placement rules enforce (common/instance_limits.h).
inline constexpr int kMaxSpreadInstancesPerAz = limits::kMaxSpreadInstancesPerAz;  // per AZ
inline constexpr int kMaxPartitions = limits::kMaxPartitions;  // per partition group (per AZ)

// A placement-group member running on a host, as the host reports it. Optional: the scheduler
// takes a group's members from PlacementGroup::members and ALSO counts any member listed here
// that the group's list lacks (union by instance id), so a stale group list cannot break the
// spread or partition rules. Everything listed here is active by definition.
struct HostedGroupMember {
  std::string group_name;
  std::string instance_id;
  int partition_number = 0;  // partition groups only
};

// What the scheduler knows of one host: a read-only snapshot taken under the controller's lock.
struct HostSnapshot {
  std::string host_id;
  std::string region;
  std::string availability_zone;
  std::string rack;  // rack identity is (availability_zone, rack): "r1" in two AZs is two racks
  bool up = true;    // reported within the liveness window
  int allocatable_vcpus = 0;  // physical x overcommit ratio (overcommit is folded in here)
  int64_t allocatable_memory_mib = 0;
  int used_vcpus = 0;
  int64_t used_memory_mib = 0;
  int64_t instance_store_gb = 0;  // local instance-store capacity (GB)
  int64_t used_instance_store_gb = 0;
  std::vector<HostedGroupMember> group_members;
};

enum class PlacementStrategy { kCluster = 1, kSpread = 2, kPartition = 3 };
enum class SpreadLevel { kRack = 1, kHost = 2 };

// "cluster" | "spread" | "partition" (EC2 spelling); anything else is InvalidArgument.
absl::StatusOr<PlacementStrategy> ParsePlacementStrategy(const std::string& s);
// "rack" | "host"; "" means rack (EC2's default). Anything else is InvalidArgument.
absl::StatusOr<SpreadLevel> ParseSpreadLevel(const std::string& s);
const char* PlacementStrategyName(PlacementStrategy s);  // "cluster" ... ; "unknown" if invalid
const char* SpreadLevelName(SpreadLevel l);              // "rack" | "host"; "unknown"

// One instance of a placement group.
struct GroupMember {
  std::string instance_id;
  std::string host_id;            // where it runs (or last ran, when stopped)
  std::string availability_zone;  // used when host_id is not in the snapshot
  std::string rack;               // used when host_id is not in the snapshot
  int partition_number = 0;       // partition groups: 1..partition_count
  // Counts toward the group's rules (spread's 7 per AZ and distinct racks/hosts, partition rack
  // ownership, cluster AZ) exactly when the instance occupies its host: state pending, running,
  // stopping or shutting-down (the service's HoldsCapacity). false = stopped. Terminated
  // instances are not members: leave them out. Stopped members still count toward a partition's
  // size when the scheduler spreads new instances evenly over partitions.
  bool active = true;
};

struct PlacementGroup {
  std::string name;
  PlacementStrategy strategy = PlacementStrategy::kSpread;
  SpreadLevel spread_level = SpreadLevel::kRack;  // spread only
  int partition_count = 0;                        // partition only: 1..7
  // cluster only: the AZ the first launch locked the group to; "" = unlocked. If it is empty
  // but members exist, the scheduler takes the AZ of the members.
  std::string locked_az;
  std::vector<GroupMember> members;  // all members, active and stopped
};

// CreatePlacementGroup's checks: a name, a known strategy and spread level, partition_count in
// 1..7 for partition groups (and 0 for the others). InvalidArgument names the field.
absl::Status ValidatePlacementGroup(const PlacementGroup& group);

struct PlacementRequest {
  std::string request_id;  // seeds tie-breaking, so a decision can be replayed
  int vcpus = 0;
  int64_t memory_mib = 0;
  int min_count = 1;
  int max_count = 1;
  std::string availability_zone;  // empty = any (the scheduler picks one AZ for the request)
  // When `availability_zone` is empty: the AZs the scheduler may pick from (empty = all). An
  // instance cloning EBS snapshots can only launch where its snapshots are kept.
  std::vector<std::string> allowed_zones;
  // --- added for placement groups ---
  std::string region;                           // empty = any
  int64_t instance_store_gb = 0;                // per instance
  std::shared_ptr<const PlacementGroup> group;  // null = no placement group
  int partition_number = 0;  // partition groups: 0 = spread evenly, else 1..count
  // StartInstances of a stopped instance: set its id (counts must be 1/1). The instance is
  // ignored as a member while placing it, restarts in its own AZ and (partition groups) its own
  // partition, both taken from its GroupMember record when the fields above are empty/0.
  std::string restart_instance_id;
  // Preferred host (restart: where the instance last ran, e.g. its root overlay is there). It is
  // used whenever it passes every filter and rule.
  std::string preferred_host_id;
};

// Builds the request for starting a stopped group member (or a stopped instance without a
// group when group is null): counts 1/1, the member's AZ, partition and last host.
PlacementRequest MakeRestartRequest(std::string request_id, const GroupMember& member,
                                    std::shared_ptr<const PlacementGroup> group, int vcpus,
                                    int64_t memory_mib, int64_t instance_store_gb);

// Why a host could not take (another) instance of the request.
enum class RejectCode {
  kNone = 0,
  kHostDown,            // host is unreachable
  kRegion,              // in another region than requested
  kAvailabilityZone,    // in another AZ than requested (or than the request's chosen AZ)
  kClusterAz,           // cluster group locked to another AZ
  kVcpu,                // not enough free vCPU
  kMemory,              // not enough free memory
  kInstanceStore,       // not enough free instance-store GB
  kSpreadAzFull,        // spread group already has 7 active instances in this AZ
  kSpreadRackTaken,     // spread (rack): rack already holds a member
  kSpreadHostTaken,     // spread (host): host already holds a member
  kPartitionRackTaken,  // rack belongs to another partition of the group
};
const char* RejectCodeName(RejectCode c);  // "host-down", "vcpu", "spread-rack-taken", ...

// Why a host was not used. One entry per host that failed a filter or rule at the last decision
// the scheduler made for it (the slot where placement stopped, on failure), sorted by host id;
// on failure the hosts of the AZs the request could use come first.
struct Rejection {
  std::string host_id;
  std::string reason;  // e.g. "host is unreachable", "needs 2 vCPU, 1 free"
  RejectCode code = RejectCode::kNone;
};

// Where one instance goes.
struct InstancePlacement {
  std::string host_id;
  std::string availability_zone;
  std::string rack;
  int partition_number = 0;  // 0 unless the group is a partition group
};

struct PlacementResult {
  std::vector<std::string> host_ids;  // one per placed instance, size in [min_count, max_count]
  std::vector<Rejection> rejections;
  std::vector<InstancePlacement> placements;  // parallel to host_ids
  std::string availability_zone;              // the one AZ the instances went to
  // Cluster groups: the AZ the group is locked to after this placement. When the request's
  // group had no lock, the service must persist this as the group's locked_az.
  std::string cluster_locked_az;
};

// --explain: what the scheduler decided for each host, and why.
enum class Verdict { kChosen, kRejected, kPassedOver };
// One named part of a host's rank, as the decision compared it (score.h), e.g.
// {"free-memory-after", "14336"}, {"rack-has-group", "yes"}, {"tie-hash", "00c0ffee..."}.
struct ScorePart {
  std::string name;
  std::string value;
};
struct HostVerdict {
  std::string host_id;
  Verdict verdict = Verdict::kPassedOver;
  int instances = 0;                    // chosen: how many instances of the request
  RejectCode code = RejectCode::kNone;  // rejected
  // rejected: the filter's reason; chosen: per instance, why it won (the first score part where
  // it beat the runner-up) and the strategy's account; passed over: why
  std::string reason;
  // The host's score parts in ranking order (empty when rejected): chosen = at its first
  // instance; passed over = at the last instance slot the decision evaluated.
  std::vector<ScorePart> score;
};
struct PlacementExplanation {
  absl::Status status;             // what Place returns
  PlacementResult result;          // placements empty on failure; rejections always filled
  std::vector<HostVerdict> hosts;  // every host, sorted by host id
  // AZ choice, the ranking order (score parts), one line per placed instance: why it won
  std::vector<std::string> notes;
};
// Stable, human-readable multi-line text (same inputs → same bytes).
std::string FormatExplanation(const PlacementRequest& request,
                              const PlacementExplanation& explanation);

// Chooses hosts for a request. Implementations are pure: no I/O, no clock, no global RNG.
// Errors: InvalidArgument for a bad request (counts, sizes, unknown strategy, partition number
// out of range, partition count > 7, cluster locked to another AZ); ResourceExhausted when fewer
// than min_count instances fit, naming the reasons (the service maps it to
// InsufficientInstanceCapacity). On error nothing is placed.
class Scheduler {
 public:
  virtual ~Scheduler() = default;
  virtual absl::StatusOr<PlacementResult> Place(const PlacementRequest& request,
                                                const std::vector<HostSnapshot>& hosts) const = 0;
  // Same decision as Place, with a verdict for every host (for --explain).
  virtual PlacementExplanation Explain(const PlacementRequest& request,
                                       const std::vector<HostSnapshot>& hosts) const = 0;
};

// EC2's placement: without a group instances spread over racks and hosts (see the top of this
// file); with a group its strategy's rules apply. Ties are broken by a hash of the request id
// and host id. For many hosts and many decisions keep a scheduler::Fleet (fleet.h) instead of
// rebuilding the index from a vector each call.
class SpreadScheduler final : public Scheduler {
 public:
  absl::StatusOr<PlacementResult> Place(const PlacementRequest& request,
                                        const std::vector<HostSnapshot>& hosts) const override;
  PlacementExplanation Explain(const PlacementRequest& request,
                               const std::vector<HostSnapshot>& hosts) const override;
};

}  // namespace minicloud::scheduler
