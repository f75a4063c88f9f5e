#pragma once

// A stack's parameter values: what the caller gave, checked against the template's declarations
// (type, AllowedValues, AllowedPattern, MinLength/MaxLength, MinValue/MaxValue), defaults filled
// in. PURE. Whether a named key pair or image exists is the service's check, not this one.

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "controller/cloudformation/template.h"

namespace minicloud::cloudformation {

// CloudFormation's quota on one parameter value.
inline constexpr std::size_t kMaxParameterValueBytes = 4096;

// Parameter name -> value as Ref gives it: a string, or for list types a list of strings.
using ParameterValues = std::map<std::string, Json>;

struct ParameterInput {
  std::string key;
  std::string value;
  bool use_previous_value = false;  // UpdateStack: keep the stack's current value
};

// Checks one value against a declaration. The error is CloudFormation's: "Parameter 'X' must be
// one of AllowedValues", "Parameter 'X' must be a number", "Parameter 'X' failed to satisfy
// constraint: …".
absl::Status CheckParameterValue(const ParameterDecl& decl, absl::string_view value);

// A value as Ref gives it: list types split on commas.
Json ParameterValueAsJson(const ParameterDecl& decl, absl::string_view value);

// Every declared parameter's value: given, else previous (use_previous_value), else its default.
// Refuses keys the template does not declare ("Parameters: [X] do not exist in the template"),
// missing values ("Parameters: [X] must have values") and values that fail their constraints.
absl::StatusOr<ParameterValues> ResolveParameters(const Template& t,
                                                  const std::vector<ParameterInput>& given,
                                                  const ParameterValues* previous = nullptr);

}  // namespace minicloud::cloudformation
