#pragma once

#include <cstdint>
#include <mutex>
#include <random>
#include <string>
#include <string_view>

#include "absl/strings/string_view.h"

namespace minicloud {

// EC2-style resource ids: a prefix, a dash and 17 lowercase hex digits ("i-0123456789abcdef0").
// The generator is seeded by its owner, so tests get reproducible ids.
class IdGenerator {
 public:
  explicit IdGenerator(uint64_t seed) : rng_(seed) {}

  // Returns e.g. Next("i") == "i-0f3a...". Thread-safe.
  std::string Next(absl::string_view prefix);

 private:
  std::mutex mu_;
  std::mt19937_64 rng_;
};

// True for "<prefix>-" followed by 8 or 17 lowercase hex digits (EC2 accepts both lengths).
bool IsValidId(absl::string_view id, absl::string_view prefix);

// A seed from the operating system's entropy source, for production wiring only.
uint64_t SeedFromEntropy();

}  // namespace minicloud
