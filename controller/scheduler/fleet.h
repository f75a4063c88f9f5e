#pragma once

// Fleet: an indexed, incrementally updatable copy of the host snapshot that the scheduler's
// decisions (planner.cc) run on. SpreadScheduler::Place builds one per call; a caller that places
// often on many hosts (the controller, the placement bench) keeps one and applies each committed
// placement to it with Adjust(), so a decision never rebuilds the index.
//
// Cost of one decision: hosts are grouped by AZ and rack in flat arrays of numbers, and each AZ
// keeps its hosts ordered by free memory, then free vCPU (maintained by Adjust). Per instance
// slot a decision evaluates the hosts of the racks the request or its group already touches,
// then walks the AZ's hosts from the most free memory down and stops as soon as no later host
// can rank better; it scans the whole AZ only when that walk finds nothing (the slot fails; the
// scan names every host's reason), for the last slot when rejections are wanted, and for a
// cluster group with no room on its own racks. See README.md for measured numbers.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/btree_set.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "controller/scheduler/scheduler.h"

namespace minicloud::scheduler {

struct PlaceOptions {
  // Fill PlacementResult::rejections on success too (a pass over every host and one string per
  // rejected host). On failure they are always filled.
  bool rejections_on_success = true;
  // At most this many PlacementResult::rejections get a host entry with its reason text (the
  // hosts of the usable AZs first). The error message of a failure still counts every rejected
  // host by reason code. For large fleets (formatting 10,000 reasons costs milliseconds).
  size_t max_rejections = SIZE_MAX;
  // Tests only: evaluate every host of the AZ at every slot (the plain scan the indexed
  // decision must equal, field for field).
  bool reference_scan = false;
};

class Fleet {
 public:
  explicit Fleet(const std::vector<HostSnapshot>& hosts);

  absl::StatusOr<PlacementResult> Place(const PlacementRequest& request,
                                        const PlaceOptions& options = {}) const;
  PlacementExplanation Explain(const PlacementRequest& request) const;

  // Adds to a host's used capacity (negative values release). NotFound for an unknown host.
  absl::Status Adjust(const std::string& host_id, int vcpus, int64_t memory_mib,
                      int64_t instance_store_gb);
  absl::Status SetUp(const std::string& host_id, bool up);
  size_t size() const { return hosts_.size(); }

  // Internal representation (public for the planner, the filters and the strategy objects).
  struct Host {
    std::string id;
    std::string region;
    int az = -1;
    int rack = -1;
    bool up = true;
    int64_t alloc_vcpus = 0, alloc_memory = 0, alloc_disk = 0;
    int64_t used_vcpus = 0, used_memory = 0, used_disk = 0;
    uint64_t id_hash = 0;  // FNV-1a of the id
    int az_slot = 0;       // position in az_hosts_[az]
  };
  static std::string RackKey(const std::string& az, const std::string& rack);
  struct Rack {
    std::string name;
    int az = -1;
    std::vector<int> hosts;  // fleet indices
  };
  // Order of a host in its AZ's free-capacity index: most free memory first, then most free
  // vCPU, then fleet index.
  struct FreeKey {
    int64_t neg_free_memory = 0;
    int64_t neg_free_vcpus = 0;
    int host = -1;
    friend bool operator<(const FreeKey& a, const FreeKey& b) {
      if (a.neg_free_memory != b.neg_free_memory) return a.neg_free_memory < b.neg_free_memory;
      if (a.neg_free_vcpus != b.neg_free_vcpus) return a.neg_free_vcpus < b.neg_free_vcpus;
      return a.host < b.host;
    }
  };

 private:
  friend class Planner;
  FreeKey KeyOf(int index) const;
  std::vector<Host> hosts_;
  std::vector<std::string> azs_;
  std::vector<Rack> racks_;
  std::vector<std::vector<int>> az_hosts_;            // host indices per AZ
  std::vector<absl::btree_set<FreeKey>> az_by_free_;  // per AZ, see FreeKey
  std::vector<int> by_id_;                            // host indices sorted by host id
  absl::flat_hash_map<std::string, int> host_index_;
  absl::flat_hash_map<std::string, int> az_index_;
  absl::flat_hash_map<std::string, int> rack_index_;  // key: az + '\n' + rack
  // Members reported by hosts, per group name: (host index, member).
  absl::flat_hash_map<std::string, std::vector<std::pair<int, HostedGroupMember>>> hosted_;
};

// Stable hashes used for tie-breaking (FNV-1a, then a SplitMix64 finaliser to combine).
uint64_t Fnv1a64(const std::string& s);
uint64_t MixHash(uint64_t seed, uint64_t value);

}  // namespace minicloud::scheduler
