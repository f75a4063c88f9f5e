#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/node_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "controller/service/record_table.h"
#include "controller/service/state_index.h"
#include "controller/store/group_commit.h"
#include "controller/store/store.h"
#include "minicloud/v1/records.pb.h"
#include "minicloud/v1/stack_records.pb.h"

namespace minicloud::controller {

// Controller settings that shape business rules. Defaults suit a homelab.
struct ControllerConfig {
  std::string owner_id = "000000000000";  // the account id shown as OwnerId
  std::string region = "home-1";          // where placement groups live when none is named
  double cpu_allocation_ratio = 4.0;      // vCPU overcommit
  double memory_allocation_ratio = 1.0;
  int64_t reserved_host_memory_mib = 512;                // kept for the host itself
  absl::Duration host_timeout = absl::Seconds(15);       // no report for this long = unreachable
  absl::Duration launch_timeout = absl::Minutes(10);     // pending longer = failed launch
  absl::Duration terminated_retention = absl::Hours(1);  // EC2 shows terminated ~1 hour
  // A volume the volume service cannot be reached for this long (retried errors only) is
  // `error`, and a launch waiting for it ends (controller/lifecycle/volume_failure.h).
  absl::Duration volume_retry_budget = absl::Minutes(5);
  int report_interval_ms = 2000;
  // The VPC instances get addresses in: one subnet of this size per availability zone. The
  // default is AWS's default VPC (172.31.0.0/16, a /20 = 4,091 instance addresses per AZ).
  std::string vpc_cidr = "172.31.0.0/16";
  int subnet_prefix_length = 20;
  // Instances one RunInstances call may ask for. EC2 bounds MinCount and MaxCount by the
  // account's instance quota ("Between 1 and the maximum number allowed for your account"):
  // a MinCount above it fails with InstanceLimitExceeded, a MaxCount above it launches at most
  // that many. Bounds the work one call does under the state lock.
  int max_instances_per_call = 1000;
  // What DescribeRegions reports as the region's endpoint (the API address clients use); empty
  // = the first --listen address.
  std::string region_endpoint;
  // DescribeInstanceStatus: a running instance's instance status stays "initializing" this long
  // after it was marked running (EC2's checks take a few minutes to pass; a homelab guest's
  // boot is what the delay stands for).
  absl::Duration status_check_grace = absl::Seconds(30);
};

// What a host may run: its physical capacity times the overcommit ratios, minus the memory
// reserved for the host itself. The scheduler's snapshot and the agent's re-check use it alike.
v1::Capacity AllocatableCapacity(const v1::Capacity& physical, const ControllerConfig& config);

// What the controller knows of a host beyond its stored record; rebuilt after a restart.
struct HostRuntime {
  absl::Time last_report = absl::InfinitePast();
  uint64_t generation = 0;  // desired-state version sent to the agent
};

// The key of a stack's event number `sequence` (1, 2, ...) in Table::kStackEvents: the stack
// id, '#', and the sequence counted down from 2^64-1 in 16 hex digits, so that a stack's events
// are one key range, newest first.
std::string StackEventKey(absl::string_view stack_id, uint64_t sequence);
// The bounds of a stack's key range: every key of its events is > begin and < end.
std::string StackEventsBegin(absl::string_view stack_id);
std::string StackEventsEnd(absl::string_view stack_id);

// Logs the failed durable write as critical and aborts the process. See CloudState.
[[noreturn]] void FatalStoreWriteFailure(const absl::Status& status);

// The controller's state: the store plus an in-memory mirror of every record, guarded by one
// mutex.
//
// Durability: every change goes to the store through one GroupCommitter, in the order the
// changes were made under mu(), and a caller is answered only after the disk has its changes.
// A change is STAGED first (applied to the mirror and queued for the store, so the next decision
// already sees it, e.g. a capacity reservation) and then waited for. CommitLocked waits while
// holding mu(), so nobody else sees its changes before they are durable. CommitPipelined
// (RunInstances) releases mu() while waiting, so decisions of other requests overlap the sync
// and many requests share one fsync; the next decisions (the scheduler's view) see staged
// records that are not durable yet, which is what lets them overlap. Nothing staged is SHOWN
// before it is durable: answers that show records take the lock with LockCommitted (Describe*
// and the other readers of the API), RunInstances syncs before answering a retried ClientToken,
// and FleetService::WatchDesired syncs before every answer, so neither a caller nor an agent
// sees a record a crash could still take back. Agents are told about a host's changes only when
// they are durable: BumpGenerationLocked defers the bump of a host with staged changes to the
// request that staged them, which bumps it once they are on disk.
//
// A failed durable write stops the controller (FatalStoreWriteFailure: log critical, abort):
// the mirror already holds changes the disk refused and cannot be rolled back, later changes
// were built on them, and the store is the source of truth that a restart reloads. This is the
// policy etcd applies to a failed WAL fsync.
class CloudState {
 public:
  CloudState(Store& store, ControllerConfig config)
      : store_(store), committer_(store), config_(std::move(config)), index_(config_) {}

