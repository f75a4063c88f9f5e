#pragma once

// What the template check (template_check.cc) and the evaluator (intrinsics.cc) share about
// intrinsic functions: their names, which minicloud evaluates, how an object is recognised as a
// call, and how Fn::Sub's string splits into literal text and ${Variables}.

#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "controller/cloudformation/template.h"

namespace minicloud::cloudformation {

// True for "Ref" and every "Fn::…" key: an object with such a key is a function call.
bool IsFunctionKey(absl::string_view key);

// The call's function name when `value` is a one-key object whose key IsFunctionKey, else "".
std::string FunctionName(const Json& value);

// Fn::Sub's string: literal text and variables. "${!Literal}" is the literal "${Literal}".
struct SubPart {
  bool variable = false;
  std::string text;  // the literal text, or the variable's name ("Param", "Res.Attr")
};
absl::StatusOr<std::vector<SubPart>> SplitSub(absl::string_view text);

// Where a value stands, which decides the functions it may use.
enum class Scope {
  kCondition,  // the Conditions section: condition functions, Ref to parameters
  kResource,   // Properties, Metadata, CreationPolicy of a resource
  kOutput,     // an output's Value
};

// Checks every function call inside `value`: known and supported, operands of the right
// shape, Ref / Fn::GetAtt / Fn::Sub targets declared, conditions and mappings declared.
// Adds each resource the value refers to (Ref, Fn::GetAtt, Fn::Sub) to `resource_refs`.
// `t` must already hold the parameters, mappings, condition names and resources.
absl::Status CheckValue(const Json& value, const std::string& path, Scope scope,
                        const TemplateDocument& doc, const Template& t,
                        std::set<std::string>* resource_refs);

// The Resources section after every resource was declared (type known): properties against
// resource_types.h, resource attributes, function calls, then Outputs and the dependency graph
// (template_resources.cc). Fills the rest of `t`.
absl::Status CheckResources(const TemplateDocument& doc, Template* t);

}  // namespace minicloud::cloudformation
