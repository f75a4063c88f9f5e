#pragma once

// The filters: one small function per rule a host must pass, each reporting its named reason
// (RejectCode). A decision runs them in this order and stops at the first that fails:
//
//   host up -> region -> availability zone -> vCPU -> memory -> instance store -> group rules
//
// The AZ filter is applied where the decision picks its candidate AZs (a plan only looks at the
// hosts of its AZ); the group rules are supplied by the strategy objects (strategy_*.h). The
// functions are inline: they run for every host a decision evaluates. Their reason texts are
// built only when asked (RejectionText), never in the hot path.

#include <cstdint>
#include <string>

#include "controller/scheduler/fleet.h"
#include "controller/scheduler/scheduler.h"

namespace minicloud::scheduler {

// What a filter found. ok() = the host passes it.
struct FilterResult {
  RejectCode code = RejectCode::kNone;
  int64_t need = 0;  // capacity filters: what the request needs; partition: the target partition
  int64_t have = 0;  // capacity filters: what is free; spread-az-full: active members in the AZ
  int other = 0;     // partition-rack-taken: the partition owning the rack (0 = several)
  bool ok() const { return code == RejectCode::kNone; }
};

// host-down: the host has not reported within the liveness window.
inline FilterResult HostUpFilter(const Fleet::Host& h) {
  return h.up ? FilterResult{} : FilterResult{RejectCode::kHostDown};
}

// region: a request naming a region only takes hosts of that region.
inline FilterResult RegionFilter(const Fleet::Host& h, const std::string& region) {
  return region.empty() || h.region == region ? FilterResult{} : FilterResult{RejectCode::kRegion};
}

// availability-zone / cluster-az: the request's target AZ (requested, the restarting instance's,
// or the cluster group's lock) as an AZ index; kAnyAz = any, kUnknownAz = an AZ without hosts.
inline constexpr int kAnyAz = -1;
inline constexpr int kUnknownAz = -2;
inline FilterResult AvailabilityZoneFilter(const Fleet::Host& h, int target_az,
                                           bool target_is_lock) {
  if (target_az == kAnyAz || h.az == target_az) return {};
  return {target_is_lock ? RejectCode::kClusterAz : RejectCode::kAvailabilityZone};
}

// vcpu / memory / instance-store: free capacity after the `on_host` instances this request
// already has on the host must hold one more.
inline FilterResult VcpuFilter(const Fleet::Host& h, int on_host, int64_t vcpus) {
  const int64_t free = h.alloc_vcpus - h.used_vcpus - int64_t{on_host} * vcpus;
  return free < vcpus ? FilterResult{RejectCode::kVcpu, vcpus, free} : FilterResult{};
}
inline FilterResult MemoryFilter(const Fleet::Host& h, int on_host, int64_t memory_mib) {
  const int64_t free = h.alloc_memory - h.used_memory - on_host * memory_mib;
  return free < memory_mib ? FilterResult{RejectCode::kMemory, memory_mib, free} : FilterResult{};
}
inline FilterResult InstanceStoreFilter(const Fleet::Host& h, int on_host, int64_t store_gb) {
  const int64_t free = h.alloc_disk - h.used_disk - on_host * store_gb;
  return free < store_gb ? FilterResult{RejectCode::kInstanceStore, store_gb, free}
                         : FilterResult{};
}

// The host filters in order (every filter but the AZ and the group rules).
inline FilterResult HostFilters(const Fleet::Host& h, int on_host, const PlacementRequest& r) {
  if (FilterResult f = HostUpFilter(h); !f.ok()) return f;
  if (FilterResult f = RegionFilter(h, r.region); !f.ok()) return f;
  if (FilterResult f = VcpuFilter(h, on_host, r.vcpus); !f.ok()) return f;
  if (FilterResult f = MemoryFilter(h, on_host, r.memory_mib); !f.ok()) return f;
  return InstanceStoreFilter(h, on_host, r.instance_store_gb);
}

// --- group rules (used by the strategy objects) ------------------------------------------------

// spread-az-full: at most 7 active members of a spread group per AZ (active + planned so far).
inline FilterResult SpreadAzFullFilter(int active_in_az) {
  return active_in_az >= kMaxSpreadInstancesPerAz
             ? FilterResult{RejectCode::kSpreadAzFull, 1, active_in_az}
             : FilterResult{};
}

// spread-rack-taken: (rack level) the rack already holds an active member or a planned instance.
inline FilterResult SpreadRackFilter(int group_on_rack) {
  return group_on_rack > 0 ? FilterResult{RejectCode::kSpreadRackTaken} : FilterResult{};
}

// spread-host-taken: (host level) the host already holds an active member or a planned instance.
inline FilterResult SpreadHostFilter(int group_on_host) {
  return group_on_host > 0 ? FilterResult{RejectCode::kSpreadHostTaken} : FilterResult{};
}

// The partition owning a rack from the bit mask of the partitions on it (bit p = partition p):
// the single partition, 0 when the rack is free, -1 when it holds several (or an out-of-range
// number, bit 0).
inline int RackOwner(int mask) {
  if (mask == 0) return 0;
  for (int p = 1; p <= kMaxPartitions; ++p) {
    if (mask == (1 << p)) return p;
  }
  return -1;
}

// partition-rack-taken: a rack holding members of partition p only takes partition p; a rack
// holding several partitions takes none. `owner` from RackOwner; target 0 = any partition.
inline FilterResult PartitionRackFilter(int owner, int partition_count, int target_partition) {
  if (owner == 0) return {};
  if (owner < 0 || owner > partition_count || (target_partition > 0 && owner != target_partition)) {
    return {RejectCode::kPartitionRackTaken, target_partition, 0, owner < 0 ? 0 : owner};
  }
  return {};
}

// --- reason texts ---------------------------------------------------------------------------

// What the text of a rejection refers to.
struct RejectionSubject {
  const std::string* region = nullptr;             // the host's region
  const std::string* availability_zone = nullptr;  // the host's AZ
  const std::string* rack = nullptr;               // the host's rack
  const std::string* requested_region = nullptr;
  const std::string* target_az = nullptr;  // the AZ the request is bound to
  std::string group;                       // "'name'" or ""
};

// The human-readable reason ("needs 2 vCPU, 1 free", "rack r1 already holds ..."); "" for kNone.
std::string RejectionText(const FilterResult& f, const RejectionSubject& s);

}  // namespace minicloud::scheduler
