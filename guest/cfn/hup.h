#pragma once

// cfn-hup: /etc/cfn/cfn-hup.conf ([main] stack, region, url, interval in minutes, verbose) and
// hooks (/etc/cfn/hooks.conf and /etc/cfn/hooks.d/*.conf: [name] triggers, path, action, runas).
// Each pass reads every hook's path from DescribeStackResource, compares it with the value seen
// last (kept per hook under the data directory, /var/lib/cfn-hup/data) and runs the action when
// the change matches a trigger:
//   absent → present: post.add;  present → present, different: post.update;
//   present → absent: post.remove.
// The first pass of a hook (nothing kept yet, or a hook whose path changed) only records the
// value: the instance was just configured with it. An action runs with CFN_OLD_METADATA and
// CFN_NEW_METADATA set (JSON text; empty when absent); the new value is kept whatever the
// action's outcome (it runs again only on the next change). A failed read keeps the old value.

#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "guest/cfn/cfn_api.h"
#include "guest/cfn/status.h"
#include "guest/cfn/system.h"

namespace minicloud::guest {

// "[section]" then "key=value" (or "key: value") lines; '#' and ';' start comments. PURE.
using IniSections = std::vector<std::pair<std::string, std::map<std::string, std::string>>>;
StatusOr<IniSections> ParseIni(const std::string& text, const std::string& file_name);

struct HupConfig {
  std::string stack;
  std::string region;
  std::string url = kDefaultCfnUrl;
  double interval_minutes = 15;
  bool verbose = false;
};
StatusOr<HupConfig> ParseHupConfig(const std::string& text);

struct HookPath {
  std::string resource;               // Resources.<resource>…
  bool physical_id = false;           // …PhysicalResourceId
  std::vector<std::string> metadata;  // …Metadata[.a.b]
};
StatusOr<HookPath> ParseHookPath(const std::string& path);

struct Hook {
  std::string name;
  std::vector<std::string> triggers;  // post.add, post.update, post.remove
  std::string path;
  HookPath parsed;
  std::string action;
  std::string runas = "root";
};
// Every section of a hooks file is a hook; errors name the file and the hook.
StatusOr<std::vector<Hook>> ParseHooks(const std::string& text, const std::string& file_name);

// The value a hook watches in a resource (nullopt: absent). PURE.
std::optional<nlohmann::json> ValueAt(const HookPath& path, const ResourceDetail& detail);

// Which trigger a change fires ("" when none): see the header's comment. PURE.
std::string TriggerFor(const std::optional<nlohmann::json>& before,
                       const std::optional<nlohmann::json>& after);

// What a pass needs from outside.
struct HupDeps {
  std::function<StatusOr<ResourceDetail>(const std::string& resource)> describe;
  std::function<StatusOr<ProcessResult>(const ProcessSpec&)> run;
  std::function<void(const std::string&)> log;
};

struct HupPassResult {
  std::vector<std::string> ran;  // hooks whose action ran, in order
  int failures = 0;              // reads or actions that failed
};

// One pass over the hooks with the state kept under `data_dir` (one JSON file per hook).
HupPassResult RunHupPass(const std::vector<Hook>& hooks, const std::string& data_dir,
                         const HupDeps& deps);

// Loads cfn-hup.conf, hooks.conf and hooks.d/*.conf (sorted) from `config_dir`.
struct HupFiles {
  HupConfig config;
  std::vector<Hook> hooks;
};
StatusOr<HupFiles> LoadHupFiles(const std::string& config_dir);

}  // namespace minicloud::guest
