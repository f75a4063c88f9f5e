#include "common/ids.h"

#include <cctype>

#include "absl/strings/string_view.h"

namespace minicloud {

std::string IdGenerator::Next(absl::string_view prefix) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(prefix);
  id.push_back('-');
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t a = rng_();
  uint64_t b = rng_();
  for (int i = 0; i < 16; ++i) id.push_back(kHex[(a >> (4 * i)) & 0xF]);
  id.push_back(kHex[b & 0xF]);
  return id;
}

bool IsValidId(absl::string_view id, absl::string_view prefix) {
  if (id.size() <= prefix.size() + 1 || id.substr(0, prefix.size()) != prefix ||
      id[prefix.size()] != '-') {
    return false;
  }
  absl::string_view hex = id.substr(prefix.size() + 1);
  if (hex.size() != 8 && hex.size() != 17) return false;
  for (char c : hex) {
    if (!std::isxdigit(static_cast<unsigned char>(c)) ||
        std::isupper(static_cast<unsigned char>(c)))
      return false;
  }
  return true;
}

uint64_t SeedFromEntropy() {
  std::random_device rd;
  return (static_cast<uint64_t>(rd()) << 32) ^ rd();
}

}  // namespace minicloud
