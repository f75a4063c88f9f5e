// The Resources and Outputs sections and the dependency graph (functions.h, CheckResources).
// Resource attributes: CloudFormation Template Reference, "Resource attribute reference"
// (CreationPolicy, DeletionPolicy, DependsOn, Metadata, UpdateReplacePolicy, Condition).
#include <algorithm>
#include <map>
#include <optional>
#include <queue>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "controller/cloudformation/functions.h"
#include "controller/cloudformation/template_error.h"

namespace minicloud::cloudformation {
namespace {

class ResourceChecker {
 public:
  ResourceChecker(const TemplateDocument& doc, Template* t) : doc_(doc), t_(*t) {}

  absl::Status Run() {
    const Json& section = doc_.root["Resources"];
    std::size_t index = 0;
    for (const auto& [id, body] : section.items()) {
      if (auto s = Resource(t_.resources[index++], body, ChildPath("Resources", id)); !s.ok()) {
        return s;
      }
    }
    if (auto s = Outputs(); !s.ok()) return s;
    return Order();
  }

 private:
  absl::Status Error(const std::string& path, absl::string_view message) const {
    return TemplateError(path, absl::StrCat(message, doc_.LineOf(path)));
  }

  absl::Status Check(const Json& value, const std::string& path, Scope scope,
                     std::set<std::string>* refs) {
    return CheckValue(value, path, scope, doc_, t_, refs);
  }

  absl::Status Resource(ResourceDecl& r, const Json& body, const std::string& path) {
    std::set<std::string>& refs = refs_[r.logical_id];
    for (const auto& [key, v] : body.items()) {
      const std::string at = ChildPath(path, key);
      if (key == "Type") continue;
      if (key == "Properties") {
        if (auto s = Check(v, at, Scope::kResource, &refs); !s.ok()) return s;
        if (auto s = Properties(r, v, at); !s.ok()) return s;
        r.properties = v;
      } else if (key == "Metadata") {
        if (!v.is_object()) return Error(at, "Metadata must be an object");
        if (auto s = Check(v, at, Scope::kResource, &refs); !s.ok()) return s;
        r.metadata = v;
      } else if (key == "DependsOn") {
        if (auto s = DependsOn(r, v, at); !s.ok()) return s;
      } else if (key == "CreationPolicy") {
        if (auto s = CreationPolicy(r, v, at); !s.ok()) return s;
      } else if (key == "DeletionPolicy" || key == "UpdateReplacePolicy") {
        const bool ok = v.is_string() &&
                        (v == "Delete" || v == "Retain" || (v == "Snapshot" && r.spec->snapshot));
        if (!ok) {
          return Error(at, absl::StrCat(key, " of ", r.spec->type, " must be Delete, Retain",
                                        r.spec->snapshot ? " or Snapshot" : ""));
        }
        if (key == "DeletionPolicy") r.deletion_policy = v.get<std::string>();
      } else if (key == "Condition") {
        if (!v.is_string() || !t_.conditions.contains(v.get<std::string>())) {
          return Error(at, "Condition must name a condition of the Conditions section");
        }
        r.condition = v.get<std::string>();
      } else if (key == "UpdatePolicy") {
        return Error(at, "UpdatePolicy is not supported by minicloud");
      } else {
        return Error(at, absl::StrCat("Invalid resource attribute ", key));
      }
    }
    for (const PropertySpec& p : r.spec->properties) {
      if (p.required && !r.properties.contains(p.name)) {
        return Error(ChildPath(path, "Properties"),
                     absl::StrCat("property ", p.name, " of ", r.spec->type, " is required"));
      }
    }
    return absl::OkStatus();
  }

  static bool KindMatches(const Json& v, ValueKind kind) {
    switch (kind) {
      case ValueKind::kString:  // CloudFormation turns scalars into strings
        return v.is_string() || v.is_number() || v.is_boolean();
      case ValueKind::kInteger: {
        int64_t n = 0;
        return v.is_number_integer() ||
               (v.is_string() && absl::SimpleAtoi(v.get<std::string>(), &n));
      }
      case ValueKind::kBoolean:
        return v.is_boolean() || v == "true" || v == "false";
      case ValueKind::kList:
        return v.is_array();
      case ValueKind::kObject:
        return v.is_object();
    }
    return false;
  }

