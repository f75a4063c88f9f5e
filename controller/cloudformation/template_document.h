#pragma once

// A template body as a tree: YAML (with CloudFormation's short-form tags, each rewritten to its
// long form: `!Sub x` -> {"Fn::Sub": x}, `!GetAtt A.B` -> {"Fn::GetAtt": ["A", "B"]}) or JSON,
// into one JSON value whose objects keep the order of the document. PURE: no I/O.
//
// Limits (one place): the body is at most kMaxTemplateBodyBytes (CloudFormation's TemplateBody
// quota), nesting at most kMaxTemplateDepth levels, at most kMaxTemplateNodes values after YAML
// aliases are expanded (so an alias bomb is an error, not a gigabyte). Duplicate keys, non-scalar
// keys and unknown tags are errors naming the path and line.

#include <cstddef>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"

namespace minicloud::cloudformation {

using Json = nlohmann::ordered_json;

inline constexpr std::size_t kMaxTemplateBodyBytes = 51200;
inline constexpr int kMaxTemplateDepth = 64;
inline constexpr std::size_t kMaxTemplateNodes = 100000;

struct TemplateDocument {
  Json root;
  // Path of a value ("Resources.Web.Properties.Tags[0]") -> its 1-based line (YAML only).
  absl::flat_hash_map<std::string, int> lines;

  // " (line N)" when the path's line is known, "" otherwise.
  std::string LineOf(absl::string_view path) const;
};

// The path of a child: Child("Resources", "Web") = "Resources.Web"; Index("A", 2) = "A[2]".
std::string ChildPath(absl::string_view parent, absl::string_view key);
std::string IndexPath(absl::string_view parent, std::size_t index);

// Parses a template body: JSON when its first non-blank character is '{', YAML otherwise.
// Errors are ValidationErrors ("Template format error: …").
absl::StatusOr<TemplateDocument> ParseTemplateBody(absl::string_view body);

}  // namespace minicloud::cloudformation