  // Loads every record from the store. Call once before serving.
  absl::Status Load(absl::Time now);

  // Records passed in Changes are the new values.
  struct Changes {
    std::map<std::string, v1::InstanceRecord> instances;
    // Set by RunInstances: every record in `instances` has its five derived network fields
    // exactly as FillDerivedNetwork gave them from the subnet record staged with it (or already
    // in the mirror), so staging stores it without them without deriving them again
    // (instance_network.h). False: staging compares the fields with the derived values.
    bool instances_network_derived = false;
    std::map<std::string, v1::ImageRecord> images;
    std::map<std::string, v1::HostRecord> hosts;
    std::map<std::string, v1::ClientTokenRecord> client_tokens;
    std::map<std::string, v1::KeyPairRecord> key_pairs;                // by key name
    std::map<std::string, v1::SubnetRecord> subnets;                   // by availability zone
    std::map<std::string, v1::PlacementGroupRecord> placement_groups;  // by group name
    std::vector<std::string> deleted_instances;
    std::vector<std::string> deleted_images;
    std::vector<std::string> deleted_key_pairs;
    std::vector<std::string> deleted_placement_groups;
    std::map<std::string, v1::InstanceProfileRecord> instance_profiles;  // by profile name
    std::vector<std::string> deleted_instance_profiles;
    std::map<std::string, v1::VolumeRecord> volumes;  // by volume id
    std::vector<std::string> deleted_volumes;
    std::map<std::string, v1::SnapshotRecord> snapshots;  // by snapshot id
    std::vector<std::string> deleted_snapshots;
    std::map<std::string, v1::StackRecord> stacks;  // by stack id
    std::vector<std::string> deleted_stacks;
    // Stack events by StackEventKey (the store only: DescribeStackEvents reads them from it).
    std::map<std::string, v1::StackEventRecord> stack_events;
    std::vector<std::string> deleted_stack_events;
  };

  // Makes `changes` durable and applies them to the mirror; returns once they are on disk (and
  // every change staged before them too). Requires mu() held, and keeps it held while waiting.
  // Empty changes return at once. Returns OK: a failed write does not return (see the class
  // comment).
  absl::Status CommitLocked(const Changes& changes);

  // The pipelined commit: requires `lock` to hold mu(). Stages `changes` (mirror + queue),
  // releases the lock, waits until they are durable and makes sure the generation of `hosts`
  // (the hosts whose desired state changed) has been bumped since. Returns with the lock
  // RELEASED. A failed write does not return.
  //
  // The bump is done once per synced write, not once per call: the first caller of a group to
  // wake re-takes mu() and bumps every host whose staged changes are now durable (its own and
  // those of the other calls the same write carried); the others find their ticket covered
  // (`generations_bumped_through_`) and return without taking mu() again.
  void CommitPipelined(std::unique_lock<std::mutex>& lock, const Changes& changes,
                       const std::set<std::string>& hosts);

