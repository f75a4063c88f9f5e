#pragma once

// A checked CloudFormation template: every section parsed and validated, every intrinsic
// function's shape and targets checked, the resources' dependencies (DependsOn plus the implicit
// ones from Ref, Fn::GetAtt and Fn::Sub in Properties, Metadata and CreationPolicy) ordered as a
// graph. PURE: no store, no network, no clock.
//
// Anything minicloud does not support (a section, a resource type or property, a function, a
// parameter type) is a ValidationError naming its path, never ignored.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "controller/cloudformation/resource_types.h"
#include "controller/cloudformation/template_document.h"

namespace minicloud::cloudformation {

// CloudFormation's quotas (User Guide, "CloudFormation quotas").
inline constexpr std::size_t kMaxParameters = 200;
inline constexpr std::size_t kMaxResources = 500;
inline constexpr std::size_t kMaxOutputs = 200;
inline constexpr std::size_t kMaxMappings = 200;
inline constexpr std::size_t kMaxLogicalIdLength = 255;
inline constexpr std::size_t kMaxDescriptionLength = 1024;
// CreationPolicy.ResourceSignal.Timeout and WaitCondition.Timeout: at most 12 hours.
inline constexpr absl::Duration kMaxSignalTimeout = absl::Hours(12);

struct ParameterDecl {
  std::string name;
  std::string type;  // "String", "Number", "List<Number>", "CommaDelimitedList", "AWS::EC2::…"
  std::optional<std::string> default_value;  // parameter values are strings
  std::string description;
  std::vector<std::string> allowed_values;
  std::optional<std::string> allowed_pattern;
  std::optional<int64_t> min_length;
  std::optional<int64_t> max_length;
  std::optional<double> min_value;
  std::optional<double> max_value;
  std::string constraint_description;
  bool no_echo = false;

  // List<…> and CommaDelimitedList: Ref gives a list of strings.
  bool IsList() const;
  // Number and List<Number>: every value must be a number.
  bool IsNumeric() const;
};

struct ResourceSignalPolicy {
  int64_t count = 1;
  absl::Duration timeout = absl::Minutes(5);  // CloudFormation's default is PT5M
};

struct ResourceDecl {
  std::string logical_id;
  const ResourceTypeSpec* spec = nullptr;  // never null in a checked template
  Json properties = Json::object();
  Json metadata;                        // null when absent
  std::vector<std::string> depends_on;  // as written
  std::optional<ResourceSignalPolicy> signal;
  std::string deletion_policy = "Delete";  // Delete, Retain or Snapshot
  std::string condition;                   // empty: always created
};

struct OutputDecl {
  std::string name;
  Json value;
  std::string description;
  std::string condition;
};

struct Template {
  std::string format_version;
  std::string description;
  std::vector<ParameterDecl> parameters;  // in declaration order
  Json mappings = Json::object();
  Json conditions = Json::object();     // name -> condition expression
  std::vector<ResourceDecl> resources;  // in declaration order
  std::vector<OutputDecl> outputs;
  // Logical id -> the resources it needs (explicit and implicit), in declaration order.
  std::map<std::string, std::vector<std::string>> dependencies;
  // Every resource once, each after all it needs; ties in declaration order.
  std::vector<std::string> creation_order;

  const ParameterDecl* FindParameter(absl::string_view name) const;
  const ResourceDecl* FindResource(absl::string_view logical_id) const;
};

// The pseudo parameters minicloud knows (User Guide, "Pseudo parameters reference").
bool IsPseudoParameter(absl::string_view name);

// Parses and checks a template body (YAML or JSON).
absl::StatusOr<Template> ParseTemplate(absl::string_view body);

// Checks an already parsed document.
absl::StatusOr<Template> CheckTemplate(const TemplateDocument& doc);

}  // namespace minicloud::cloudformation
