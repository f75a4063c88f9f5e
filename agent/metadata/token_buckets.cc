#include "agent/metadata/token_buckets.h"

#include <algorithm>
#include <iterator>

namespace minicloud::metadata {

bool TokenBuckets::Take(const std::string& key, absl::Time now) {
  if (buckets_.size() > 4096) {
    // Forget buckets that have refilled completely: they hold no information.
    for (auto it = buckets_.begin(); it != buckets_.end();) {
      const double refill = absl::ToDoubleSeconds(now - it->second.last) * rate_;
      it = (it->second.tokens + refill >= burst_) ? buckets_.erase(it) : std::next(it);
    }
  }
  auto [it, inserted] = buckets_.try_emplace(key);
  Bucket& b = it->second;
  if (inserted) {
    b.tokens = burst_;
    b.last = now;
  }
  if (now > b.last) {
    b.tokens = std::min(burst_, b.tokens + absl::ToDoubleSeconds(now - b.last) * rate_);
    b.last = now;
  }
  if (b.tokens >= 1.0) {
    b.tokens -= 1.0;
    return true;
  }
  return false;
}

}  // namespace minicloud::metadata
