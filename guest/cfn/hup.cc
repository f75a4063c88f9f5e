#include "guest/cfn/hup.h"

#include <dirent.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include "guest/cfn/init_plan.h"
#include "guest/cfn/real_system.h"

namespace minicloud::guest {

using nlohmann::json;

namespace {

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r") - b + 1);
}

std::vector<std::string> SplitOn(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string item;
  std::istringstream in(s);
  while (std::getline(in, item, sep)) out.push_back(item);
  if (!s.empty() && s.back() == sep) out.push_back("");
  return out;
}

StatusOr<std::optional<std::string>> ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::optional<std::string>();
  std::ostringstream text;
  text << in.rdbuf();
  return std::optional<std::string>(text.str());
}

std::string StateFile(const std::string& data_dir, const std::string& hook) {
  std::string safe;
  for (char c : hook)
    safe += std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' ? c : '_';
  return data_dir + "/hook-" + safe + ".json";
}

}  // namespace

StatusOr<IniSections> ParseIni(const std::string& text, const std::string& file_name) {
  IniSections sections;
  std::istringstream in(text);
  std::string raw;
  int line_no = 0;
  std::string last_key;
  while (std::getline(in, raw)) {
    ++line_no;
    const std::string where = file_name + ":" + std::to_string(line_no);
    std::string line = Trim(raw);
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    // A continuation line (indented) extends the previous value, as Python's configparser.
    if ((raw[0] == ' ' || raw[0] == '\t') && !sections.empty() && !last_key.empty()) {
      sections.back().second[last_key] += "\n" + line;
      continue;
    }
    if (line[0] == '[') {
      if (line.back() != ']' || line.size() < 3) return Error(where + ": malformed section");
      sections.emplace_back(Trim(line.substr(1, line.size() - 2)),
                            std::map<std::string, std::string>());
      last_key.clear();
      continue;
    }
    size_t sep = line.find_first_of("=:");
    if (sep == std::string::npos) return Error(where + ": expected key=value");
    if (sections.empty()) return Error(where + ": key outside a [section]");
    std::string key = Trim(line.substr(0, sep));
    std::transform(key.begin(), key.end(), key.begin(), ::tolower);
    if (key.empty()) return Error(where + ": empty key");
    sections.back().second[key] = Trim(line.substr(sep + 1));
    last_key = key;
  }
  return sections;
}

StatusOr<HupConfig> ParseHupConfig(const std::string& text) {
  StatusOr<IniSections> ini = ParseIni(text, "cfn-hup.conf");
  if (!ini.ok()) return ini.status();
  const std::map<std::string, std::string>* main = nullptr;
  for (const auto& [name, values] : *ini) {
    if (name == "main") main = &values;
  }
  if (main == nullptr) return Error("cfn-hup.conf: no [main] section");
  HupConfig config;
  auto get = [&](const char* key) -> std::optional<std::string> {
    auto it = main->find(key);
    if (it == main->end()) return std::nullopt;
    return it->second;
  };
  if (!get("stack") || get("stack")->empty()) return Error("cfn-hup.conf: [main] needs stack=");
  config.stack = *get("stack");
  config.region = get("region").value_or("");
  if (get("url")) config.url = *get("url");
  if (auto interval = get("interval")) {
    try {
      size_t used = 0;
      config.interval_minutes = std::stod(*interval, &used);
      if (used != interval->size() || !(config.interval_minutes > 0) ||
          config.interval_minutes > 24 * 60) {
        throw std::invalid_argument("range");
      }
    } catch (const std::exception&) {
      return Error("cfn-hup.conf: interval=" + *interval + " is not a number of minutes > 0");
    }
  }
  if (auto v = get("verbose")) config.verbose = IsTrue(json(*v));
  return config;
}