  // CommitPipelined in two steps, for RunInstances, which builds its answer from the staged
  // records while it still holds the lock. StagePipelinedLocked requires mu() held: it stages
  // `changes`, MOVING its instance records into the mirror (no copy; `changes.instances` is left
  // with moved-from values), and returns the ticket; `staged` (when not null) gets the mirror's
  // records in `changes.instances` order, valid while mu() stays held. FinishPipelined then
  // releases `lock`, waits and bumps as CommitPipelined does, and returns with the lock released.
  uint64_t StagePipelinedLocked(Changes&& changes, const std::set<std::string>& hosts,
                                std::vector<const v1::InstanceRecord*>* staged);
  void FinishPipelined(std::unique_lock<std::mutex>& lock, uint64_t ticket, bool any_hosts);

  // Waits, holding mu(), until every staged change is durable. Requires mu() held.
  void SyncLocked();

  // Takes mu() for a reader that answers from the mirror (Describe*, and every other answer
  // that shows records): returns once every staged change is durable, holding mu(), so the
  // answer shows only committed records. While changes are in flight it waits for their sync
  // (one synced write, shared with the writers).
  std::unique_lock<std::mutex> LockCommitted();

  // Marks the desired state of `host_id` changed and wakes its watcher. Requires mu() held.
  // When the host has staged changes that are not durable yet, the bump is left to the
  // CommitPipelined call that staged them (it bumps once they are durable).
  void BumpGenerationLocked(const std::string& host_id);

  std::mutex& mu() { return mu_; }
  // The group committer's counters (synced writes, tickets per write, bytes, time in the store).
  GroupCommitter::Stats commit_stats() const { return committer_.stats(); }
  std::condition_variable& desired_changed() { return desired_changed_; }
  const ControllerConfig& config() const { return config_; }

  // Instance and host records change only through Changes (staging keeps index() exact).
  // Instances: in id order like a std::map, found by hash (record_table.h).
  const RecordTable<v1::InstanceRecord>& instances() const { return instances_; }
  std::map<std::string, v1::ImageRecord>& images() { return images_; }
  const std::map<std::string, v1::HostRecord>& hosts() const { return hosts_; }
  // The host record of `id`, or null: a hash probe (RunInstances reads the record of every host
  // it places on; the ordered map above is a walk of ~14 string comparisons at 10,000 hosts).
  const v1::HostRecord* FindHost(const std::string& id) const;
  // The placement group record named `name`, or null: a hash probe, as FindHost.
  const v1::PlacementGroupRecord* FindPlacementGroup(const std::string& name) const;
  // Read-only: a host's last report changes through RecordReportLocked.
  const absl::node_hash_map<std::string, HostRuntime>& host_runtime() const {
    return host_runtime_;
  }
  // The indexes over the records (hosts' usage, the scheduler's fleet, group members, used
  // addresses); see state_index.h. Requires mu() held.
  StateIndex& index() { return index_; }
  std::map<std::string, v1::ClientTokenRecord>& client_tokens() { return client_tokens_; }
  std::map<std::string, v1::KeyPairRecord>& key_pairs() { return key_pairs_; }
  std::map<std::string, v1::SubnetRecord>& subnets() { return subnets_; }
  // Placement groups change only through Changes.
  const std::map<std::string, v1::PlacementGroupRecord>& placement_groups() const {
    return placement_groups_;
  }
  const std::map<std::string, v1::InstanceProfileRecord>& instance_profiles() const {
    return instance_profiles_;
  }
  // Volumes change only through Changes.
  const std::map<std::string, v1::VolumeRecord>& volumes() const { return volumes_; }
  // Snapshots change only through Changes.
  const std::map<std::string, v1::SnapshotRecord>& snapshots() const { return snapshots_; }
  // CloudFormation stacks by stack id (deleted ones stay, DELETE_COMPLETE); they change only
  // through Changes.
  const std::map<std::string, v1::StackRecord>& stacks() const { return stacks_; }
  // The events of a stack, newest first, after the one keyed `after_key` ("" = from the newest),
  // at most `limit` (0 = all), with their keys. Read from the store, not the mirror (a stack's
  // events are not capped). Requires mu() held through LockCommitted (only durable events).
  absl::StatusOr<std::vector<std::pair<std::string, v1::StackEventRecord>>> StackEventsLocked(
      const std::string& stack_id, const std::string& after_key, size_t limit);