  absl::Status Properties(const ResourceDecl& r, const Json& props, const std::string& path) {
    if (!props.is_object()) return Error(path, "Properties must be an object");
    const auto& spec = *r.spec;
    for (const auto& [name, v] : props.items()) {
      const std::string at = ChildPath(path, name);
      if (const PropertySpec* p = FindProperty(spec, name)) {
        if (FunctionName(v).empty() && !KindMatches(v, p->kind)) {
          return Error(at, absl::StrCat("must be ", ValueKindName(p->kind)));
        }
        continue;
      }
      auto listed = [&](const std::vector<absl::string_view>& names) {
        return std::find(names.begin(), names.end(), name) != names.end();
      };
      if (listed(spec.unsupported)) {
        return Error(at, absl::StrCat("property ", name, " of ", spec.type,
                                      " is not supported by minicloud"));
      }
      if (listed(spec.read_only)) {
        return Error(at, absl::StrCat(name, " is a read-only property of ", spec.type,
                                      " (read it with Fn::GetAtt)"));
      }
      return Error(at, absl::StrCat("Encountered unsupported property ", name, " (", spec.type,
                                    " has no such property)"));
    }
    return absl::OkStatus();
  }

  absl::Status DependsOn(ResourceDecl& r, const Json& v, const std::string& path) {
    std::vector<std::pair<std::string, std::string>> names;  // (name, path)
    if (v.is_string()) {
      names.emplace_back(v.get<std::string>(), path);
    } else if (v.is_array()) {
      for (std::size_t i = 0; i < v.size(); ++i) {
        if (!v[i].is_string()) return Error(IndexPath(path, i), "must be a logical id");
        names.emplace_back(v[i].get<std::string>(), IndexPath(path, i));
      }
    } else {
      return Error(path, "DependsOn must be a logical id or a list of them");
    }
    for (const auto& [name, at] : names) {
      if (t_.FindResource(name) == nullptr) {
        return Error(at, absl::StrCat("Unresolved resource dependencies [", name,
                                      "] in the Resources block of the template"));
      }
      r.depends_on.push_back(name);
      refs_[r.logical_id].insert(name);
    }
    return absl::OkStatus();
  }

  // ISO 8601 durations as CloudFormation writes them: PT#H#M#S (each part optional, one at
  // least), at most kMaxSignalTimeout.
  static std::optional<absl::Duration> ParseIsoDuration(const std::string& text) {
    if (text.size() < 3 || text.rfind("PT", 0) != 0) return std::nullopt;
    absl::Duration total;
    std::string digits;
    std::string order = "HMS";
    for (std::size_t i = 2; i < text.size(); ++i) {
      const char c = text[i];
      if (c >= '0' && c <= '9') {
        digits.push_back(c);
        if (digits.size() > 6) return std::nullopt;
        continue;
      }
      const std::size_t pos = order.find(c);
      if (digits.empty() || pos == std::string::npos) return std::nullopt;
      order = order.substr(pos + 1);  // units in order, each once
      const int64_t n = std::stoll(digits);
      total += c == 'H' ? absl::Hours(n) : c == 'M' ? absl::Minutes(n) : absl::Seconds(n);
      digits.clear();
    }
    if (!digits.empty()) return std::nullopt;
    return total;
  }

  absl::Status CreationPolicy(ResourceDecl& r, const Json& v, const std::string& path) {
    if (!r.spec->resource_signal) {
      return Error(path, absl::StrCat("CreationPolicy does not apply to ", r.spec->type));
    }
    if (!v.is_object()) return Error(path, "CreationPolicy must be an object");
    for (const auto& [key, body] : v.items()) {
      const std::string at = ChildPath(path, key);
      if (key != "ResourceSignal") {
        return Error(at, absl::StrCat("CreationPolicy.", key, " is not supported by minicloud"));
      }
      if (!body.is_object()) return Error(at, "ResourceSignal must be an object");
      ResourceSignalPolicy policy;
      for (const auto& [field, fv] : body.items()) {
        const std::string fat = ChildPath(at, field);
        if (!FunctionName(fv).empty()) {
          return Error(fat, "minicloud wants a literal value here");
        }
        if (field == "Count") {
          int64_t n = 0;
          const std::string text = fv.is_string() ? fv.get<std::string>() : fv.dump();
          if (!absl::SimpleAtoi(text, &n) || n < 1) {
            return Error(fat, "Count must be a positive integer");
          }
          policy.count = n;
        } else if (field == "Timeout") {
          const auto d = fv.is_string() ? ParseIsoDuration(fv.get<std::string>()) : std::nullopt;
          if (!d || *d <= absl::ZeroDuration() || *d > kMaxSignalTimeout) {
            return Error(fat, "Timeout must be an ISO 8601 duration such as PT15M, at most PT12H");
          }
          policy.timeout = *d;
        } else {
          return Error(fat, absl::StrCat("unknown ResourceSignal field ", field));
        }
      }
      r.signal = policy;
    }
    return absl::OkStatus();
  }

