#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/container/btree_set.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/node_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "controller/scheduler/fleet.h"
#include "controller/scheduler/scheduler.h"
#include "controller/service/network_plan.h"  // the controller's one door to addressing
#include "minicloud/v1/records.pb.h"

namespace minicloud::controller {

struct ControllerConfig;

// What RunInstances and its neighbours would otherwise compute by scanning every host and
// instance record, kept up to date record change by record change:
//
//   * per host: topology, allocatable capacity (AllocatableCapacity of its record), the capacity
//     its occupying instances use (HoldsCapacity), their count, its last report;
//   * a scheduler::Fleet over the registered hosts (hosts in id order, as a snapshot lists
//     them), with the same usage and, at the time a decision asks for it, the same up/down
//     state as HostUpLocked; rebuilt only when a host is added or its topology or capacity
//     changes, otherwise adjusted per change;
//   * per placement group, its members (instances not terminated), as SchedulerGroupLocked
//     lists them;
//   * per subnet, the private addresses of its instances that are not terminated, with the
//     lowest free one found in O(log n);
//   * per host, the ids of every instance record placed on it (any state).
//
// CloudState feeds it from the one place records change (staging, and Load), so every change
// path (run, stop/start, terminate, reported status, reconcile, purge) keeps it exact. The
// differential test (tests/unit/controller/state_index_test.cc) compares it with a rebuild from
// the records after random sequences of changes. Not thread-safe: guarded by the state lock.
class StateIndex {
 public:
  explicit StateIndex(const ControllerConfig& config);
  ~StateIndex();

  // Record changes: `before`/`after` are the record's old and new values, null when absent.
  void ApplyHost(const std::string& id, const v1::HostRecord* before, const v1::HostRecord* after);
  void ApplyInstance(const std::string& id, const v1::InstanceRecord* before,
                     const v1::InstanceRecord* after);
  // The host's last status report (registration counts as one).
  void SetLastReport(const std::string& host_id, absl::Time at);

  // The kept fleet, with each host up exactly when HostUpLocked(host, now) says so. The
  // reference stays valid until the next Apply*/SetLastReport/FleetAt call.
  scheduler::Fleet& FleetAt(absl::Time now);

  // Every registered host in id order, as SnapshotLocked built it from the records.
  std::vector<scheduler::HostSnapshot> Snapshot(absl::Time now) const;

  // Members of the group (instances not terminated) in instance id order; empty when none.
  const std::vector<scheduler::GroupMember>& GroupMembers(const std::string& group) const;

  // The scheduler's view of a group: `shape`'s name, strategy, spread level, partition count
  // and locked AZ (its members are ignored) with GroupMembers(shape.name). Shared, not copied:
  // the index keeps one per group and, when a member changes while a caller still holds the
  // view, copies it first (copy on write), so a view never changes under its holder. Holders
  // drop their views under the state lock (use_count is read under it).
  std::shared_ptr<const scheduler::PlacementGroup> SchedulerGroup(
      const scheduler::PlacementGroup& shape);

  // Lowest instance address of `plan` that no non-terminated instance of `subnet_id` holds, not
  // below `from` (a raw address value; 0 = from the plan's first instance address). O(log n).
  // ResourceExhausted when there is none.
  absl::StatusOr<network::Ipv4Address> FirstFreeAddress(const std::string& subnet_id,
                                                        const network::SubnetPlan& plan,
                                                        uint32_t from = 0) const;

  // Ids of the instance records on the host (any state), in id order. A B-tree: one allocation
  // per id instead of a tree node and the id (every staged instance inserts one).
  using InstanceIds = absl::btree_set<std::string>;
  const InstanceIds& InstancesOn(const std::string& host_id) const;
  // Instances occupying the host (HoldsCapacity).
  int OccupyingCount(const std::string& host_id) const;

 private:
  struct HostEntry {
    bool registered = false;  // a host record exists (usage is kept for unknown hosts too)
    std::string region, availability_zone, rack;
    int64_t alloc_vcpus = 0, alloc_memory = 0, alloc_disk = 0;
    int64_t used_vcpus = 0, used_memory = 0, used_disk = 0;
    int occupying = 0;
    absl::Time last_report = absl::InfinitePast();
    bool listed_up = false;  // which liveness set the host is in (registered hosts only)
  };
  // Used addresses of one subnet: counts per address, plus every free address right after a
  // used one (the ends of runs), so the lowest free address >= x is x itself or the first run
  // end >= x.
  struct SubnetAddresses {
    absl::btree_map<uint32_t, int> used;
    absl::btree_set<uint32_t> run_ends;
    void Add(uint32_t a);
    void Remove(uint32_t a);
    bool Used(uint32_t a) const { return used.contains(a); }
    uint64_t FirstFreeFrom(uint32_t a) const;
  };

  bool HostUp(const HostEntry& h, absl::Time now) const;
  void Occupy(const v1::InstanceRecord& r, int sign);
  void Unlist(const std::string& id, const HostEntry& h);
  void List(const std::string& id, HostEntry& h, bool up);
  scheduler::HostSnapshot SnapshotOf(const std::string& id, const HostEntry& h,
                                     absl::Time now) const;

  const ControllerConfig& config_;
  // Hashed, not ordered: every staged instance looks its host up (10,000 hosts: a string-keyed
  // tree walk was ~17 id comparisons). Snapshot sorts by id where the order matters. Node-based:
  // the references InstancesOn hands out stay valid across inserts.
  absl::node_hash_map<std::string, HostEntry> hosts_;
  std::unique_ptr<scheduler::Fleet> fleet_;  // null = rebuild at the next FleetAt
  // Registered hosts by last report, split by the up/down state the fleet has for them.
  std::set<std::pair<absl::Time, std::string>> up_by_report_, down_by_report_;
  // Per group name, the scheduler's view (members in instance id order); see SchedulerGroup.
  // Present only while the group has members.
  absl::flat_hash_map<std::string, std::shared_ptr<scheduler::PlacementGroup>> groups_;
  // The group's view to change members in: copied first when a caller holds it.
  scheduler::PlacementGroup& WritableGroup(const std::string& name);
  absl::flat_hash_map<std::string, SubnetAddresses> subnets_;
  absl::node_hash_map<std::string, InstanceIds> host_instances_;
};

}  // namespace minicloud::controller
