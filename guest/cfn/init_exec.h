#pragma once

// cfn-init's executor: runs planned steps (init_plan.h) against a System (system.h) and builds
// the console report the seam with the CLI fixes (common/cfn_init_report.*):
//   cfn-init: step <configSet>/<config>/<section>/<key> failed: <one-line message>
//   cfn-init: output: <line>                 (the failing step's last output lines, at most 20)
//   cfn-init: result: success | failed (exit <N>)
//
// Rules:
// - A refused step (the planner's `refusal`) stops the run before any step ran.
// - The first failing step stops the run; a command with ignoreErrors is logged and skipped.
// - A command with `test` runs only when the test exits 0; `env` replaces the environment.
// - A service is enabled/disabled per `enabled`, started/stopped per `ensureRunning`, and
//   restarted when it was already running and one of its listed files, sources, packages or
//   commands changed earlier in this run (file written with new content or mode, source
//   unpacked, package installed, command run).

#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "guest/cfn/init_plan.h"
#include "guest/cfn/system.h"

namespace minicloud::guest {

inline constexpr int kInitFailureExit = 1;
inline constexpr size_t kReportOutputLines = 20;

struct InitResult {
  int exit_code = 0;
  std::vector<std::string> report;  // the stderr lines, the result line last
};

using LogFn = std::function<void(const std::string&)>;

class InitExecutor {
 public:
  // `log`: cfn-init.log lines; `command_log`: cfn-init-cmd.log lines (commands and their output).
  InitExecutor(System& system, LogFn log, LogFn command_log);

  InitResult Run(const std::vector<Step>& steps);

 private:
  struct Failure {
    std::string message;
    std::string output;
  };
  std::optional<Failure> RunStep(const Step& step);
  std::optional<Failure> Packages(const Step& step);
  std::optional<Failure> Group(const Step& step);
  std::optional<Failure> User(const Step& step);
  std::optional<Failure> Source(const Step& step);
  std::optional<Failure> File(const Step& step);
  std::optional<Failure> Command(const Step& step);
  std::optional<Failure> Service(const Step& step);
  bool DependenciesChanged(const nlohmann::json& spec) const;

  System& system_;
  LogFn log_;
  LogFn command_log_;
  std::set<std::string> changed_files_;
  std::set<std::string> changed_sources_;
  std::map<std::string, std::set<std::string>> changed_packages_;
  std::set<std::string> changed_commands_;
};

// The report lines of a failed step (exposed for tests of the format).
std::vector<std::string> FailureReport(const std::string& step_name, const std::string& message,
                                       const std::string& output);

// Base64 (RFC 4648, padding optional, whitespace ignored). PURE.
StatusOr<std::string> DecodeBase64(const std::string& text);

// "000644" → 0644 with the file type bits kept (0120000 = symlink). PURE.
StatusOr<unsigned> ParseMode(const std::string& mode);

}  // namespace minicloud::guest
