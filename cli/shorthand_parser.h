#pragma once

// The aws CLI's shorthand syntax, read into JSON, and the rule that a parameter may be given as
// shorthand or as JSON:
//
//   Name=instance-state-name,Values=running,pending     a bare list after a key
//   Name=tag:Env,Values=[prod,dev]                       a bracketed list
//   ResourceType=instance,Tags=[{Key=Name,Value=web}]    nested structures
//   Key="a,b",Value='x=y'                                quoted values keep , = [ ] { }
//   [{"Name": "tag:Env", "Values": ["prod"]}]            JSON (starts with [ or {)
//
// Values are strings (shorthand has no numbers or booleans; the reader of the structure
// converts). Bad text throws UsageError naming the flag, as the aws CLI's "Error parsing
// parameter".

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace minicloud::cli {

// One shorthand structure: "k=v,k2=[a,b]" -> {"k": "v", "k2": ["a", "b"]}.
nlohmann::json ParseShorthand(const std::string& text, const std::string& flag);

// The values of a list parameter (--filters, --tag-specifications, ...): each argument is JSON
// (a list adds its elements, an object itself), file://path holding JSON, or shorthand (one
// element). The elements are objects.
std::vector<nlohmann::json> ParseStructureList(const std::vector<std::string>& args,
                                               const std::string& flag);

// One structure parameter (--placement, --metadata-options): JSON object or shorthand.
nlohmann::json ParseStructure(const std::string& arg, const std::string& flag);

}  // namespace minicloud::cli
