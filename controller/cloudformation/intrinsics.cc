// Intrinsic functions evaluated (CloudFormation Template Reference, "Intrinsic function
// reference", one page per function; "Pseudo parameters reference"). The template check
// (template_check.cc) has already refused malformed calls; what remains here are the errors that
// depend on values (an index out of range, a missing mapping key, a list where a string goes).
#include "controller/cloudformation/intrinsics.h"

#include <optional>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "controller/cloudformation/functions.h"
#include "controller/cloudformation/template_error.h"

namespace minicloud::cloudformation {
namespace {

// AWS::NoValue while a value is being evaluated; never in a result.
Json NoValue() { return Json(Json::value_t::discarded); }
bool IsNoValue(const Json& v) { return v.is_discarded(); }

absl::Status EvalError(const std::string& path, absl::string_view message) {
  return ValidationError(absl::StrCat("Template error: ", path, ": ", message));
}

std::optional<std::string> AsString(const Json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  if (v.is_number()) return v.dump();
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  return std::nullopt;
}

class Evaluator {
 public:
  explicit Evaluator(const EvalContext& ctx) : ctx_(ctx) {}

  absl::StatusOr<Json> Value(const Json& v, const std::string& path) {
    if (v.is_array()) {
      Json out = Json::array();
      for (std::size_t i = 0; i < v.size(); ++i) {
        absl::StatusOr<Json> item = Value(v[i], IndexPath(path, i));
        if (!item.ok()) return item.status();
        if (!IsNoValue(*item)) out.push_back(std::move(*item));
      }
      return out;
    }
    if (!v.is_object()) return v;
    const std::string fn = FunctionName(v);
    if (!fn.empty()) return Call(fn, v.begin().value(), ChildPath(path, fn));
    Json out = Json::object();
    for (const auto& [key, child] : v.items()) {
      absl::StatusOr<Json> item = Value(child, ChildPath(path, key));
      if (!item.ok()) return item.status();
      if (!IsNoValue(*item)) out[key] = std::move(*item);
    }
    return out;
  }

  absl::StatusOr<bool> Condition(const Json& v, const std::string& path) {
    if (v.is_object() && v.size() == 1 && v.contains("Condition") && v["Condition"].is_string()) {
      return Named(v["Condition"].get<std::string>(), path);
    }
    const std::string fn = FunctionName(v);
    if (fn.empty()) return EvalError(path, "not a condition");
    const Json& args = v.begin().value();
    const std::string at = ChildPath(path, fn);
    if (fn == "Fn::Equals") {
      absl::StatusOr<Json> a = Value(args[0], IndexPath(at, 0));
      if (!a.ok()) return a.status();
      absl::StatusOr<Json> b = Value(args[1], IndexPath(at, 1));
      if (!b.ok()) return b.status();
      const auto sa = AsString(*a), sb = AsString(*b);
      if (sa && sb) return *sa == *sb;
      return *a == *b;
    }
    if (fn == "Fn::Not") {
      absl::StatusOr<bool> inner = Condition(args[0], IndexPath(at, 0));
      if (!inner.ok()) return inner.status();
      return !*inner;
    }
    if (fn == "Fn::And" || fn == "Fn::Or") {
      const bool is_and = fn == "Fn::And";
      for (std::size_t i = 0; i < args.size(); ++i) {
        absl::StatusOr<bool> c = Condition(args[i], IndexPath(at, i));
        if (!c.ok()) return c.status();
        if (*c != is_and) return !is_and;
      }
      return is_and;
    }
    return EvalError(path, "not a condition");
  }

  // A named condition: from ctx when evaluated already, else evaluated from the template.
  absl::StatusOr<bool> Named(const std::string& name, const std::string& path) {
    if (const auto it = ctx_.conditions.find(name); it != ctx_.conditions.end()) {
      return it->second;
    }
    if (const auto it = memo_.find(name); it != memo_.end()) return it->second;
    if (!ctx_.tmpl->conditions.contains(name)) {
      return EvalError(path, absl::StrCat("undeclared condition ", name));
    }
    if (++depth_ > 64) return EvalError(path, "conditions nested too deeply");
    absl::StatusOr<bool> value =
        Condition(ctx_.tmpl->conditions[name], ChildPath("Conditions", name));
    --depth_;
    if (value.ok()) memo_[name] = *value;
    return value;
  }

