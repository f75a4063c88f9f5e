#include "agent/network/command.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/process/run.h"

namespace minicloud::network {
namespace {

constexpr size_t kMaxCapture = 64 << 20;  // per stream; beyond it only the tail is kept

}  // namespace

std::string ArgvToString(const std::vector<std::string>& argv) {
  return process::ArgvToString(argv);
}

absl::StatusOr<CommandResult> RunCommand(const std::vector<std::string>& argv,
                                         const CommandOptions& options) {
  if (argv.empty()) return absl::InvalidArgumentError("RunCommand: empty argv");
  process::RunOptions run;
  run.timeout = options.timeout;
  run.stdin_data = options.stdin_data;
  run.max_output_bytes = kMaxCapture;
  absl::StatusOr<process::RunResult> ran = process::RunCapturingOutput(argv, run);
  if (!ran.ok()) return ran.status();
  CommandResult result;
  result.exit_code = ran->signal != 0 ? 128 + ran->signal : ran->exit_code;
  result.out = std::move(ran->out);
  result.err = std::move(ran->err);
  return result;
}

absl::StatusOr<std::string> RunCommandOk(const std::vector<std::string>& argv,
                                         const CommandOptions& options) {
  auto result = RunCommand(argv, options);
  if (!result.ok()) return result.status();
  if (result->exit_code != 0) {
    absl::string_view text = absl::StripAsciiWhitespace(result->err);
    if (text.empty()) text = absl::StripAsciiWhitespace(result->out);
    return absl::InternalError(absl::StrCat(text.empty() ? "" : text, text.empty() ? "" : " ",
                                            "(exit status ", result->exit_code, ")"));
  }
  return std::move(result->out);
}

}  // namespace minicloud::network
