#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace minicloud::scheduler {

// What the scheduler knows of one host: a read-only snapshot taken under the controller's lock.
struct HostSnapshot {
  std::string host_id;
  std::string region;
  std::string availability_zone;
  std::string rack;
  bool up = true;  // reported within the liveness window
  int allocatable_vcpus = 0;      // physical x overcommit ratio
  int64_t allocatable_memory_mib = 0;
  int used_vcpus = 0;
  int64_t used_memory_mib = 0;
};

struct PlacementRequest {
  std::string request_id;  // seeds tie-breaking, so a decision can be replayed
  int vcpus = 0;
  int64_t memory_mib = 0;
  int min_count = 1;
  int max_count = 1;
  std::string availability_zone;  // empty = any
};

// Why a host was not used; one entry per rejected host and instance slot.
struct Rejection {
  std::string host_id;
  std::string reason;  // e.g. "host is unreachable", "needs 2 vCPU, 1 free"
};

struct PlacementResult {
  std::vector<std::string> host_ids;  // one per placed instance, size in [min_count, max_count]
  std::vector<Rejection> rejections;
};

// Chooses hosts for a request. Implementations are pure: no I/O, no clock, no global RNG.
// When fewer than min_count instances fit, returns ResourceExhausted naming the reasons.
class Scheduler {
 public:
  virtual ~Scheduler() = default;
  virtual absl::StatusOr<PlacementResult> Place(const PlacementRequest& request,
                                                const std::vector<HostSnapshot>& hosts) const = 0;
};

// Capacity-aware default: each instance goes to the fitting host with the most free memory
// (spreading load, as EC2 spreads instances without a placement group); ties are broken by a
// hash of the request id and host id.
class SpreadScheduler final : public Scheduler {
 public:
  absl::StatusOr<PlacementResult> Place(const PlacementRequest& request,
                                        const std::vector<HostSnapshot>& hosts) const override;
};

}  // namespace minicloud::scheduler
