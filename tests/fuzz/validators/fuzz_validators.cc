// libFuzzer target for the validators applied where names from outside enter. Besides "no crash,
// no sanitizer report", each accepted input must have the properties the callers rely on:
//   - an id CheckId accepts is "<prefix>-" plus 8 or 17 lowercase hex digits, and PathUnder
//     turns it into exactly <root>/instances/<id>;
//   - a path PathUnder returns starts with the root, has no "." or ".." component, no empty
//     component and no NUL;
//   - a tag CheckTag accepts has 1..128 characters in its key and at most 256 in its value
//     (counted independently here), no "aws:" prefix, and for instance metadata only the
//     allowed characters and none of ".", ".." and "_index" as the whole key.
// Input: the first byte picks what the rest means.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "common/file/state_path.h"
#include "common/ids.h"
#include "common/tags.h"

namespace {

// A state directory that does not exist: nothing on disk to resolve, so results are lexical.
constexpr absl::string_view kRoot = "/nonexistent-minicloud-fuzz/state";

void Require(bool ok) {
  if (!ok) std::abort();
}

bool IsLowerHex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

// Characters counted without a decoder: every byte that is not a continuation byte. Equal to
// the number of code points for valid UTF-8.
size_t LeadBytes(absl::string_view s) {
  size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

void CheckPathProperties(const std::string& path) {
  Require(path.size() > kRoot.size() && absl::StartsWith(path, kRoot) && path[kRoot.size()] == '/');
  Require(path.find('\0') == std::string::npos);
  const std::string below = path.substr(kRoot.size() + 1);
  for (absl::string_view part : absl::StrSplit(below, '/')) {
    Require(!part.empty() && part != "." && part != "..");
  }
}

void FuzzId(absl::string_view id) {
  struct Kind {
    minicloud::IdKind kind;
    absl::string_view prefix;
  };
  const Kind kinds[] = {{minicloud::IdKind::kInstance, "i-"},
                        {minicloud::IdKind::kImage, "ami-"},
                        {minicloud::IdKind::kHost, "h-"},
                        {minicloud::IdKind::kReservation, "r-"}};
  for (const Kind& k : kinds) {
    if (!minicloud::CheckId(k.kind, id).ok()) continue;
    Require(absl::StartsWith(id, k.prefix));
    absl::string_view hex = id.substr(k.prefix.size());
    Require(hex.size() == 8 || hex.size() == 17);
    for (char c : hex) Require(IsLowerHex(c));
    auto path = minicloud::file::PathUnder(kRoot, {"instances", id});
    Require(path.ok() && *path == std::string(kRoot) + "/instances/" + std::string(id));
  }
  (void)minicloud::QuoteForMessage(id);
}

void FuzzPath(absl::string_view rest) {
  // Up to three components separated by NUL bytes ('/' inside a component is the test).
  std::vector<absl::string_view> parts = absl::StrSplit(rest, absl::MaxSplits('\0', 2));
  absl::StatusOr<std::string> path;
  if (parts.size() == 1) path = minicloud::file::PathUnder(kRoot, {parts[0]});
  if (parts.size() == 2) path = minicloud::file::PathUnder(kRoot, {parts[0], parts[1]});
  if (parts.size() == 3) path = minicloud::file::PathUnder(kRoot, {parts[0], parts[1], parts[2]});
  if (path.ok()) CheckPathProperties(*path);
}

void FuzzTag(absl::string_view rest) {
  // key NUL value
  const size_t nul = rest.find('\0');
  absl::string_view key = rest.substr(0, nul);
  absl::string_view value = nul == absl::string_view::npos ? "" : rest.substr(nul + 1);
  const bool api = minicloud::CheckTag(key, value, minicloud::TagUse::kApiOnly).ok();
  const bool metadata = minicloud::CheckTag(key, value, minicloud::TagUse::kInstanceMetadata).ok();
  Require(!metadata || api);  // the metadata rules only add restrictions
  if (api) {
    Require(minicloud::Utf8Length(key).ok() && minicloud::Utf8Length(value).ok());
    Require(LeadBytes(key) >= 1 && LeadBytes(key) <= 128);
    Require(LeadBytes(value) <= 256);
    Require(!absl::StartsWithIgnoreCase(key, "aws:"));
  }
  if (metadata) {
    Require(key != "." && key != ".." && key != "_index");
    for (char c : key) {
      Require(absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
              absl::string_view("+-=.,_:@").find(c) != absl::string_view::npos);
    }
  }
  if (auto n = minicloud::Utf8Length(key); n.ok()) Require(*n == LeadBytes(key));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const absl::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 3) {
    case 0:
      FuzzId(rest);
      break;
    case 1:
      FuzzPath(rest);
      break;
    default:
      FuzzTag(rest);
      break;
  }
  return 0;
}
