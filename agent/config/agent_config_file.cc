#include "agent/config/agent_config_file.h"

#include <yaml-cpp/yaml.h>

#include <fstream>
#include <functional>
#include <map>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace minicloud::agent {
namespace {

std::string Where(absl::string_view source, const YAML::Node& n) {
  return absl::StrCat(source, ":", n.Mark().line + 1);
}

template <typename T>
absl::StatusOr<T> As(const YAML::Node& n, absl::string_view key, absl::string_view source,
                     const char* type_name) {
  if (!n.IsScalar()) {
    return absl::InvalidArgumentError(
        absl::StrCat(Where(source, n), ": '", key, "' must be a ", type_name));
  }
  try {
    return n.as<T>();
  } catch (const YAML::Exception&) {
    return absl::InvalidArgumentError(absl::StrCat(Where(source, n), ": '", key, "' must be a ",
                                                   type_name, ", got '", n.Scalar(), "'"));
  }
}

// Validates one key's value and stores it in the config.
struct Spec {
  std::function<absl::Status(const YAML::Node&, absl::string_view key, absl::string_view source,
                             AgentFileConfig&)>
      set;
};

Spec String(std::optional<std::string> AgentFileConfig::*member) {
  return {[member](const YAML::Node& n, absl::string_view key, absl::string_view source,
                   AgentFileConfig& c) -> absl::Status {
    auto v = As<std::string>(n, key, source, "string");
    if (!v.ok()) return v.status();
    if (v->empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(Where(source, n), ": '", key, "' must not be empty"));
    }
    c.*member = *v;
    return absl::OkStatus();
  }};
}

template <typename T>
Spec Number(std::optional<T> AgentFileConfig::*member, int64_t min, int64_t max) {
  return {[=](const YAML::Node& n, absl::string_view key, absl::string_view source,
              AgentFileConfig& c) -> absl::Status {
    auto v = As<int64_t>(n, key, source, "whole number");
    if (!v.ok()) return v.status();
    if (*v < min || *v > max) {
      return absl::InvalidArgumentError(absl::StrCat(Where(source, n), ": '", key, "' must be in ",
                                                     min, "..", max, ", got ", *v));
    }
    c.*member = static_cast<T>(*v);
    return absl::OkStatus();
  }};
}

Spec Bool(std::optional<bool> AgentFileConfig::*member) {
  return {[member](const YAML::Node& n, absl::string_view key, absl::string_view source,
                   AgentFileConfig& c) -> absl::Status {
    auto v = As<bool>(n, key, source, "boolean (true/false)");
    if (!v.ok()) return v.status();
    c.*member = *v;
    return absl::OkStatus();
  }};
}

// A sequence of non-empty strings.
Spec StringList(std::optional<std::vector<std::string>> AgentFileConfig::*member) {
  return {[member](const YAML::Node& n, absl::string_view key, absl::string_view source,
                   AgentFileConfig& c) -> absl::Status {
    if (!n.IsSequence()) {
      return absl::InvalidArgumentError(
          absl::StrCat(Where(source, n), ": '", key, "' must be a list of strings"));
    }
    std::vector<std::string> values;
    for (const YAML::Node& item : n) {
      auto v = As<std::string>(item, key, source, "list of strings");
      if (!v.ok()) return v.status();
      if (v->empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat(Where(source, item), ": '", key, "' must not hold empty strings"));
      }
      values.push_back(*v);
    }
    c.*member = std::move(values);
    return absl::OkStatus();
  }};
}

// Keys by section ("" = top level).
const std::map<std::string, std::map<std::string, Spec>>& Schema() {
  static const auto* kSchema = new std::map<std::string, std::map<std::string, Spec>>{
      {"",
       {{"controller", String(&AgentFileConfig::controller)},
        {"join_token", String(&AgentFileConfig::join_token)},
        {"join_token_file", String(&AgentFileConfig::join_token_file)},
        {"listen", String(&AgentFileConfig::listen)},
        {"advertise", String(&AgentFileConfig::advertise)},
        {"state_dir", String(&AgentFileConfig::state_dir)},
        {"hostname", String(&AgentFileConfig::hostname)},
        {"accel", String(&AgentFileConfig::accel)},
        {"stop_timeout_seconds", Number(&AgentFileConfig::stop_timeout_seconds, 1, 3600)},
        {"qemu_user", String(&AgentFileConfig::qemu_user)},
        {"cfn_bootstrap_archive", String(&AgentFileConfig::cfn_bootstrap_archive)}}},
      {"topology",
       {{"region", String(&AgentFileConfig::region)},
        {"availability_zone", String(&AgentFileConfig::availability_zone)},
        {"rack", String(&AgentFileConfig::rack)}}},
      {"capacity",
       {{"vcpus", Number(&AgentFileConfig::vcpus, 1, 4096)},
        {"memory_mib", Number(&AgentFileConfig::memory_mib, 1, int64_t{1} << 40)},
        {"instance_store_gb", Number(&AgentFileConfig::instance_store_gb, 0, int64_t{1} << 30)}}},
      {"network",
       {{"bridge", String(&AgentFileConfig::bridge)},
        {"nat", Bool(&AgentFileConfig::nat)},
        {"dns_upstream", StringList(&AgentFileConfig::dns_upstream)}}},
  };
  return *kSchema;
}

absl::Status ApplyMap(const YAML::Node& map, const std::string& section, absl::string_view source,
                      AgentFileConfig& c) {
  const auto& keys = Schema().at(section);
  for (const auto& kv : map) {
    const std::string key = kv.first.as<std::string>();
    const std::string path = section.empty() ? key : absl::StrCat(section, ".", key);
    if (section.empty() && Schema().contains(key)) {
      if (!kv.second.IsMap()) {
        return absl::InvalidArgumentError(
            absl::StrCat(Where(source, kv.first), ": '", key, "' must be a mapping"));
      }
      if (absl::Status s = ApplyMap(kv.second, key, source, c); !s.ok()) return s;
      continue;
    }
    auto spec = keys.find(key);
    if (spec == keys.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat(Where(source, kv.first), ": unknown key '", path, "'"));
    }
    if (absl::Status s = spec->second.set(kv.second, path, source, c); !s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<AgentFileConfig> ParseAgentConfig(absl::string_view yaml, absl::string_view source) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ":", e.mark.line + 1, ": not valid YAML: ", e.msg));
  }
  AgentFileConfig c;
  if (root.IsNull()) return c;  // an empty file
  if (!root.IsMap()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": the top level must be a mapping"));
  }
  if (absl::Status s = ApplyMap(root, "", source, c); !s.ok()) return s;
  if (c.accel && *c.accel != "auto" && *c.accel != "kvm" && *c.accel != "tcg") {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": 'accel' must be auto, kvm or tcg, got '", *c.accel, "'"));
  }
  if (c.bridge && c.bridge->size() > 15) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": 'network.bridge' must be at most 15 characters"));
  }
  return c;
}

absl::StatusOr<AgentFileConfig> LoadAgentConfig(const std::string& path) {
  std::ifstream f(path);
  if (!f) return absl::NotFoundError(absl::StrCat("cannot read config file ", path));
  std::stringstream text;
  text << f.rdbuf();
  return ParseAgentConfig(text.str(), path);
}

}  // namespace minicloud::agent
