// The sections of a template (CloudFormation User Guide, "Template sections"; Template
// Reference, "Parameters", "Resource attributes": CreationPolicy, DeletionPolicy, DependsOn,
// Metadata, Condition). Function calls inside values are checked by template_check.cc.
#include "controller/cloudformation/template.h"

#include <algorithm>
#include <optional>
#include <regex>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "controller/cloudformation/functions.h"
#include "controller/cloudformation/parameters.h"
#include "controller/cloudformation/template_error.h"

namespace minicloud::cloudformation {
namespace {

constexpr absl::string_view kPseudoParameters[] = {
    "AWS::AccountId", "AWS::NoValue",   "AWS::Partition", "AWS::Region",
    "AWS::StackId",   "AWS::StackName", "AWS::URLSuffix", "AWS::NotificationARNs",
};

constexpr absl::string_view kParameterTypes[] = {
    "String",
    "Number",
    "List<Number>",
    "CommaDelimitedList",
    "AWS::EC2::AvailabilityZone::Name",
    "AWS::EC2::Image::Id",
    "AWS::EC2::Instance::Id",
    "AWS::EC2::KeyPair::KeyName",
    "AWS::EC2::SecurityGroup::GroupName",
    "AWS::EC2::SecurityGroup::Id",
    "AWS::EC2::Subnet::Id",
    "AWS::EC2::Volume::Id",
    "AWS::EC2::VPC::Id",
    "List<AWS::EC2::AvailabilityZone::Name>",
    "List<AWS::EC2::Image::Id>",
    "List<AWS::EC2::Instance::Id>",
    "List<AWS::EC2::SecurityGroup::GroupName>",
    "List<AWS::EC2::SecurityGroup::Id>",
    "List<AWS::EC2::Subnet::Id>",
    "List<AWS::EC2::Volume::Id>",
    "List<AWS::EC2::VPC::Id>",
};

class Builder {
 public:
  explicit Builder(const TemplateDocument& doc) : doc_(doc) {}

  absl::StatusOr<Template> Build() {
    const Json& root = doc_.root;
    for (const auto& [key, value] : root.items()) {
      if (key == "Transform" || key == "Rules") {
        return Error(key, absl::StrCat("the ", key, " section is not supported by minicloud"));
      }
      if (key != "AWSTemplateFormatVersion" && key != "Description" && key != "Metadata" &&
          key != "Parameters" && key != "Mappings" && key != "Conditions" && key != "Resources" &&
          key != "Outputs") {
        return Error(key, "Invalid template property or properties [" + key + "]");
      }
    }
    if (root.contains("AWSTemplateFormatVersion")) {
      const Json& v = root["AWSTemplateFormatVersion"];
      if (!v.is_string() || v.get<std::string>() != "2010-09-09") {
        return Error("AWSTemplateFormatVersion", "the only template format version is 2010-09-09");
      }
      t_.format_version = v.get<std::string>();
    }
    if (root.contains("Description")) {
      const Json& v = root["Description"];
      if (!v.is_string()) return Error("Description", "must be a string");
      if (v.get<std::string>().size() > kMaxDescriptionLength) {
        return Error("Description",
                     absl::StrCat("longer than ", kMaxDescriptionLength, " characters"));
      }
      t_.description = v.get<std::string>();
    }
    if (auto s = Parameters(); !s.ok()) return s;
    if (auto s = Mappings(); !s.ok()) return s;
    if (auto s = DeclareConditions(); !s.ok()) return s;
    if (auto s = DeclareResources(); !s.ok()) return s;
    if (auto s = Conditions(); !s.ok()) return s;
    if (auto s = CheckResources(doc_, &t_); !s.ok()) return s;
    return std::move(t_);
  }

 private:
  absl::Status Error(const std::string& path, absl::string_view message) const {
    return TemplateError(path, absl::StrCat(message, doc_.LineOf(path)));
  }

  // A section that must be an object when present; null when absent.
  absl::StatusOr<const Json*> Section(const std::string& name) const {
    if (!doc_.root.contains(name)) return nullptr;
    const Json& v = doc_.root[name];
    if (!v.is_object()) return Error(name, "must be an object");
    return &v;
  }

  absl::Status LogicalId(const std::string& id, const std::string& path) const {
    if (id.empty() || id.size() > kMaxLogicalIdLength ||
        !std::all_of(id.begin(), id.end(),
                     [](char c) { return absl::ascii_isalnum(static_cast<unsigned char>(c)); })) {
      return Error(path, absl::StrCat("a logical id must be 1 to ", kMaxLogicalIdLength,
                                      " letters and digits"));
    }
    return absl::OkStatus();
  }

  static std::optional<std::string> ScalarString(const Json& v) {
    if (v.is_string()) return v.get<std::string>();
    if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
    if (v.is_number()) return v.dump();
    if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
    return std::nullopt;
  }

  absl::StatusOr<int64_t> Integer(const Json& v, const std::string& path) const {
    const std::optional<std::string> text = ScalarString(v);
    int64_t out = 0;
    if (!text || !absl::SimpleAtoi(*text, &out)) return Error(path, "must be an integer");
    return out;
  }

