// libFuzzer target for the Query API's parameter parsing (controller/query/params.*): any bytes as
// a form body or query string -> DecodeForm -> Params::Parse -> the reads actions make. Checked
// on every input, besides "no crash, no sanitizer report":
//  * DecodeForm fails only with MalformedQueryString, and only when the input has a '%' not
//    followed by two hex digits; otherwise it yields one pair per non-empty '&'-separated piece,
//    and re-encoding the pairs (every byte as %XX) decodes to the same pairs.
//  * Params::Parse fails exactly when a name is given twice or has an empty dotted segment, and
//    then with InvalidParameterValue.
//  * On a parsed tree, before any read UnusedParameter() names one of the given names (when
//    there is one); reading every name along its dotted path gives back its value, and then
//    UnusedParameter() is nullopt.
//  * Int/Bool/List/StringList never crash and agree with the value: Bool is OK exactly for
//    "true"/"false" in any case, List never returns more members than the node has children.
// Bugs each property catches (one line each): an off-by-one in the %XX bounds check reading past
// the end; '+' not decoded to a space; a duplicate name silently overwriting the first value; a
// read that forgets to mark the node used (UnknownParameter on a parameter that was used).

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "common/ec2_error.h"
#include "controller/query/params.h"

using minicloud::query::DecodeForm;
using minicloud::query::ParamNode;
using minicloud::query::Params;

namespace {

void Require(bool ok) {
  if (!ok) std::abort();
}

bool IsHex(char c) { return absl::ascii_isxdigit(static_cast<unsigned char>(c)); }

// True when every '%' is followed by two hex digits.
bool EscapesWellFormed(absl::string_view s) {
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') continue;
    if (i + 2 >= s.size() || !IsHex(s[i + 1]) || !IsHex(s[i + 2])) return false;
    i += 2;
  }
  return true;
}

std::string EscapeAll(absl::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    out.push_back('%');
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

// What Params::Parse must decide for `kv`: OK unless a name repeats or has an empty segment.
bool ShouldParse(const std::vector<std::pair<std::string, std::string>>& kv) {
  std::set<std::string> seen;
  for (const auto& [name, value] : kv) {
    for (absl::string_view part : absl::StrSplit(name, '.')) {
      if (part.empty()) return false;
    }
    if (!seen.insert(name).second) return false;
  }
  return true;
}

// Exercises the typed reads on every child of `node` (depth-limited), the way actions do.
void ReadTyped(ParamNode& node, const std::vector<std::string>& names, int depth) {
  if (depth > 2) return;
  for (const std::string& name : names) {
    auto i = node.Int(name, -1000, 1000);
    if (!i.ok()) Require(minicloud::Ec2CodeOf(i.status()) == "InvalidParameterValue");
    if (i.ok() && i->has_value()) Require(**i >= -1000 && **i <= 1000);
    auto b = node.Bool(name);
    if (!b.ok()) Require(minicloud::Ec2CodeOf(b.status()) == "InvalidParameterValue");
    std::optional<std::string> s = node.String(name);
    if (s.has_value() && b.ok()) {
      Require(b->has_value() ==
              (absl::EqualsIgnoreCase(*s, "true") || absl::EqualsIgnoreCase(*s, "false")));
    }
    std::vector<ParamNode*> members = node.List(name);
    node.StringList(name);
    for (ParamNode* m : members) ReadTyped(*m, names, depth + 1);
    if (ParamNode* child = node.Struct(name)) ReadTyped(*child, names, depth + 1);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view input(reinterpret_cast<const char*>(data), size);
  auto kv = DecodeForm(input);
  if (!kv.ok()) {
    Require(minicloud::Ec2CodeOf(kv.status()) == "MalformedQueryString");
    Require(!EscapesWellFormed(input));
    return 0;
  }
  Require(EscapesWellFormed(input));
  size_t pieces = 0;
  for (absl::string_view piece : absl::StrSplit(input, '&', absl::SkipEmpty())) {
    (void)piece;
    ++pieces;
  }
  Require(kv->size() == pieces);

  // Round trip through a full escape.
  std::string reencoded;
  for (const auto& [name, value] : *kv) {
    if (!reencoded.empty()) reencoded.push_back('&');
    reencoded += EscapeAll(name) + "=" + EscapeAll(value);
  }
  auto again = DecodeForm(reencoded);
  Require(again.ok());
  // A pair with an empty name and value re-encodes as "=", which is a piece of its own: equal.
  Require(*again == *kv);

  auto params = Params::Parse(*kv);
  Require(params.ok() == ShouldParse(*kv));
  if (!params.ok()) {
    Require(minicloud::Ec2CodeOf(params.status()) == "InvalidParameterValue");
    return 0;
  }

  // Before any read: the first unused parameter is one of the names given.
  std::set<std::string> names;
  for (const auto& [name, value] : *kv) names.insert(name);
  const std::optional<std::string> unused = params->UnusedParameter();
  Require(unused.has_value() == !kv->empty());
  if (unused) Require(names.count(*unused) == 1);

  // Typed reads on a second tree (they mark nodes used; the first stays untouched).
  {
    auto typed = Params::Parse(*kv);
    Require(typed.ok());
    std::vector<std::string> segments;
    for (const std::string& name : names) {
      for (absl::string_view part : absl::StrSplit(name, '.')) segments.emplace_back(part);
      if (segments.size() > 16) break;
    }
    ReadTyped(typed->root(), segments, 0);
  }

  // Reading each name along its path gives its value back and leaves nothing unused.
  for (const auto& [name, value] : *kv) {
    std::vector<absl::string_view> path = absl::StrSplit(name, '.');
    ParamNode* node = &params->root();
    for (size_t i = 0; i + 1 < path.size(); ++i) {
      node = node->Struct(path[i]);
      Require(node != nullptr);
    }
    std::optional<std::string> got = node->String(path.back());
    Require(got.has_value() && *got == value);
  }
  Require(!params->UnusedParameter().has_value());
  return 0;
}
