#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "controller/scheduler/scheduler.h"

namespace minicloud::scheduler {
namespace {

struct Candidate {
  const HostSnapshot* host;
  int free_vcpus;
  int64_t free_memory_mib;
  uint64_t tie;
};

// FNV-1a over request id and host id: a tie-breaker that is stable across processes, so a
// recorded decision can be replayed.
uint64_t StableTieBreak(const std::string& request_id, const std::string& host_id) {
  uint64_t h = 1469598103934665603ull;
  for (const std::string* s : {&request_id, &host_id}) {
    for (unsigned char c : *s) h = (h ^ c) * 1099511628211ull;
    h = (h ^ 0xff) * 1099511628211ull;
  }
  return h;
}

// Returns the reason a host cannot take one more instance, or "" when it can.
std::string RejectReason(const PlacementRequest& r, const HostSnapshot& h, int free_vcpus,
                         int64_t free_mem) {
  if (!h.up) return "host is unreachable";
  if (!r.availability_zone.empty() && h.availability_zone != r.availability_zone) {
    return absl::StrCat("in ", h.availability_zone, ", not ", r.availability_zone);
  }
  if (free_vcpus < r.vcpus) return absl::StrCat("needs ", r.vcpus, " vCPU, ", free_vcpus, " free");
  if (free_mem < r.memory_mib) {
    return absl::StrCat("needs ", r.memory_mib, " MiB, ", free_mem, " MiB free");
  }
  return "";
}

}  // namespace

absl::StatusOr<PlacementResult> SpreadScheduler::Place(
    const PlacementRequest& request, const std::vector<HostSnapshot>& hosts) const {
  if (request.min_count < 1 || request.max_count < request.min_count) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad counts: min ", request.min_count, ", max ", request.max_count));
  }
  std::vector<Candidate> candidates;
  candidates.reserve(hosts.size());
  for (const auto& h : hosts) {
    candidates.push_back({&h, h.allocatable_vcpus - h.used_vcpus,
                          h.allocatable_memory_mib - h.used_memory_mib,
                          StableTieBreak(request.request_id, h.host_id)});
  }

  PlacementResult result;
  for (int slot = 0; slot < request.max_count; ++slot) {
    Candidate* best = nullptr;
    for (auto& c : candidates) {
      std::string reason = RejectReason(request, *c.host, c.free_vcpus, c.free_memory_mib);
      if (!reason.empty()) {
        if (slot < request.min_count) result.rejections.push_back({c.host->host_id, reason});
        continue;
      }
      if (best == nullptr || c.free_memory_mib > best->free_memory_mib ||
          (c.free_memory_mib == best->free_memory_mib && c.tie < best->tie)) {
        best = &c;
      }
    }
    if (best == nullptr) break;
    best->free_vcpus -= request.vcpus;
    best->free_memory_mib -= request.memory_mib;
    result.host_ids.push_back(best->host->host_id);
  }

  if (static_cast<int>(result.host_ids.size()) < request.min_count) {
    std::vector<std::string> reasons;
    for (const auto& r : result.rejections) reasons.push_back(r.host_id + ": " + r.reason);
    if (hosts.empty()) reasons.push_back("no hosts are registered");
    return absl::ResourceExhaustedError(absl::StrCat(
        "placed ", result.host_ids.size(), " of the minimum ", request.min_count,
        " instances (", absl::StrJoin(reasons, "; "), ")"));
  }
  return result;
}

}  // namespace minicloud::scheduler
