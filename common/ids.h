#pragma once

#include <cstdint>
#include <mutex>
#include <random>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace minicloud {

// EC2-style resource ids: a prefix, a dash and 17 lowercase hex digits ("i-0123456789abcdef0").
// The generator is seeded by its owner, so tests get reproducible ids.
class IdGenerator {
 public:
  explicit IdGenerator(uint64_t seed) : rng_(seed) {}

  // Returns e.g. Next("i") == "i-0f3a...". Thread-safe.
  std::string Next(absl::string_view prefix);
  // The 17 hex digits Next would put after the prefix (the same draws), written to `out`
  // without making a string. Thread-safe.
  void NextDigits(char (&out)[17]);

 private:
  std::mutex mu_;
  std::mt19937_64 rng_;
};

// True for "<prefix>-" followed by 8 or 17 lowercase hex digits (EC2 accepts both lengths).
bool IsValidId(absl::string_view id, absl::string_view prefix);

// The kinds of id that travel between the CLI, the controller and the agents. Each has one
// validator, applied where the id enters (an API request, an agent's report, the desired state
// an agent receives, a name read back from disk) before it is used for anything else, in
// particular before it names a file or directory.
enum class IdKind {
  kInstance,     // "i-" + 8 or 17 lowercase hex digits
  kImage,        // "ami-" + 8 or 17
  kHost,         // "h-" + 8 or 17
  kReservation,  // "r-" + 8 or 17
};

// "instance id", "image id", ...: how error messages name a kind.
absl::string_view IdKindName(IdKind kind);

// OK when `id` is a well-formed id of `kind`; otherwise InvalidArgument saying which kind was
// expected and showing the id escaped and shortened, so a hostile id cannot forge log lines.
absl::Status CheckId(IdKind kind, absl::string_view id);

// `text` made safe to quote in a message: C-escaped and cut to at most `max_chars`.
std::string QuoteForMessage(absl::string_view text, size_t max_chars = 80);

// A seed from the operating system's entropy source, for production wiring only.
uint64_t SeedFromEntropy();

}  // namespace minicloud
