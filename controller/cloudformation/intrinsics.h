#pragma once

// Evaluation of a checked template's values: pseudo parameters, Ref, Fn::Sub, Fn::Join,
// Fn::Base64, Fn::GetAtt, Fn::Select, Fn::Split, Fn::FindInMap, Fn::GetAZs, Fn::If and the
// condition functions. PURE: resources' ids and attributes come in the context, filled by whoever
// created them. A property whose value is AWS::NoValue is removed.

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "controller/cloudformation/parameters.h"
#include "controller/cloudformation/template.h"

namespace minicloud::cloudformation {

struct PseudoParameters {
  std::string stack_name;
  std::string stack_id;  // arn:aws:cloudformation:<region>:<account>:stack/<name>/<uuid>
  std::string region;
  std::string account_id;
  std::string partition = "aws";
  std::string url_suffix = "amazonaws.com";
};

// A resource the stack has created: what Ref gives and its Fn::GetAtt attributes.
struct CreatedResource {
  std::string physical_id;
  std::map<std::string, Json> attributes;
};

struct EvalContext {
  const Template* tmpl = nullptr;
  PseudoParameters pseudo;
  ParameterValues parameters;              // from ResolveParameters
  std::map<std::string, bool> conditions;  // from EvaluateConditions
  std::map<std::string, CreatedResource> resources;
  std::vector<std::string> availability_zones;  // Fn::GetAZs of the stack's region
};

// Every condition of the template, evaluated with ctx's parameters and pseudo parameters.
absl::StatusOr<std::map<std::string, bool>> EvaluateConditions(const EvalContext& ctx);

// `value` with every function call replaced by its result. `path` names the value in errors.
// Refuses a Ref or Fn::GetAtt to a resource not in ctx.resources (not created yet) and
// evaluation errors (an index out of range, a mapping key that does not exist, a non-string
// joined). The result never holds AWS::NoValue: members whose value is NoValue are dropped.
absl::StatusOr<Json> Evaluate(const Json& value, const EvalContext& ctx, const std::string& path);

// Whether a resource or output with this Condition is created (true when `condition` is empty).
bool ConditionHolds(const EvalContext& ctx, const std::string& condition);

// A resource's properties, evaluated (an object; empty when it has none).
absl::StatusOr<Json> EvaluateProperties(const ResourceDecl& r, const EvalContext& ctx);

}  // namespace minicloud::cloudformation