  // The boot files of an instance: its record's own `image` when it has one (records written
  // before this rule, and instances whose AMI was deregistered: DeregisterImage copies the boot
  // files into them), else its AMI's. RunInstances does not copy the AMI's boot files (~250
  // bytes of digests and sizes) into every record. Empty for neither (a broken invariant).
  // Requires mu() held.
  const v1::BootImage& BootImageOf(const v1::InstanceRecord& r) const;

  bool HostUpLocked(const std::string& host_id, absl::Time now) const;
  // The host reported (or registered) at `now`. Requires mu() held.
  void RecordReportLocked(const std::string& host_id, absl::Time now);
  // The host's desired-state version (0 for an unknown host). Requires mu() held.
  uint64_t GenerationLocked(const std::string& host_id) const;

 private:
  // Moves the events older records embedded (StackRecord.events) into Table::kStackEvents.
  absl::Status MoveEmbeddedStackEvents();
  // Applies `changes` to the mirror and queues them for the store; returns the ticket.
  uint64_t StageLocked(const Changes& changes);
  // The same, moving the instance records into the mirror (see StagePipelinedLocked).
  uint64_t StageLocked(Changes&& changes, std::vector<const v1::InstanceRecord*>* staged);
  // Both: the records of `changes` go into the mirror by copy or by move.
  template <typename ChangesRef>
  uint64_t StageImpl(ChangesRef&& changes, std::vector<const v1::InstanceRecord*>* staged);
  // Waits for `ticket`; a failure is fatal.
  void WaitDurable(uint64_t ticket);
  // Bumps every host whose last staged ticket is durable now. Requires mu() held.
  void BumpDurableHostsLocked();

  Store& store_;
  GroupCommitter committer_;  // every write to store_ goes through it, in mu() order
  const ControllerConfig config_;
  std::mutex mu_;
  std::condition_variable desired_changed_;
  uint64_t generation_base_ = 0;
  // Hosts touched by CommitPipelined calls not finished yet: the last ticket staged for each.
  absl::flat_hash_map<std::string, uint64_t> host_staged_ticket_;
  // Every host staged with a ticket up to this one has had its bump (written under mu(), read
  // without it by CommitPipelined).
  std::atomic<uint64_t> generations_bumped_through_{0};
  RecordTable<v1::InstanceRecord> instances_;
  std::map<std::string, v1::ImageRecord> images_;
  std::map<std::string, v1::HostRecord> hosts_;
  // Hashed lookups into hosts_ and placement_groups_ (std::map nodes do not move).
  absl::flat_hash_map<std::string, const v1::HostRecord*> host_by_id_;
  absl::flat_hash_map<std::string, const v1::PlacementGroupRecord*> group_by_name_;
  // Hashed: every synced write of RunInstances bumps its hosts here (no order is needed).
  absl::node_hash_map<std::string, HostRuntime> host_runtime_;
  std::map<std::string, v1::ClientTokenRecord> client_tokens_;
  std::map<std::string, v1::KeyPairRecord> key_pairs_;
  std::map<std::string, v1::SubnetRecord> subnets_;
  std::map<std::string, v1::PlacementGroupRecord> placement_groups_;
  std::map<std::string, v1::InstanceProfileRecord> instance_profiles_;
  std::map<std::string, v1::VolumeRecord> volumes_;
  std::map<std::string, v1::SnapshotRecord> snapshots_;
  std::map<std::string, v1::StackRecord> stacks_;
  StateIndex index_;  // after config_ (it keeps a reference)
};

}  // namespace minicloud::controller
