#include "guest/cfn/init_plan.h"

#include <set>

namespace minicloud::guest {

using nlohmann::json;

namespace {

constexpr char kInitKey[] = "AWS::CloudFormation::Init";

struct SectionKey {
  const char* name;
  Section section;
};
// EC2's order of the sections inside one config.
constexpr SectionKey kSections[] = {
    {"packages", Section::kPackages}, {"groups", Section::kGroups},
    {"users", Section::kUsers},       {"sources", Section::kSources},
    {"files", Section::kFiles},       {"commands", Section::kCommands},
    {"services", Section::kServices},
};

// Package managers of the AWS helper that a Debian guest does not have.
const std::set<std::string> kRefusedManagers = {"yum", "rpm", "python", "rubygems", "msi", "dnf"};

bool IsOctalMode(const std::string& mode) {
  return !mode.empty() && mode.size() <= 6 &&
         mode.find_first_not_of("01234567") == std::string::npos;
}

std::string PackagesRefusal(const std::string& manager, const json& spec) {
  if (kRefusedManagers.count(manager)) {
    return "package manager " + manager + " is not supported on this guest (apt only)";
  }
  if (manager != "apt") return "unknown package manager " + manager + " (apt only)";
  if (!spec.is_object()) return "apt packages must be an object of name: versions";
  for (const auto& [name, versions] : spec.items()) {
    if (name.empty() || name.find_first_of(" \t=") != std::string::npos) {
      return "malformed package name \"" + name + "\"";
    }
    if (versions.is_array()) {
      if (versions.size() > 1) return "apt installs one version of " + name + ", not several";
      if (versions.size() == 1 && !versions[0].is_string()) {
        return "the version of " + name + " must be a string";
      }
    } else if (!versions.is_string()) {
      return "the versions of " + name + " must be a list or a string";
    }
  }
  return "";
}

std::string FileRefusal(const std::string& path, const json& spec) {
  if (path.empty() || path[0] != '/') return "the file path must be absolute";
  if (!spec.is_object()) return "a file entry must be an object";
  static const std::set<std::string> kKnown = {"content", "source", "encoding", "mode",
                                               "owner",   "group",  "context",  "authentication"};
  for (const auto& [k, v] : spec.items()) {
    if (!kKnown.count(k)) return "unknown file property " + k;
  }
  if (spec.contains("authentication")) return "file authentication is not supported";
  if (spec.contains("content") && spec.contains("source")) {
    return "a file has content or source, not both";
  }
  if (spec.contains("source") && !spec["source"].is_string()) return "source must be a URL";
  if (spec.contains("encoding")) {
    const json& e = spec["encoding"];
    if (!e.is_string() || (e != "plain" && e != "base64")) {
      return "encoding must be plain or base64";
    }
  }
  if (spec.contains("mode")) {
    if (!spec["mode"].is_string() || !IsOctalMode(spec["mode"].get<std::string>())) {
      return "mode must be an octal string such as \"000644\"";
    }
  }
  if (spec.contains("context") && !spec["context"].is_object()) return "context must be an object";
  for (const char* k : {"owner", "group"}) {
    if (spec.contains(k) && !spec[k].is_string()) return std::string(k) + " must be a string";
  }
  return "";
}

std::string CommandRefusal(const json& spec) {
  if (!spec.is_object()) return "a command entry must be an object";
  static const std::set<std::string> kKnown = {"command", "env",          "cwd",
                                               "test",    "ignoreErrors", "waitAfterCompletion"};
  for (const auto& [k, v] : spec.items()) {
    if (!kKnown.count(k)) return "unknown command property " + k;
  }
  if (!spec.contains("command")) return "a command entry needs command";
  const json& c = spec["command"];
  if (c.is_array()) {
    if (c.empty()) return "command is an empty list";
    for (const json& a : c) {
      if (!a.is_string()) return "command list items must be strings";
    }
  } else if (!c.is_string()) {
    return "command must be a string or a list";
  }
  if (spec.contains("env")) {
    if (!spec["env"].is_object()) return "env must be an object";
    for (const auto& [k, v] : spec["env"].items()) {
      if (!v.is_string()) return "env value " + k + " must be a string";
    }
  }
  if (spec.contains("cwd") && !spec["cwd"].is_string()) return "cwd must be a string";
  if (spec.contains("test") && !spec["test"].is_string()) return "test must be a string";
  return "";
}

std::string ServiceRefusal(const json& spec) {
  if (!spec.is_object()) return "a service entry must be an object";
  static const std::set<std::string> kKnown = {"enabled", "ensureRunning", "files",
                                               "sources", "packages",      "commands"};
  for (const auto& [k, v] : spec.items()) {
    if (!kKnown.count(k)) return "unknown service property " + k;
  }
  for (const char* k : {"files", "sources", "commands"}) {
    if (spec.contains(k) && !spec[k].is_array()) return std::string(k) + " must be a list";
  }
  if (spec.contains("packages") && !spec["packages"].is_object()) {
    return "packages must be an object of manager: [names]";
  }
  return "";
}

// Appends the steps of one config.
Status PlanConfig(const std::string& set_name, const std::string& config_name, const json& config,
                  std::vector<Step>& out) {
  if (!config.is_object()) {
    return Error("config " + config_name + ": must be an object");
  }
  std::set<std::string> known;
  for (const SectionKey& s : kSections) known.insert(s.name);
  for (const auto& [name, value] : config.items()) {
    if (!known.count(name)) {
      return Error("config " + config_name + ": unsupported section " + name);
    }
  }
  for (const SectionKey& s : kSections) {
    auto it = config.find(s.name);
    if (it == config.end()) continue;
    auto make = [&](const std::string& key, const json& spec) {
      Step step;
      step.config_set = set_name;
      step.config = config_name;
      step.section = s.section;
      step.key = key;
      step.spec = spec;
      return step;
    };
    if (!it->is_object()) {
      Step step = make("", *it);
      step.refusal = std::string("section ") + s.name + " must be an object";
      out.push_back(step);
      continue;
    }
    for (const auto& [key, spec] : it->items()) {
      if (s.section == Section::kServices) {
        if (key != "systemd" && key != "sysvinit") {
          Step step = make(key, spec);
          step.refusal = "service manager " + key + " is not supported (systemd or sysvinit)";
          out.push_back(step);
          continue;
        }
        if (!spec.is_object()) {
          Step step = make(key, spec);
          step.refusal = "services." + key + " must be an object";
          out.push_back(step);
          continue;
        }
        for (const auto& [service, service_spec] : spec.items()) {
          Step step = make(service, service_spec);
          step.manager = key;
          step.refusal = ServiceRefusal(service_spec);
          out.push_back(step);
        }
        continue;
      }
      Step step = make(key, spec);
      switch (s.section) {
        case Section::kPackages:
          step.refusal = PackagesRefusal(key, spec);
          break;
        case Section::kGroups:
          if (!spec.is_object()) step.refusal = "a group entry must be an object";
          break;
        case Section::kUsers:
          if (!spec.is_object()) {
            step.refusal = "a user entry must be an object";
          } else if (spec.contains("groups") && !spec["groups"].is_array()) {
            step.refusal = "groups must be a list";
          }
          break;
        case Section::kSources:
          if (!spec.is_string()) step.refusal = "a source must be a URL";
          if (key.empty() || key[0] != '/') step.refusal = "the target directory must be absolute";
          break;
        case Section::kFiles:
          step.refusal = FileRefusal(key, spec);
          break;
        case Section::kCommands:
          step.refusal = CommandRefusal(spec);
          break;
        case Section::kServices:
          break;
      }
      out.push_back(step);
    }
  }
  return OkStatus();
}

// Expands configSet `name` into (set, config) pairs.
Status ExpandSet(const json& init, const std::string& name, std::vector<std::string>& stack,
                 std::vector<std::pair<std::string, std::string>>& out) {
  for (const std::string& open : stack) {
    if (open == name) return Error("configSet " + name + " refers to itself (cycle)");
  }
  const json* sets = init.contains("configSets") ? &init["configSets"] : nullptr;
  if (sets == nullptr || !sets->is_object() || !sets->contains(name)) {
    return Error("no configSet named " + name);
  }
  json items = (*sets)[name];
  if (!items.is_array()) items = json::array({items});
  stack.push_back(name);
  for (const json& item : items) {
    if (item.is_string()) {
      out.emplace_back(name, item.get<std::string>());
    } else if (item.is_object() && item.size() == 1 && item.contains("ConfigSet") &&
               item["ConfigSet"].is_string()) {
      GUEST_RETURN_IF_ERROR(ExpandSet(init, item["ConfigSet"].get<std::string>(), stack, out));
    } else {
      return Error("configSet " + name +
                   ": an item must be a config name or {\"ConfigSet\": name}");
    }
  }
  stack.pop_back();
  return OkStatus();
}

}  // namespace

const char* SectionName(Section section) {
  for (const SectionKey& s : kSections) {
    if (s.section == section) return s.name;
  }
  return "?";
}

std::string Step::Name() const {
  return config_set + "/" + config + "/" + SectionName(section) + "/" + key;
}

bool IsTrue(const json& value) {
  if (value.is_boolean()) return value.get<bool>();
  if (value.is_string()) {
    std::string s = value.get<std::string>();
    return s == "true" || s == "True" || s == "TRUE";
  }
  return false;
}

std::vector<std::string> SplitConfigSets(const std::string& list) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= list.size()) {
    size_t comma = list.find(',', start);
    std::string item = list.substr(start, comma == std::string::npos ? comma : comma - start);
    size_t b = item.find_first_not_of(" \t");
    size_t e = item.find_last_not_of(" \t");
    if (b != std::string::npos) out.push_back(item.substr(b, e - b + 1));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

StatusOr<std::vector<Step>> PlanInit(const json& metadata,
                                     const std::vector<std::string>& config_sets) {
  if (!metadata.is_object() || !metadata.contains(kInitKey)) {
    return Error(std::string("the resource has no ") + kInitKey + " metadata");
  }
  const json& init = metadata[kInitKey];
  if (!init.is_object()) return Error(std::string(kInitKey) + " must be an object");

  std::vector<std::pair<std::string, std::string>> configs;
  bool has_sets = init.contains("configSets");
  if (has_sets && !init["configSets"].is_object()) return Error("configSets must be an object");
  std::vector<std::string> names = config_sets;
  if (names.empty()) names.push_back("default");
  for (const std::string& name : names) {
    if (name == "default" && !(has_sets && init["configSets"].contains("default"))) {
      configs.emplace_back("default", "config");
      continue;
    }
    std::vector<std::string> stack;
    GUEST_RETURN_IF_ERROR(ExpandSet(init, name, stack, configs));
  }
  std::vector<Step> steps;
  for (const auto& [set_name, config_name] : configs) {
    if (config_name == "configSets" || !init.contains(config_name)) {
      return Error("configSet " + set_name + ": no config named " + config_name);
    }
    GUEST_RETURN_IF_ERROR(PlanConfig(set_name, config_name, init[config_name], steps));
  }
  return steps;
}

}  // namespace minicloud::guest
