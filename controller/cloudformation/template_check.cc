// The static check of intrinsic functions (functions.h). One function per intrinsic; each names
// the path of what it refuses. Function shapes follow the CloudFormation Template Reference,
// "Intrinsic function reference" (one page per function) and "Condition functions".
#include <algorithm>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "controller/cloudformation/functions.h"
#include "controller/cloudformation/template_error.h"

namespace minicloud::cloudformation {
namespace {

// Functions CloudFormation defines that minicloud does not evaluate: refused by name.
constexpr absl::string_view kUnsupportedFunctions[] = {
    "Fn::ImportValue",      "Fn::Cidr",         "Fn::Transform",      "Fn::Length",
    "Fn::ToJsonString",     "Fn::ForEach",      "Fn::GetStackOutput", "Fn::Contains",
    "Fn::EachMemberEquals", "Fn::EachMemberIn", "Fn::RefAll",         "Fn::ValueOf",
    "Fn::ValueOfAll",
};

class Checker {
 public:
  Checker(Scope scope, const TemplateDocument& doc, const Template& t, std::set<std::string>* refs)
      : scope_(scope), doc_(doc), t_(t), refs_(refs) {}

  absl::Status Value(const Json& value, const std::string& path) {
    if (value.is_array()) {
      for (std::size_t i = 0; i < value.size(); ++i) {
        if (auto s = Value(value[i], IndexPath(path, i)); !s.ok()) return s;
      }
      return absl::OkStatus();
    }
    if (!value.is_object()) return absl::OkStatus();
    const std::string fn = FunctionName(value);
    if (fn.empty()) {
      for (const auto& [key, child] : value.items()) {
        if (value.size() > 1 && (IsFunctionKey(key))) {
          return Error(ChildPath(path, key),
                       "an intrinsic function must be the only key of its object");
        }
        if (auto s = Value(child, ChildPath(path, key)); !s.ok()) return s;
      }
      return absl::OkStatus();
    }
    return Call(fn, value.begin().value(), ChildPath(path, fn));
  }

  // A condition expression: Fn::Equals/And/Or/Not or {"Condition": name}.
  absl::Status Condition(const Json& value, const std::string& path) {
    if (value.is_object() && value.size() == 1 && value.contains("Condition")) {
      return ConditionName(value["Condition"], ChildPath(path, "Condition"));
    }
    const std::string fn = FunctionName(value);
    if (fn != "Fn::Equals" && fn != "Fn::And" && fn != "Fn::Or" && fn != "Fn::Not") {
      return Error(path, "a condition must be Fn::Equals, Fn::And, Fn::Or, Fn::Not or Condition");
    }
    return Call(fn, value.begin().value(), ChildPath(path, fn));
  }

 private:
  absl::Status Error(const std::string& path, absl::string_view message) const {
    return TemplateError(path, absl::StrCat(message, doc_.LineOf(path)));
  }

  absl::Status Call(const std::string& fn, const Json& args, const std::string& path) {
    if (fn == "Ref") return Ref(args, path);
    if (fn == "Fn::Sub") return Sub(args, path);
    if (fn == "Fn::GetAtt") return GetAtt(args, path);
    if (fn == "Fn::Join") return Join(args, path);
    if (fn == "Fn::Base64") return Value(args, path);
    if (fn == "Fn::Select") return Pair(args, path, "[index, list]");
    if (fn == "Fn::Split") return Pair(args, path, "[delimiter, string]");
    if (fn == "Fn::FindInMap") return FindInMap(args, path);
    if (fn == "Fn::GetAZs") return GetAZs(args, path);
    if (fn == "Fn::If") return If(args, path);
    if (fn == "Fn::Equals" || fn == "Fn::And" || fn == "Fn::Or" || fn == "Fn::Not") {
      return ConditionFunction(fn, args, path);
    }
    for (absl::string_view unsupported : kUnsupportedFunctions) {
      if (fn == unsupported) return Error(path, absl::StrCat(fn, " is not supported by minicloud"));
    }
    return Error(path, absl::StrCat("unknown intrinsic function ", fn));
  }

  absl::Status RefTarget(const std::string& name, const std::string& path) {
    if (IsPseudoParameter(name) || t_.FindParameter(name) != nullptr) return absl::OkStatus();
    if (t_.FindResource(name) != nullptr) {
      if (scope_ == Scope::kCondition) {
        return Error(path, absl::StrCat("a condition cannot refer to the resource ", name));
      }
      refs_->insert(name);
      return absl::OkStatus();
    }
    if (absl::StartsWith(name, "AWS::")) {
      return Error(path, absl::StrCat("unknown pseudo parameter ", name));
    }
    return Error(path, absl::StrCat("Unresolved reference ", name,
                                    ": not a parameter, resource or pseudo parameter"));
  }