  absl::Status Parameters() {
    MC_ASSIGN_OR_RETURN(const Json* section, Section("Parameters"));
    if (section == nullptr) return absl::OkStatus();
    if (section->size() > kMaxParameters) {
      return Error("Parameters", absl::StrCat("more than ", kMaxParameters, " parameters"));
    }
    for (const auto& [name, body] : section->items()) {
      const std::string path = ChildPath("Parameters", name);
      if (auto s = LogicalId(name, path); !s.ok()) return s;
      if (!body.is_object()) return Error(path, "a parameter must be an object");
      ParameterDecl p;
      p.name = name;
      for (const auto& [key, v] : body.items()) {
        const std::string at = ChildPath(path, key);
        if (key == "Type") {
          if (!v.is_string()) return Error(at, "must be a string");
          p.type = v.get<std::string>();
          if (std::find(std::begin(kParameterTypes), std::end(kParameterTypes), p.type) ==
              std::end(kParameterTypes)) {
            return Error(at,
                         absl::StrCat("parameter type ", p.type, " is not supported by minicloud"));
          }
        } else if (key == "Default") {
          if (v.is_array() && !v.empty()) {  // a list default written as a YAML list
            std::vector<std::string> items;
            for (const Json& item : v) {
              const auto s = ScalarString(item);
              if (!s) return Error(at, "a list default holds scalars");
              items.push_back(*s);
            }
            p.default_value = absl::StrJoin(items, ",");
          } else {
            p.default_value = ScalarString(v);
            if (!p.default_value) return Error(at, "must be a string or a number");
          }
        } else if (key == "Description" || key == "ConstraintDescription") {
          if (!v.is_string()) return Error(at, "must be a string");
          (key == "Description" ? p.description : p.constraint_description) = v.get<std::string>();
        } else if (key == "AllowedValues") {
          if (!v.is_array()) return Error(at, "must be a list");
          for (std::size_t i = 0; i < v.size(); ++i) {
            const auto s = ScalarString(v[i]);
            if (!s) return Error(IndexPath(at, i), "must be a string or a number");
            p.allowed_values.push_back(*s);
          }
        } else if (key == "AllowedPattern") {
          if (!v.is_string()) return Error(at, "must be a string");
          try {
            std::regex compiled(v.get<std::string>(), std::regex::ECMAScript);
          } catch (const std::regex_error& e) {
            return Error(at, absl::StrCat("not a valid pattern: ", e.what()));
          }
          p.allowed_pattern = v.get<std::string>();
        } else if (key == "MinLength" || key == "MaxLength") {
          MC_ASSIGN_OR_RETURN(int64_t n, Integer(v, at));
          if (n < 0) return Error(at, "must not be negative");
          (key == "MinLength" ? p.min_length : p.max_length) = n;
        } else if (key == "MinValue" || key == "MaxValue") {
          const auto text = ScalarString(v);
          double n = 0;
          if (!text || !absl::SimpleAtod(*text, &n)) return Error(at, "must be a number");
          (key == "MinValue" ? p.min_value : p.max_value) = n;
        } else if (key == "NoEcho") {
          const auto text = ScalarString(v);
          if (!text || (*text != "true" && *text != "false")) {
            return Error(at, "must be true or false");
          }
          p.no_echo = *text == "true";
        } else {
          return Error(at, absl::StrCat("Invalid template parameter property '", key, "'"));
        }
      }
      if (p.type.empty()) return Error(path, "a parameter must have a Type");
      if (p.min_length && p.max_length && *p.min_length > *p.max_length) {
        return Error(path, "MinLength is greater than MaxLength");
      }
      if (p.min_value && p.max_value && *p.min_value > *p.max_value) {
        return Error(path, "MinValue is greater than MaxValue");
      }
      if ((p.min_value || p.max_value) && !p.IsNumeric()) {
        return Error(path, "MinValue and MaxValue apply to Number parameters only");
      }
      if ((p.min_length || p.max_length || p.allowed_pattern) && p.type != "String") {
        return Error(path, "MinLength, MaxLength and AllowedPattern apply to String only");
      }
      if (p.default_value) {
        if (auto s = CheckParameterValue(p, *p.default_value); !s.ok()) {
          return Error(ChildPath(path, "Default"), s.message());
        }
      }
      t_.parameters.push_back(std::move(p));
    }
    return absl::OkStatus();
  }

  absl::Status Mappings() {
    MC_ASSIGN_OR_RETURN(const Json* section, Section("Mappings"));
    if (section == nullptr) return absl::OkStatus();
    if (section->size() > kMaxMappings) {
      return Error("Mappings", absl::StrCat("more than ", kMaxMappings, " mappings"));
    }
    for (const auto& [name, top] : section->items()) {
      const std::string path = ChildPath("Mappings", name);
      if (auto s = LogicalId(name, path); !s.ok()) return s;
      if (!top.is_object() || top.empty()) return Error(path, "a mapping is a non-empty object");
      for (const auto& [key, second] : top.items()) {
        const std::string at = ChildPath(path, key);
        if (!second.is_object() || second.empty()) {
          return Error(at, "a mapping's top-level key holds a non-empty object");
        }
        for (const auto& [key2, value] : second.items()) {
          if (value.is_object() || value.is_null()) {
            return Error(ChildPath(at, key2), "a mapping value is a string, number or list");
          }
        }
      }
    }
    t_.mappings = *section;
    return absl::OkStatus();
  }