  absl::Status Outputs() {
    if (!doc_.root.contains("Outputs")) return absl::OkStatus();
    const Json& section = doc_.root["Outputs"];
    if (!section.is_object()) return Error("Outputs", "must be an object");
    if (section.size() > kMaxOutputs) {
      return Error("Outputs", absl::StrCat("more than ", kMaxOutputs, " outputs"));
    }
    for (const auto& [name, body] : section.items()) {
      const std::string path = ChildPath("Outputs", name);
      if (!body.is_object()) return Error(path, "an output must be an object");
      OutputDecl out;
      out.name = name;
      for (const auto& [key, v] : body.items()) {
        const std::string at = ChildPath(path, key);
        if (key == "Value") {
          std::set<std::string> unused;
          if (auto s = Check(v, at, Scope::kOutput, &unused); !s.ok()) return s;
          out.value = v;
        } else if (key == "Description") {
          if (!v.is_string()) return Error(at, "must be a string");
          out.description = v.get<std::string>();
        } else if (key == "Condition") {
          if (!v.is_string() || !t_.conditions.contains(v.get<std::string>())) {
            return Error(at, "Condition must name a condition of the Conditions section");
          }
          out.condition = v.get<std::string>();
        } else if (key == "Export") {
          return Error(at, "Export is not supported by minicloud");
        } else {
          return Error(at, absl::StrCat("Invalid output property ", key));
        }
      }
      if (!body.contains("Value")) return Error(path, "an output must have a Value");
      t_.outputs.push_back(std::move(out));
    }
    return absl::OkStatus();
  }

  // Kahn's algorithm; of the resources ready at each step, the first declared goes first.
  absl::Status Order() {
    std::map<std::string, std::size_t> position;
    for (std::size_t i = 0; i < t_.resources.size(); ++i) {
      position[t_.resources[i].logical_id] = i;
    }
    std::vector<std::size_t> waiting(t_.resources.size(), 0);
    std::vector<std::vector<std::size_t>> dependents(t_.resources.size());
    for (const ResourceDecl& r : t_.resources) {
      std::vector<std::string>& deps = t_.dependencies[r.logical_id];
      for (const std::string& d : refs_[r.logical_id]) deps.push_back(d);
      std::sort(deps.begin(), deps.end(), [&](const std::string& a, const std::string& b) {
        return position[a] < position[b];
      });
      waiting[position[r.logical_id]] = deps.size();
      for (const std::string& d : deps) dependents[position[d]].push_back(position[r.logical_id]);
    }
    std::priority_queue<std::size_t, std::vector<std::size_t>, std::greater<>> ready;
    for (std::size_t i = 0; i < waiting.size(); ++i) {
      if (waiting[i] == 0) ready.push(i);
    }
    while (!ready.empty()) {
      const std::size_t i = ready.top();
      ready.pop();
      t_.creation_order.push_back(t_.resources[i].logical_id);
      for (std::size_t d : dependents[i]) {
        if (--waiting[d] == 0) ready.push(d);
      }
    }
    if (t_.creation_order.size() != t_.resources.size()) {
      std::vector<std::string> cycle;
      for (std::size_t i = 0; i < waiting.size(); ++i) {
        if (waiting[i] != 0) cycle.push_back(t_.resources[i].logical_id);
      }
      return TemplateError("Resources", absl::StrCat("Circular dependency between resources: [",
                                                     absl::StrJoin(cycle, ", "), "]"));
    }
    return absl::OkStatus();
  }

  const TemplateDocument& doc_;
  Template& t_;
  std::map<std::string, std::set<std::string>> refs_;
};

}  // namespace

absl::Status CheckResources(const TemplateDocument& doc, Template* t) {
  return ResourceChecker(doc, t).Run();
}

}  // namespace minicloud::cloudformation