 private:
  absl::StatusOr<Json> Call(const std::string& fn, const Json& args, const std::string& path) {
    if (fn == "Ref") return Ref(args.get<std::string>(), path);
    if (fn == "Fn::Sub") return Sub(args, path);
    if (fn == "Fn::GetAtt") {
      if (args.is_string()) {
        const std::string text = args.get<std::string>();
        const std::size_t dot = text.find('.');
        return Attribute(text.substr(0, dot), text.substr(dot + 1), path);
      }
      return Attribute(args[0].get<std::string>(), args[1].get<std::string>(), path);
    }
    if (fn == "Fn::Join") return Join(args, path);
    if (fn == "Fn::Base64") {
      absl::StatusOr<Json> v = Value(args, path);
      if (!v.ok()) return v.status();
      const auto text = AsString(*v);
      if (!text) return EvalError(path, "Fn::Base64 wants a string");
      return Json(absl::Base64Escape(*text));
    }
    if (fn == "Fn::Select") return Select(args, path);
    if (fn == "Fn::Split") return Split(args, path);
    if (fn == "Fn::FindInMap") return FindInMap(args, path);
    if (fn == "Fn::GetAZs") return GetAZs(args, path);
    if (fn == "Fn::If") {
      absl::StatusOr<bool> c = Named(args[0].get<std::string>(), IndexPath(path, 0));
      if (!c.ok()) return c.status();
      return *c ? Value(args[1], IndexPath(path, 1)) : Value(args[2], IndexPath(path, 2));
    }
    return EvalError(path, absl::StrCat(fn, " cannot be evaluated here"));
  }

  absl::StatusOr<Json> Ref(const std::string& name, const std::string& path) {
    const PseudoParameters& p = ctx_.pseudo;
    if (name == "AWS::NoValue") return NoValue();
    if (name == "AWS::StackName") return Json(p.stack_name);
    if (name == "AWS::StackId") return Json(p.stack_id);
    if (name == "AWS::Region") return Json(p.region);
    if (name == "AWS::AccountId") return Json(p.account_id);
    if (name == "AWS::Partition") return Json(p.partition);
    if (name == "AWS::URLSuffix") return Json(p.url_suffix);
    if (name == "AWS::NotificationARNs") return Json::array();
    if (const auto it = ctx_.parameters.find(name); it != ctx_.parameters.end()) {
      return it->second;
    }
    if (ctx_.tmpl->FindParameter(name) != nullptr) {
      return EvalError(path, absl::StrCat("parameter ", name, " has no value"));
    }
    if (const auto it = ctx_.resources.find(name); it != ctx_.resources.end()) {
      return Json(it->second.physical_id);
    }
    return EvalError(path, absl::StrCat("resource ", name, " has not been created"));
  }

  absl::StatusOr<Json> Attribute(const std::string& resource, const std::string& attribute,
                                 const std::string& path) {
    const auto it = ctx_.resources.find(resource);
    if (it == ctx_.resources.end()) {
      return EvalError(path, absl::StrCat("resource ", resource, " has not been created"));
    }
    const auto attr = it->second.attributes.find(attribute);
    if (attr == it->second.attributes.end()) {
      return EvalError(
          path, absl::StrCat("resource ", resource, " has no value for attribute ", attribute));
    }
    return attr->second;
  }

  absl::StatusOr<Json> Sub(const Json& args, const std::string& path) {
    const std::string text = args.is_array() ? args[0].get<std::string>() : args.get<std::string>();
    std::map<std::string, Json> vars;
    if (args.is_array()) {
      for (const auto& [key, v] : args[1].items()) {
        absl::StatusOr<Json> value = Value(v, ChildPath(IndexPath(path, 1), key));
        if (!value.ok()) return value.status();
        vars[key] = std::move(*value);
      }
    }
    absl::StatusOr<std::vector<SubPart>> parts = SplitSub(text);
    if (!parts.ok()) return EvalError(path, parts.status().message());
    std::string out;
    for (const SubPart& part : *parts) {
      if (!part.variable) {
        out += part.text;
        continue;
      }
      absl::StatusOr<Json> value;
      if (const auto it = vars.find(part.text); it != vars.end()) {
        value = it->second;
      } else if (const std::size_t dot = part.text.find('.');
                 dot != std::string::npos && part.text.rfind("AWS::", 0) != 0) {
        value = Attribute(part.text.substr(0, dot), part.text.substr(dot + 1), path);
      } else {
        value = Ref(part.text, path);
      }
      if (!value.ok()) return value.status();
      const auto s = AsString(*value);
      if (!s)
        return EvalError(path, absl::StrCat("Fn::Sub variable ", part.text, " is not a string"));
      out += *s;
    }
    return Json(out);
  }

  absl::StatusOr<Json> List(const Json& v, const std::string& path) {
    absl::StatusOr<Json> list = Value(v, path);
    if (!list.ok()) return list.status();
    if (!list->is_array()) return EvalError(path, "wants a list");
    return list;
  }

  absl::StatusOr<Json> Join(const Json& args, const std::string& path) {
    absl::StatusOr<Json> list = List(args[1], IndexPath(path, 1));
    if (!list.ok()) return list.status();
    std::string out;
    bool first = true;
    for (const Json& item : *list) {
      const auto s = AsString(item);
      if (!s) return EvalError(IndexPath(path, 1), "Fn::Join joins strings only");
      if (!first) out += args[0].get<std::string>();
      out += *s;
      first = false;
    }
    return Json(out);
  }

