#pragma once

// What the planner and the strategy objects share while one AZ's plan is built: the decision's
// read-only context, the group's members resolved against the fleet, the plan's tentative state
// (instances planned so far per host and rack, the group's active members per rack and host),
// and the candidate host being evaluated.

#include <algorithm>
#include <cstdint>
#include <vector>

#include "controller/scheduler/fleet.h"
#include "controller/scheduler/scheduler.h"

namespace minicloud::scheduler {

// Read-only for the whole decision.
struct PlanContext {
  const Fleet::Host* hosts = nullptr;  // the fleet's hosts, by fleet index
  const Fleet::Rack* racks = nullptr;  // the fleet's racks, by rack index
  int rack_count = 0;
  const PlacementRequest* request = nullptr;
  const PlacementGroup* group = nullptr;  // null = no placement group
  uint64_t seed = 0;                      // FNV-1a of the request id
  int target_partition = 0;               // partition groups: 0 = spread evenly
  int preferred_host = -1;                // fleet index, -1 = none
  bool indexed = true;                    // false = the reference scan (every host, every slot)
};

// A member of the request's group, resolved against the fleet.
struct Member {
  int host = -1;  // fleet index, -1 if the host is not in the snapshot
  int az = -1;
  int rack = -1;
  int partition = 0;
  bool active = false;
};

// The tentative state of one AZ's plan.
struct AzState {
  int az = -1;
  int placed = 0;                // instances planned so far
  int remaining = 0;             // max_count - placed
  int active_in_az = 0;          // the group's active members in the AZ
  std::vector<int> instances;    // per az_slot: instances of this request planned on the host
  std::vector<int> req_on_rack;  // per rack index: instances of this request planned on the rack
  std::vector<int> grp_on_rack;  // per rack index: the group's active members (empty: no group)
  std::vector<int> grp_on_host;  // per az_slot: the group's active members (empty: no group)
};

// The host being evaluated at one instance slot.
struct Candidate {
  int host = -1;  // fleet index
  int slot = -1;  // az_slot
  const Fleet::Host* h = nullptr;
  int on_host = 0;                // instances of this request already planned on the host
  int owner = 0;                  // partition groups: RackOwner of the host's rack
  int64_t free_memory_after = 0;  // MiB free after one more instance
  int64_t free_vcpus_after = 0;
  bool preferred = false;  // the request's preferred host
};

// How many more instances of the request fit on h when `on_host` are planned there (capped at
// max_count).
inline int64_t FitsOn(const Fleet::Host& h, int on_host, const PlacementRequest& r) {
  int64_t fits = r.max_count;
  auto dim = [&](int64_t alloc, int64_t used, int64_t need) {
    if (need <= 0) return;
    const int64_t free = alloc - used - on_host * need;
    fits = std::min(fits, free <= 0 ? 0 : free / need);
  };
  dim(h.alloc_vcpus, h.used_vcpus, r.vcpus);
  dim(h.alloc_memory, h.used_memory, r.memory_mib);
  dim(h.alloc_disk, h.used_disk, r.instance_store_gb);
  return std::max<int64_t>(fits, 0);
}

}  // namespace minicloud::scheduler
