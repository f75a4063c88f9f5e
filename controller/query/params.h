#pragma once

// The EC2 Query protocol's parameters as a tree, shared by every action.
//
// EC2 flattens structures and 1-based lists into dotted names: `InstanceId.1`, `Filter.1.Name`,
// `Filter.1.Value.2`, `TagSpecification.1.Tag.1.Key`, `Placement.GroupName`. Parse() splits each
// name at its dots into a path of a tree; actions read the nodes they know (each read marks the
// node used), and UnusedParameter() names the first parameter no action read, which the
// dispatcher answers with EC2's `UnknownParameter` before the action runs.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace minicloud::query {

class ParamNode {
 public:
  // Child `name`'s value when it is a leaf with a value; marks it used. nullopt when absent.
  std::optional<std::string> String(absl::string_view name);
  // The same, as an integer in [min, max]: InvalidParameterValue when it is not one.
  absl::StatusOr<std::optional<int64_t>> Int(absl::string_view name, int64_t min, int64_t max);
  // "true" / "false" (any case), as EC2 accepts them: InvalidParameterValue otherwise.
  absl::StatusOr<std::optional<bool>> Bool(absl::string_view name);
  // Child `name` as a structure (`Placement.GroupName` → Struct("Placement")->String(...)),
  // nullptr when no parameter starts with `name.`.
  ParamNode* Struct(absl::string_view name);
  // The members of list `name` (`name.1`, `name.2`, …) in index order. Indices are positive
  // decimal numbers; a member with any other index is left unused (so: UnknownParameter).
  std::vector<ParamNode*> List(absl::string_view name);
  // A list of plain strings (`InstanceId.1=…&InstanceId.2=…`).
  std::vector<std::string> StringList(absl::string_view name);

  bool has_value() const { return has_value_; }
  const std::string& value() const { return value_; }
  void MarkUsed() { used_ = true; }

 private:
  friend class Params;
  ParamNode* Find(absl::string_view name);
  // This node or the first descendant (in name order) with a value nobody read.
  const ParamNode* FirstUnused() const;

  std::string path_;  // the dotted name, for messages
  bool has_value_ = false;
  bool used_ = false;
  std::string value_;
  std::map<std::string, ParamNode, std::less<>> children_;
};

class Params {
 public:
  // Builds the tree from decoded (name, value) pairs. A name given twice, or an empty segment
  // (`Filter..Name`, a trailing dot) is InvalidParameterValue.
  static absl::StatusOr<Params> Parse(const std::vector<std::pair<std::string, std::string>>& kv);

  ParamNode& root() { return root_; }
  // The dotted name of the first parameter (in name order) that carries a value nobody read,
  // or nullopt when every parameter was used.
  std::optional<std::string> UnusedParameter() const;

 private:
  ParamNode root_;
};

// Decodes an application/x-www-form-urlencoded string (also a URL's query string): pairs split at
// '&', name and value at the first '=', '+' is a space, %XX a byte. A bad %-escape is EC2's
// `MalformedQueryString`.
absl::StatusOr<std::vector<std::pair<std::string, std::string>>> DecodeForm(absl::string_view s);

}  // namespace minicloud::query
