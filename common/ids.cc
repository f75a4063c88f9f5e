#include "common/ids.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace minicloud {

void IdGenerator::NextDigits(char (&out)[17]) {
  static constexpr char kHex[] = "0123456789abcdef";
  uint64_t a, b;
  {
    std::lock_guard<std::mutex> lock(mu_);
    a = rng_();
    b = rng_();
  }
  for (int i = 0; i < 16; ++i) out[i] = kHex[(a >> (4 * i)) & 0xF];
  out[16] = kHex[b & 0xF];
}

std::string IdGenerator::Next(absl::string_view prefix) {
  char digits[17];
  NextDigits(digits);
  std::string id;
  id.reserve(prefix.size() + 1 + sizeof(digits));
  id.append(prefix.data(), prefix.size()).push_back('-');
  id.append(digits, sizeof(digits));
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
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

absl::string_view IdKindName(IdKind kind) {
  switch (kind) {
    case IdKind::kInstance:
      return "instance id";
    case IdKind::kImage:
      return "image id";
    case IdKind::kHost:
      return "host id";
    case IdKind::kReservation:
      return "reservation id";
  }
  return "id";
}

namespace {

absl::string_view PrefixOf(IdKind kind) {
  switch (kind) {
    case IdKind::kInstance:
      return "i";
    case IdKind::kImage:
      return "ami";
    case IdKind::kHost:
      return "h";
    case IdKind::kReservation:
      return "r";
  }
  return "";
}

}  // namespace

absl::Status CheckId(IdKind kind, absl::string_view id) {
  if (IsValidId(id, PrefixOf(kind))) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("malformed ", IdKindName(kind), " ",
                                                 QuoteForMessage(id), " (expecting \"",
                                                 PrefixOf(kind), "-\" and 8 or 17 hex digits)"));
}

std::string QuoteForMessage(absl::string_view text, size_t max_chars) {
  const bool cut = text.size() > max_chars;
  std::string out = absl::StrCat("\"", absl::CHexEscape(text.substr(0, max_chars)), "\"");
  if (cut) absl::StrAppend(&out, "... (", text.size(), " bytes)");
  return out;
}

uint64_t SeedFromEntropy() {
  std::random_device rd;
  return (static_cast<uint64_t>(rd()) << 32) ^ rd();
}

}  // namespace minicloud