  absl::Status DeclareConditions() {
    MC_ASSIGN_OR_RETURN(const Json* section, Section("Conditions"));
    if (section == nullptr) return absl::OkStatus();
    for (const auto& [name, expr] : section->items()) {
      if (auto s = LogicalId(name, ChildPath("Conditions", name)); !s.ok()) return s;
    }
    t_.conditions = *section;
    return absl::OkStatus();
  }

  // Every condition expression, then no condition reaching itself through {"Condition": …}.
  absl::Status Conditions() {
    std::set<std::string> unused;
    for (const auto& [name, expr] : t_.conditions.items()) {
      if (auto s =
              CheckValue(expr, ChildPath("Conditions", name), Scope::kCondition, doc_, t_, &unused);
          !s.ok()) {
        return s;
      }
    }
    std::map<std::string, int> state;  // 0 new, 1 on the path, 2 done
    for (const auto& [name, expr] : t_.conditions.items()) {
      if (auto s = ConditionCycle(name, &state); !s.ok()) return s;
    }
    return absl::OkStatus();
  }

  static void ConditionRefs(const Json& v, std::vector<std::string>* out) {
    if (v.is_object()) {
      for (const auto& [key, child] : v.items()) {
        if (key == "Condition" && child.is_string()) out->push_back(child.get<std::string>());
        ConditionRefs(child, out);
      }
    } else if (v.is_array()) {
      for (const Json& child : v) ConditionRefs(child, out);
    }
  }

  absl::Status ConditionCycle(const std::string& name, std::map<std::string, int>* state) {
    int& s = (*state)[name];
    if (s == 2) return absl::OkStatus();
    if (s == 1) {
      return Error(ChildPath("Conditions", name),
                   absl::StrCat("Circular condition dependency through ", name));
    }
    s = 1;
    std::vector<std::string> refs;
    if (const auto it = t_.conditions.find(name); it != t_.conditions.end()) {
      ConditionRefs(*it, &refs);
    }
    for (const std::string& ref : refs) {
      if (auto st = ConditionCycle(ref, state); !st.ok()) return st;
    }
    (*state)[name] = 2;
    return absl::OkStatus();
  }

  absl::Status DeclareResources() {
    MC_ASSIGN_OR_RETURN(const Json* section, Section("Resources"));
    if (section == nullptr || section->empty()) {
      return Error("Resources", "a template must declare at least one resource");
    }
    if (section->size() > kMaxResources) {
      return Error("Resources", absl::StrCat("more than ", kMaxResources, " resources"));
    }
    for (const auto& [id, body] : section->items()) {
      const std::string path = ChildPath("Resources", id);
      if (auto s = LogicalId(id, path); !s.ok()) return s;
      if (t_.FindParameter(id) != nullptr) {
        return Error(path, absl::StrCat("the logical id ", id, " is also a parameter's name"));
      }
      if (!body.is_object()) return Error(path, "a resource must be an object");
      if (!body.contains("Type") || !body["Type"].is_string()) {
        return Error(path, "a resource must have a Type (a string)");
      }
      const std::string type = body["Type"].get<std::string>();
      ResourceDecl r;
      r.logical_id = id;
      r.spec = FindResourceType(type);
      if (r.spec == nullptr) {
        std::vector<absl::string_view> known;
        for (const auto& spec : ResourceTypes()) known.push_back(spec.type);
        return Error(
            ChildPath(path, "Type"),
            absl::StrCat("resource type ", type, " is not supported by minicloud (supported: ",
                         absl::StrJoin(known, ", "), ")"));
      }
      t_.resources.push_back(std::move(r));
    }
    return absl::OkStatus();
  }

  const TemplateDocument& doc_;
  Template t_;
};

}  // namespace

bool ParameterDecl::IsList() const {
  return type == "CommaDelimitedList" || absl::StartsWith(type, "List<");
}

bool ParameterDecl::IsNumeric() const { return type == "Number" || type == "List<Number>"; }

const ParameterDecl* Template::FindParameter(absl::string_view name) const {
  for (const ParameterDecl& p : parameters) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

const ResourceDecl* Template::FindResource(absl::string_view logical_id) const {
  for (const ResourceDecl& r : resources) {
    if (r.logical_id == logical_id) return &r;
  }
  return nullptr;
}

bool IsPseudoParameter(absl::string_view name) {
  return std::find(std::begin(kPseudoParameters), std::end(kPseudoParameters), name) !=
         std::end(kPseudoParameters);
}

absl::StatusOr<Template> ParseTemplate(absl::string_view body) {
  MC_ASSIGN_OR_RETURN(TemplateDocument doc, ParseTemplateBody(body));
  return CheckTemplate(doc);
}

absl::StatusOr<Template> CheckTemplate(const TemplateDocument& doc) { return Builder(doc).Build(); }

}  // namespace minicloud::cloudformation