  absl::Status Ref(const Json& args, const std::string& path) {
    if (!args.is_string()) return Error(path, "Ref wants the name of a parameter or resource");
    return RefTarget(args.get<std::string>(), path);
  }

  absl::Status Attribute(const std::string& resource, const std::string& attribute,
                         const std::string& path) {
    if (scope_ == Scope::kCondition) {
      return Error(path, "Fn::GetAtt cannot be used in a condition");
    }
    const ResourceDecl* r = t_.FindResource(resource);
    if (r == nullptr) {
      return Error(path, absl::StrCat("Fn::GetAtt refers to the undeclared resource ", resource));
    }
    const auto& attrs = r->spec->attributes;
    if (std::find(attrs.begin(), attrs.end(), attribute) == attrs.end()) {
      return Error(path, absl::StrCat("resource ", resource, " of type ", r->spec->type,
                                      " has no attribute ", attribute, " (it has: ",
                                      attrs.empty() ? "none" : absl::StrJoin(attrs, ", "), ")"));
    }
    refs_->insert(resource);
    return absl::OkStatus();
  }

  absl::Status GetAtt(const Json& args, const std::string& path) {
    if (args.is_string()) {  // "Resource.Attribute"
      const std::string text = args.get<std::string>();
      const std::size_t dot = text.find('.');
      if (dot == std::string::npos) {
        return Error(path, "Fn::GetAtt wants [LogicalId, AttributeName]");
      }
      return Attribute(text.substr(0, dot), text.substr(dot + 1), path);
    }
    if (!args.is_array() || args.size() != 2 || !args[0].is_string()) {
      return Error(path, "Fn::GetAtt wants [LogicalId, AttributeName]");
    }
    if (!args[1].is_string()) {
      return Error(IndexPath(path, 1), "the attribute name must be a string");
    }
    return Attribute(args[0].get<std::string>(), args[1].get<std::string>(), path);
  }

  absl::Status Sub(const Json& args, const std::string& path) {
    const Json* text = &args;
    const Json* vars = nullptr;
    if (args.is_array()) {
      if (args.size() != 2 || !args[1].is_object()) {
        return Error(path, "Fn::Sub wants a string or [string, {Name: Value, ...}]");
      }
      text = &args[0];
      vars = &args[1];
      for (const auto& [key, v] : vars->items()) {
        if (auto s = Value(v, ChildPath(IndexPath(path, 1), key)); !s.ok()) return s;
      }
    }
    if (!text->is_string()) return Error(path, "Fn::Sub wants a string");
    absl::StatusOr<std::vector<SubPart>> parts = SplitSub(text->get<std::string>());
    if (!parts.ok()) return Error(path, parts.status().message());
    for (const SubPart& part : *parts) {
      if (!part.variable) continue;
      if (vars != nullptr && vars->contains(part.text)) continue;
      const std::size_t dot = part.text.find('.');
      if (dot != std::string::npos && !absl::StartsWith(part.text, "AWS::")) {
        if (auto s = Attribute(part.text.substr(0, dot), part.text.substr(dot + 1), path);
            !s.ok()) {
          return s;
        }
        continue;
      }
      if (auto s = RefTarget(part.text, path); !s.ok()) return s;
    }
    return absl::OkStatus();
  }

  absl::Status Join(const Json& args, const std::string& path) {
    if (!args.is_array() || args.size() != 2 || !args[0].is_string()) {
      return Error(path, "Fn::Join wants [delimiter, [values...]]");
    }
    if (!args[1].is_array() && FunctionName(args[1]).empty()) {
      return Error(IndexPath(path, 1), "Fn::Join's values must be a list or a function");
    }
    return Value(args[1], IndexPath(path, 1));
  }

  absl::Status Pair(const Json& args, const std::string& path, absl::string_view shape) {
    if (!args.is_array() || args.size() != 2) {
      return Error(path, absl::StrCat(path.substr(path.rfind('.') + 1), " wants ", shape));
    }
    return Value(args, path);
  }

  absl::Status FindInMap(const Json& args, const std::string& path) {
    if (!args.is_array() || args.size() != 3) {
      return Error(path, "Fn::FindInMap wants [MapName, TopLevelKey, SecondLevelKey]");
    }
    if (auto s = Value(args, path); !s.ok()) return s;
    if (!args[0].is_string()) return absl::OkStatus();
    const std::string map = args[0].get<std::string>();
    if (!t_.mappings.contains(map)) {
      return Error(IndexPath(path, 0),
                   absl::StrCat("Fn::FindInMap names the undeclared mapping ", map));
    }
    if (!args[1].is_string()) return absl::OkStatus();
    const Json& top = t_.mappings[map];
    const std::string key = args[1].get<std::string>();
    if (!top.contains(key)) {
      return Error(IndexPath(path, 1), absl::StrCat("mapping ", map, " has no key ", key));
    }
    if (args[2].is_string() && !top[key].contains(args[2].get<std::string>())) {
      return Error(IndexPath(path, 2), absl::StrCat("mapping ", map, ".", key, " has no key ",
                                                    args[2].get<std::string>()));
    }
    return absl::OkStatus();
  }

