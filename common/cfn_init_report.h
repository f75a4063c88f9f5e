#pragma once

// What cfn-init said on a guest's serial console, parsed back. cfn-init (guest/) writes a fixed
// report to stderr, which cloud-init copies to the console (docs: /work/cfn-seams.md's format,
// restated here as the contract):
//
//   cfn-init: step <configSet>/<config>/<section>/<key> failed: <one-line message>
//   cfn-init: output: <line>                 (the failing command's last lines, at most 20)
//   cfn-init: result: success | failed (exit <N>)
//   cfn-init: error: <message>               (it could not start: no metadata, a bad flag, …)
//
// Each line may carry the console's prefix ("[  70.3] cloud-init[495]: "), a carriage return or
// colour codes. Pure: built from console text only; used by `create-stack --wait`'s verdict.

#include <optional>
#include <string>
#include <vector>

namespace minicloud {

struct CfnInitStepFailure {
  std::string config_set;  // "default"
  std::string config;      // "config"
  std::string section;     // packages, groups, users, sources, files, commands, services
  std::string key;         // the package, user, path or command name (a path keeps its slashes)
  std::string message;     // "exit status 3", "killed by signal 9", …
  std::vector<std::string> output;  // the lines cfn-init printed after the step line
};

// One run of cfn-init: the lines up to and including its result line (or to the end of the
// console when the run has not finished).
struct CfnInitRun {
  std::vector<CfnInitStepFailure> failures;  // in the order printed
  std::vector<std::string> errors;           // "error: …" lines (no step ran or could run)
  bool finished = false;                     // a result line was seen
  bool succeeded = false;                    // "result: success"
  std::optional<int> exit_code;              // "result: failed (exit N)"
};

// Every run seen, oldest first (cfn-init may run again, e.g. from cfn-hup). Empty when the console
// has no cfn-init line.
std::vector<CfnInitRun> ParseCfnInitConsole(const std::string& console);

// "default/config/commands/02_check failed: exit status 3" and the output lines indented under
// it, or "result: success"; a few lines for people, each ending with "\n", each indented by
// `indent`. "no cfn-init report on the console" when `run` is nullopt.
std::string FormatCfnInitRun(const std::optional<CfnInitRun>& run, const std::string& indent);

}  // namespace minicloud
