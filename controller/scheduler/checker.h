#pragma once

// An INDEPENDENT checker of the placement rules over a whole cluster state.
//
// Written apart from the scheduler (planner.cc) and on purpose simple: plain maps over all
// instances, no indexes, no shared helpers, its own copy of the limits. It judges outcomes, not
// decisions: given every host and every instance (with its group, partition and state) it lists
// every broken rule. Tests and the placement bench run it after each step; an empty list is the
// only acceptable answer.

#include <cstdint>
#include <string>
#include <vector>

#include "controller/scheduler/scheduler.h"

namespace minicloud::scheduler {

enum class InstanceState { kPending, kRunning, kStopping, kShuttingDown, kStopped, kTerminated };

// An instance as the controller records it.
struct CheckedInstance {
  std::string instance_id;
  std::string host_id;     // where it runs (or last ran)
  std::string group_name;  // "" = no placement group
  int partition_number = 0;
  InstanceState state = InstanceState::kRunning;
  int vcpus = 0;
  int64_t memory_mib = 0;
  int64_t instance_store_gb = 0;
};

struct ClusterState {
  // Host topology and capacity: allocatable_*, instance_store_gb, availability_zone, rack.
  // used_* is compared with the instances only with CheckOptions::check_recorded_usage.
  std::vector<HostSnapshot> hosts;
  // Group definitions. Their `members` are ignored: membership comes from `instances`.
  std::vector<PlacementGroup> groups;
  std::vector<CheckedInstance> instances;
};

struct CheckOptions {
  // Also require each host's used_* to equal the sum over the instances occupying it.
  bool check_recorded_usage = false;
};

struct Violation {
  std::string rule;    // e.g. "spread-per-az", "capacity-vcpu", "partition-shares-rack"
  std::string detail;  // names the host / group / instances involved
};

// Rules: an instance occupies its host when pending, running, stopping or shutting-down.
//  * capacity: per host, occupying instances' vCPU, memory and instance store <= allocatable;
//  * references: occupying instances sit on known hosts; group names exist; ids are unique;
//  * spread: <= 7 occupying members per AZ per group, on distinct racks (level rack) or distinct
//    hosts (level host);
//  * partition: partition_count in 1..7; member partition numbers in 1..count; a rack holds
//    occupying members of one partition only; <= 7 partitions in use per AZ;
//  * cluster: occupying members all in one AZ, and it is the group's locked_az when set;
//  * partition numbers only on members of partition groups.
// A rack is identified by (availability zone, rack label).
std::vector<Violation> CheckPlacement(const ClusterState& state, const CheckOptions& options = {});

// One violation per line, "rule: detail".
std::string FormatViolations(const std::vector<Violation>& violations);

}  // namespace minicloud::scheduler
