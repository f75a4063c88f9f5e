#pragma once

// The metadata server's request rate limit: a token bucket per key (an instance, or the source
// address of an unknown peer), `rate` tokens a second up to `burst`. Not thread-safe: the server
// calls it under its own lock.

#include <string>
#include <unordered_map>

#include "absl/time/time.h"

namespace minicloud::metadata {

class TokenBuckets {
 public:
  TokenBuckets(double rate, double burst) : rate_(rate), burst_(burst) {}

  // Takes a token from `key`'s bucket (a new bucket starts full); false when it is empty.
  // With more than 4096 buckets, the ones that have refilled completely are forgotten first.
  bool Take(const std::string& key, absl::Time now);

 private:
  struct Bucket {
    double tokens = 0;
    absl::Time last;
  };

  const double rate_;
  const double burst_;
  std::unordered_map<std::string, Bucket> buckets_;
};

}  // namespace minicloud::metadata