StatusOr<HookPath> ParseHookPath(const std::string& path) {
  std::vector<std::string> parts = SplitOn(path, '.');
  if (parts.size() < 3 || parts[0] != "Resources" || parts[1].empty()) {
    return Error("path " + path +
                 ": expected Resources.<LogicalId>.Metadata[.key…] or .PhysicalResourceId");
  }
  HookPath out;
  out.resource = parts[1];
  if (parts[2] == "PhysicalResourceId" && parts.size() == 3) {
    out.physical_id = true;
    return out;
  }
  if (parts[2] != "Metadata") {
    return Error("path " + path + ": expected Metadata or PhysicalResourceId after the resource");
  }
  for (size_t i = 3; i < parts.size(); ++i) {
    if (parts[i].empty()) return Error("path " + path + ": empty key");
    out.metadata.push_back(parts[i]);
  }
  return out;
}

StatusOr<std::vector<Hook>> ParseHooks(const std::string& text, const std::string& file_name) {
  StatusOr<IniSections> ini = ParseIni(text, file_name);
  if (!ini.ok()) return ini.status();
  std::vector<Hook> hooks;
  static const std::set<std::string> kTriggers = {"post.add", "post.update", "post.remove"};
  for (const auto& section : *ini) {
    // Not a structured binding: clang before 16 cannot capture one in the lambda below.
    const std::string& name = section.first;
    const std::map<std::string, std::string>& values = section.second;
    const std::string where = file_name + " [" + name + "]";
    Hook hook;
    hook.name = name;
    auto get = [&](const char* key) {
      auto it = values.find(key);
      return it == values.end() ? std::string() : it->second;
    };
    for (const std::string& t : SplitOn(get("triggers"), ',')) {
      std::string trigger = Trim(t);
      if (trigger.empty()) continue;
      if (!kTriggers.count(trigger)) return Error(where + ": unknown trigger " + trigger);
      hook.triggers.push_back(trigger);
    }
    if (hook.triggers.empty()) return Error(where + ": triggers= is required");
    hook.path = get("path");
    StatusOr<HookPath> parsed = ParseHookPath(hook.path);
    if (!parsed.ok()) return parsed.status().WithContext(where);
    hook.parsed = *parsed;
    hook.action = get("action");
    if (hook.action.empty()) return Error(where + ": action= is required");
    if (!get("runas").empty()) hook.runas = get("runas");
    hooks.push_back(hook);
  }
  return hooks;
}

std::optional<json> ValueAt(const HookPath& path, const ResourceDetail& detail) {
  if (path.physical_id) {
    if (detail.physical_id.empty()) return std::nullopt;
    return json(detail.physical_id);
  }
  const json* at = &detail.metadata;
  if (at->is_null()) return std::nullopt;
  for (const std::string& key : path.metadata) {
    if (!at->is_object() || !at->contains(key)) return std::nullopt;
    at = &(*at)[key];
  }
  return *at;
}

std::string TriggerFor(const std::optional<json>& before, const std::optional<json>& after) {
  if (!before && after) return "post.add";
  if (before && !after) return "post.remove";
  if (before && after && *before != *after) return "post.update";
  return "";
}

