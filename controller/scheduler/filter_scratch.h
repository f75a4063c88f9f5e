#pragma once

// The planner's reused per-host filter-result arrays (planner.cc); internal to the scheduler.

#include <cstddef>
#include <utility>
#include <vector>

#include "controller/scheduler/filters.h"

namespace minicloud::scheduler {

// Reused per-host filter-result arrays (AzPlan::last), one set per thread. A decision plans up to
// one AZ per AZ of the fleet and each plan needs a FilterResult per host of its AZ (about 3,300
// hosts x 32 bytes at 10,000 hosts in 3 AZs); allocating and zeroing them for every decision was
// ~6% of a decision's CPU, and the frees of blocks that size made malloc consolidate its free
// lists. No clearing is needed: an entry is read only after the slot that read it evaluated that
// host (the index walk reads the entry it just wrote; rejections and explanations read a plan's
// last slot, which evaluated every host of the AZ: a failing slot, the last slot when rejections
// are wanted, and every slot of an explanation or a reference scan scan the whole AZ).
class FilterScratch {
 public:
  static std::vector<FilterResult> Take(size_t n) {
    std::vector<std::vector<FilterResult>>& pool = Pool();
    std::vector<FilterResult> v;
    if (!pool.empty()) {
      v = std::move(pool.back());
      pool.pop_back();
    }
    if (v.size() < n) v.resize(n);  // grows (value-initialised) only the first times
    // Shrinking keeps the capacity: the next, larger AZ reuses it without initialising.
    v.erase(v.begin() + static_cast<std::ptrdiff_t>(n), v.end());
    return v;
  }
  static void Give(std::vector<FilterResult>&& v) {
    if (v.capacity() == 0) return;
    std::vector<std::vector<FilterResult>>& pool = Pool();
    if (pool.size() < kMaxPooled) pool.push_back(std::move(v));
  }

 private:
  static constexpr size_t kMaxPooled = 16;
  static std::vector<std::vector<FilterResult>>& Pool() {
    thread_local std::vector<std::vector<FilterResult>> pool;
    return pool;
  }
};

}  // namespace minicloud::scheduler
