#pragma once

// Request ids as AWS services write them (RequestId, x-amzn-RequestId): a version-4 UUID made
// from two random words the caller draws from its own (injected) generator.

#include <cstdint>
#include <string>

#include "absl/strings/str_format.h"

namespace minicloud {

inline std::string RequestIdFromRandom(uint64_t a, uint64_t b) {
  a = (a & ~0xF000ull) | 0x4000ull;                  // version 4
  b = (b & ~(0xC000ull << 48)) | (0x8000ull << 48);  // RFC 4122 variant
  return absl::StrFormat("%08x-%04x-%04x-%04x-%012x", a >> 32, (a >> 16) & 0xFFFF, a & 0xFFFF,
                         b >> 48, b & 0xFFFFFFFFFFFFull);
}

}  // namespace minicloud