HupPassResult RunHupPass(const std::vector<Hook>& hooks, const std::string& data_dir,
                         const HupDeps& deps) {
  HupPassResult result;
  std::map<std::string, StatusOr<ResourceDetail>> fetched;  // one read per resource and pass
  Status dirs = MakeDirs(data_dir);
  if (!dirs.ok()) {
    deps.log("cannot keep state: " + dirs.message());
    result.failures++;
    return result;
  }
  for (const Hook& hook : hooks) {
    auto it = fetched.find(hook.parsed.resource);
    if (it == fetched.end()) {
      it = fetched.emplace(hook.parsed.resource, deps.describe(hook.parsed.resource)).first;
    }
    if (!it->second.ok()) {
      deps.log("hook " + hook.name + ": " + it->second.status().message());
      result.failures++;
      continue;
    }
    std::optional<json> now = ValueAt(hook.parsed, *it->second);
    const std::string state_path = StateFile(data_dir, hook.name);
    StatusOr<std::optional<std::string>> kept = ReadText(state_path);
    json state = kept.ok() && kept->has_value() ? json::parse(**kept, nullptr, false) : json();
    // A kept state that is not what this code writes counts as none (first observation).
    const bool first = !state.is_object() || !state.contains("path") ||
                       state["path"] != json(hook.path) || !state.contains("present") ||
                       !state["present"].is_boolean();
    std::optional<json> before;
    if (!first && state["present"].get<bool>() && state.contains("value")) before = state["value"];

    json next = {{"path", hook.path}, {"present", now.has_value()}};
    if (now) next["value"] = *now;
    if (first) {
      deps.log("hook " + hook.name + ": watching " + hook.path);
    } else if (std::string trigger = TriggerFor(before, now); !trigger.empty()) {
      bool wanted =
          std::find(hook.triggers.begin(), hook.triggers.end(), trigger) != hook.triggers.end();
      deps.log("hook " + hook.name + ": " + trigger + (wanted ? ", running its action" : ""));
      if (wanted) {
        ProcessSpec spec;
        spec.argv = hook.runas == "root" || hook.runas.empty()
                        ? std::vector<std::string>{"/bin/sh", "-c", hook.action}
                        : std::vector<std::string>{"runuser", "-u", hook.runas, "--",
                                                   "/bin/sh", "-c", hook.action};
        spec.env["CFN_OLD_METADATA"] = before ? before->dump() : "";
        spec.env["CFN_NEW_METADATA"] = now ? now->dump() : "";
        StatusOr<ProcessResult> r = deps.run(spec);
        result.ran.push_back(hook.name);
        if (!r.ok()) {
          deps.log("hook " + hook.name + ": " + r.status().message());
          result.failures++;
        } else {
          if (!r->output.empty()) deps.log("hook " + hook.name + " output:\n" + r->output);
          deps.log("hook " + hook.name + ": action gave " + r->Describe());
          if (!r->ok()) result.failures++;
        }
      }
    }
    // Written atomically (a temp file and a rename) so a crash never leaves half a state.
    RealSystem files;
    Status st = files.WriteFileAtomic(state_path, next.dump(), 0600);
    if (!st.ok()) {
      deps.log("hook " + hook.name + ": " + st.message());
      result.failures++;
    }
  }
  return result;
}

StatusOr<HupFiles> LoadHupFiles(const std::string& config_dir) {
  HupFiles files;
  StatusOr<std::optional<std::string>> main = ReadText(config_dir + "/cfn-hup.conf");
  if (!main.ok()) return main.status();
  if (!main->has_value()) return Error(config_dir + "/cfn-hup.conf: no such file");
  StatusOr<HupConfig> config = ParseHupConfig(**main);
  if (!config.ok()) return config.status();
  files.config = *config;
  std::vector<std::string> hook_files = {config_dir + "/hooks.conf"};
  std::vector<std::string> in_dir;
  if (DIR* dir = ::opendir((config_dir + "/hooks.d").c_str())) {
    while (struct dirent* e = ::readdir(dir)) {
      std::string name = e->d_name;
      if (name.size() > 5 && name.compare(name.size() - 5, 5, ".conf") == 0) {
        in_dir.push_back(config_dir + "/hooks.d/" + name);
      }
    }
    ::closedir(dir);
  }
  std::sort(in_dir.begin(), in_dir.end());
  hook_files.insert(hook_files.end(), in_dir.begin(), in_dir.end());
  std::set<std::string> names;
  for (const std::string& path : hook_files) {
    StatusOr<std::optional<std::string>> text = ReadText(path);
    if (!text.ok()) return text.status();
    if (!text->has_value()) continue;
    StatusOr<std::vector<Hook>> hooks = ParseHooks(**text, path);
    if (!hooks.ok()) return hooks.status();
    for (Hook& hook : *hooks) {
      if (!names.insert(hook.name).second) {
        return Error(path + ": hook [" + hook.name + "] is defined twice");
      }
      files.hooks.push_back(std::move(hook));
    }
  }
  return files;
}

}  // namespace minicloud::guest
