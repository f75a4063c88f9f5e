#include "controller/query/params.h"

#include <algorithm>
#include <cctype>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/ec2_error.h"
#include "common/ids.h"

namespace minicloud::query {
namespace {

absl::Status BadValue(const std::string& path, absl::string_view value, absl::string_view want) {
  return InvalidParameterValue(absl::StrCat("Value (", QuoteForMessage(value, 64),
                                            ") for parameter ", path, " is invalid. ", want));
}

// A list index: 1..999999999 in decimal without a sign or leading zeros.
std::optional<int64_t> ListIndex(absl::string_view s) {
  if (s.empty() || s.size() > 9 || s[0] == '0') return std::nullopt;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  int64_t v = 0;
  for (char c : s) v = v * 10 + (c - '0');
  return v;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

absl::StatusOr<std::string> Unescape(absl::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '+') {
      out.push_back(' ');
    } else if (c == '%') {
      const int h = i + 2 < s.size() ? HexValue(s[i + 1]) : -1;
      const int l = i + 2 < s.size() ? HexValue(s[i + 2]) : -1;
      if (h < 0 || l < 0) {
        return Ec2Error(absl::StatusCode::kInvalidArgument, "MalformedQueryString",
                        "The query string has a '%' that is not followed by two hex digits");
      }
      out.push_back(static_cast<char>(h * 16 + l));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace

ParamNode* ParamNode::Find(absl::string_view name) {
  auto it = children_.find(name);
  return it == children_.end() ? nullptr : &it->second;
}

std::optional<std::string> ParamNode::String(absl::string_view name) {
  ParamNode* n = Find(name);
  if (n == nullptr || !n->has_value_) return std::nullopt;
  n->used_ = true;
  return n->value_;
}

absl::StatusOr<std::optional<int64_t>> ParamNode::Int(absl::string_view name, int64_t min,
                                                      int64_t max) {
  ParamNode* n = Find(name);
  if (n == nullptr || !n->has_value_) return std::nullopt;
  n->used_ = true;
  int64_t v = 0;
  if (!absl::SimpleAtoi(n->value_, &v))
    return BadValue(n->path_, n->value_, "Expected an integer.");
  if (v < min || v > max) {
    return BadValue(n->path_, n->value_, absl::StrCat("Expected ", min, " to ", max, "."));
  }
  return v;
}

absl::StatusOr<std::optional<bool>> ParamNode::Bool(absl::string_view name) {
  ParamNode* n = Find(name);
  if (n == nullptr || !n->has_value_) return std::nullopt;
  n->used_ = true;
  if (absl::EqualsIgnoreCase(n->value_, "true")) return true;
  if (absl::EqualsIgnoreCase(n->value_, "false")) return false;
  return BadValue(n->path_, n->value_, "Expected true or false.");
}

ParamNode* ParamNode::Struct(absl::string_view name) {
  ParamNode* n = Find(name);
  return (n == nullptr || n->children_.empty()) ? nullptr : n;
}

std::vector<ParamNode*> ParamNode::List(absl::string_view name) {
  std::vector<std::pair<int64_t, ParamNode*>> members;
  if (ParamNode* n = Find(name)) {
    for (auto& [key, child] : n->children_) {
      if (auto index = ListIndex(key)) members.emplace_back(*index, &child);
    }
  }
  std::sort(members.begin(), members.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<ParamNode*> out;
  out.reserve(members.size());
  for (auto& [index, node] : members) out.push_back(node);
  return out;
}

std::vector<std::string> ParamNode::StringList(absl::string_view name) {
  std::vector<std::string> out;
  for (ParamNode* n : List(name)) {
    if (!n->has_value_) continue;  // a structure where a string belongs: left unused
    n->used_ = true;
    out.push_back(n->value_);
  }
  return out;
}

absl::StatusOr<Params> Params::Parse(const std::vector<std::pair<std::string, std::string>>& kv) {
  Params p;
  for (const auto& [name, value] : kv) {
    ParamNode* node = &p.root_;
    for (absl::string_view part : absl::StrSplit(name, '.')) {
      if (part.empty()) {
        return InvalidParameterValue(
            absl::StrCat("The parameter name ", QuoteForMessage(name, 128), " is malformed"));
      }
      auto [it, inserted] = node->children_.try_emplace(std::string(part));
      if (inserted) {
        it->second.path_ =
            node == &p.root_ ? std::string(part) : absl::StrCat(node->path_, ".", part);
      }
      node = &it->second;
    }
    if (node->has_value_) {
      return InvalidParameterValue(
          absl::StrCat("The parameter ", QuoteForMessage(name, 128), " is given more than once"));
    }
    node->has_value_ = true;
    node->value_ = value;
  }
  return p;
}

const ParamNode* ParamNode::FirstUnused() const {
  if (has_value_ && !used_) return this;
  for (const auto& [name, child] : children_) {
    if (const ParamNode* n = child.FirstUnused()) return n;
  }
  return nullptr;
}

std::optional<std::string> Params::UnusedParameter() const {
  if (const ParamNode* n = root_.FirstUnused()) return n->path_;
  return std::nullopt;
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>> DecodeForm(absl::string_view s) {
  std::vector<std::pair<std::string, std::string>> out;
  for (absl::string_view pair : absl::StrSplit(s, '&', absl::SkipEmpty())) {
    const size_t eq = pair.find('=');
    absl::string_view name = pair.substr(0, eq);
    absl::string_view value = eq == absl::string_view::npos ? "" : pair.substr(eq + 1);
    auto n = Unescape(name);
    if (!n.ok()) return n.status();
    auto v = Unescape(value);
    if (!v.ok()) return v.status();
    out.emplace_back(std::move(*n), std::move(*v));
  }
  return out;
}

}  // namespace minicloud::query
