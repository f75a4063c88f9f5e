#pragma once

// cfn-init's planner, PURE: AWS::CloudFormation::Init metadata + the configSets asked for →
// the ordered steps to run. No I/O, no clock.
//
// Rules (AWS::CloudFormation::Init):
// - No configSets asked: the "default" configSet when the metadata has one, else the single
//   config named "config" (reported as configSet "default").
// - A configSet is a list (or one item) of config names and {"ConfigSet": "<name>"} references,
//   expanded in place, recursively; a cycle or an unknown name is an error naming it.
// - Within a config the sections run in EC2's order: packages, groups, users, sources, files,
//   commands, services; commands in their keys' order (byte order), everything else in the
//   metadata's key order (nlohmann::json objects are sorted by key, as the AWS helper's dicts).
// - A section or key the helpers do not support is refused by name before anything runs: the
//   step carries `refusal`, and the executor stops on the first refused step.

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "guest/cfn/status.h"

namespace minicloud::guest {

enum class Section { kPackages, kGroups, kUsers, kSources, kFiles, kCommands, kServices };
const char* SectionName(Section section);

struct Step {
  std::string config_set;  // the configSet that lists the config
  std::string config;
  Section section = Section::kPackages;
  std::string key;      // packages: the manager; services: the service name; else the entry key
  std::string manager;  // services: "systemd" or "sysvinit"
  nlohmann::json spec;  // the entry's value
  std::string refusal;  // non-empty: this step cannot run (unsupported or malformed)

  // "<configSet>/<config>/<section>/<key>", as the console report names a step.
  std::string Name() const;
};

// `config_sets`: what -c/--configsets named (empty: the default rule above).
StatusOr<std::vector<Step>> PlanInit(const nlohmann::json& metadata,
                                     const std::vector<std::string>& config_sets);

// "a,b , c" → {"a","b","c"} (empty items dropped).
std::vector<std::string> SplitConfigSets(const std::string& list);

// Values that CloudFormation may carry as booleans or as the strings "true"/"false".
bool IsTrue(const nlohmann::json& value);

}  // namespace minicloud::guest