  absl::StatusOr<Json> Select(const Json& args, const std::string& path) {
    absl::StatusOr<Json> index = Value(args[0], IndexPath(path, 0));
    if (!index.ok()) return index.status();
    const auto text = AsString(*index);
    int64_t i = -1;
    if (!text || !absl::SimpleAtoi(*text, &i) || i < 0) {
      return EvalError(IndexPath(path, 0), "Fn::Select's index must be a non-negative integer");
    }
    absl::StatusOr<Json> list = List(args[1], IndexPath(path, 1));
    if (!list.ok()) return list.status();
    if (static_cast<std::size_t>(i) >= list->size()) {
      return EvalError(path,
                       absl::StrCat("Fn::Select cannot select nonexistent value at index ", i));
    }
    return (*list)[static_cast<std::size_t>(i)];
  }

  absl::StatusOr<Json> Split(const Json& args, const std::string& path) {
    absl::StatusOr<Json> delimiter = Value(args[0], IndexPath(path, 0));
    if (!delimiter.ok()) return delimiter.status();
    absl::StatusOr<Json> source = Value(args[1], IndexPath(path, 1));
    if (!source.ok()) return source.status();
    if (!delimiter->is_string() || delimiter->get<std::string>().empty()) {
      return EvalError(IndexPath(path, 0), "Fn::Split's delimiter must be a non-empty string");
    }
    const auto text = AsString(*source);
    if (!text) return EvalError(IndexPath(path, 1), "Fn::Split splits a string");
    Json out = Json::array();
    for (absl::string_view piece :
         absl::StrSplit(*text, absl::ByString(delimiter->get<std::string>()))) {
      out.push_back(std::string(piece));
    }
    return out;
  }

  absl::StatusOr<Json> FindInMap(const Json& args, const std::string& path) {
    std::string keys[3];
    for (std::size_t i = 0; i < 3; ++i) {
      absl::StatusOr<Json> k = Value(args[i], IndexPath(path, i));
      if (!k.ok()) return k.status();
      const auto s = AsString(*k);
      if (!s) return EvalError(IndexPath(path, i), "Fn::FindInMap's keys must be strings");
      keys[i] = *s;
    }
    const Json& maps = ctx_.tmpl->mappings;
    if (!maps.contains(keys[0]) || !maps[keys[0]].contains(keys[1]) ||
        !maps[keys[0]][keys[1]].contains(keys[2])) {
      return EvalError(path, absl::StrCat("Fn::FindInMap: mapping ", keys[0], " has no entry [",
                                          keys[1], "][", keys[2], "]"));
    }
    return maps[keys[0]][keys[1]][keys[2]];
  }

  absl::StatusOr<Json> GetAZs(const Json& args, const std::string& path) {
    absl::StatusOr<Json> region = Value(args, path);
    if (!region.ok()) return region.status();
    const auto name = AsString(*region);
    if (!name || (!name->empty() && *name != ctx_.pseudo.region)) {
      return EvalError(path, absl::StrCat("Fn::GetAZs: region ", name ? *name : "?",
                                          " is not this stack's region ", ctx_.pseudo.region));
    }
    Json out = Json::array();
    for (const std::string& zone : ctx_.availability_zones) out.push_back(zone);
    return out;
  }

  const EvalContext& ctx_;
  std::map<std::string, bool> memo_;
  int depth_ = 0;
};

}  // namespace

absl::StatusOr<std::map<std::string, bool>> EvaluateConditions(const EvalContext& ctx) {
  Evaluator e(ctx);
  std::map<std::string, bool> out;
  for (const auto& [name, expr] : ctx.tmpl->conditions.items()) {
    absl::StatusOr<bool> value = e.Named(name, ChildPath("Conditions", name));
    if (!value.ok()) return value.status();
    out[name] = *value;
  }
  return out;
}

absl::StatusOr<Json> Evaluate(const Json& value, const EvalContext& ctx, const std::string& path) {
  absl::StatusOr<Json> out = Evaluator(ctx).Value(value, path);
  if (out.ok() && IsNoValue(*out)) return Json(nullptr);
  return out;
}

bool ConditionHolds(const EvalContext& ctx, const std::string& condition) {
  if (condition.empty()) return true;
  const auto it = ctx.conditions.find(condition);
  return it != ctx.conditions.end() && it->second;
}

absl::StatusOr<Json> EvaluateProperties(const ResourceDecl& r, const EvalContext& ctx) {
  return Evaluate(r.properties, ctx, ChildPath(ChildPath("Resources", r.logical_id), "Properties"));
}

}  // namespace minicloud::cloudformation