  absl::Status GetAZs(const Json& args, const std::string& path) {
    if (args.is_string()) return absl::OkStatus();
    if (FunctionName(args) == "Ref") return Value(args, path);
    return Error(path, "Fn::GetAZs wants a region name, \"\" or a Ref");
  }

  absl::Status ConditionName(const Json& name, const std::string& path) {
    if (!name.is_string()) return Error(path, "a condition name must be a string");
    if (!t_.conditions.contains(name.get<std::string>())) {
      return Error(path, absl::StrCat("undeclared condition ", name.get<std::string>()));
    }
    return absl::OkStatus();
  }

  absl::Status If(const Json& args, const std::string& path) {
    if (scope_ == Scope::kCondition) {
      return Error(path, "Fn::If cannot be used in the Conditions section");
    }
    if (!args.is_array() || args.size() != 3) {
      return Error(path, "Fn::If wants [ConditionName, ValueIfTrue, ValueIfFalse]");
    }
    if (auto s = ConditionName(args[0], IndexPath(path, 0)); !s.ok()) return s;
    if (auto s = Value(args[1], IndexPath(path, 1)); !s.ok()) return s;
    return Value(args[2], IndexPath(path, 2));
  }

  absl::Status ConditionFunction(const std::string& fn, const Json& args, const std::string& path) {
    if (scope_ != Scope::kCondition) {
      return Error(path, absl::StrCat(fn, " can be used only in the Conditions section"));
    }
    if (fn == "Fn::Equals") {
      if (!args.is_array() || args.size() != 2) return Error(path, "Fn::Equals wants [a, b]");
      return Value(args, path);
    }
    if (fn == "Fn::Not") {
      if (!args.is_array() || args.size() != 1) return Error(path, "Fn::Not wants [condition]");
      return Condition(args[0], IndexPath(path, 0));
    }
    // Fn::And / Fn::Or: 2 to 10 conditions.
    if (!args.is_array() || args.size() < 2 || args.size() > 10) {
      return Error(path, absl::StrCat(fn, " wants 2 to 10 conditions"));
    }
    for (std::size_t i = 0; i < args.size(); ++i) {
      if (auto s = Condition(args[i], IndexPath(path, i)); !s.ok()) return s;
    }
    return absl::OkStatus();
  }

  Scope scope_;
  const TemplateDocument& doc_;
  const Template& t_;
  std::set<std::string>* refs_;
};

}  // namespace

bool IsFunctionKey(absl::string_view key) { return key == "Ref" || absl::StartsWith(key, "Fn::"); }

std::string FunctionName(const Json& value) {
  if (!value.is_object() || value.size() != 1) return "";
  const std::string& key = value.begin().key();
  return IsFunctionKey(key) ? key : "";
}

absl::StatusOr<std::vector<SubPart>> SplitSub(absl::string_view text) {
  std::vector<SubPart> parts;
  std::string literal;
  std::size_t i = 0;
  while (i < text.size()) {
    if (text[i] == '$' && i + 1 < text.size() && text[i + 1] == '{') {
      const std::size_t close = text.find('}', i + 2);
      if (close == absl::string_view::npos) {
        return absl::InvalidArgumentError(
            absl::StrCat("Fn::Sub: '${' at offset ", i, " has no closing '}'"));
      }
      const absl::string_view inner = text.substr(i + 2, close - i - 2);
      if (!inner.empty() && inner[0] == '!') {  // ${!Literal} -> ${Literal}
        absl::StrAppend(&literal, "${", inner.substr(1), "}");
      } else {
        if (inner.empty() || absl::StrContains(inner, " ")) {
          return absl::InvalidArgumentError(
              absl::StrCat("Fn::Sub: '${", inner, "}' is not a variable name"));
        }
        if (!literal.empty()) parts.push_back({false, std::move(literal)});
        literal.clear();
        parts.push_back({true, std::string(inner)});
      }
      i = close + 1;
      continue;
    }
    literal.push_back(text[i++]);
  }
  if (!literal.empty()) parts.push_back({false, std::move(literal)});
  return parts;
}

absl::Status CheckValue(const Json& value, const std::string& path, Scope scope,
                        const TemplateDocument& doc, const Template& t,
                        std::set<std::string>* resource_refs) {
  Checker checker(scope, doc, t, resource_refs);
  if (scope == Scope::kCondition) return checker.Condition(value, path);
  return checker.Value(value, path);
}

}  // namespace minicloud::cloudformation
