#pragma once

// Runs a program with an argv (fork/exec, never a shell), feeding optional stdin and capturing
// stdout and stderr, bounded by a timeout. The agent's face of process::RunCapturingOutput
// (common/process/run.h), which does the work; this layer keeps the network code's result shape
// (128 + signal as the exit code) and RunCommandOk's message.
//
// Contract:
// - argv[0] is looked up in PATH unless it contains a '/'.
// - The child starts with an empty signal mask and default signal dispositions (the agent blocks
//   SIGTERM/SIGINT for its signal thread; a daemon started from here must not inherit that), in
//   its own process group, with only fds 0-2 open.
// - The call returns when the direct child exits. Output the child wrote before exiting is
//   captured (up to 64 MiB per stream, then its tail); descendants that outlive it (a daemon that
//   forks, like dnsmasq) do not hold the call up even if they keep the pipes open.
// - On timeout the child's process group is SIGKILLed and reaped; the result is
//   DeadlineExceeded. A program that cannot be found or executed is NotFound /
//   FailedPrecondition. A non-zero exit is NOT an error for RunCommand (see RunCommandOk).
// - Thread-safe; SIGPIPE-safe (stdin is written with MSG_NOSIGNAL).

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace minicloud::network {

struct CommandOptions {
  absl::Duration timeout = absl::Seconds(30);
  std::string
      stdin_data;  // written to the child's stdin, which is then closed (/dev/null if empty)
};

struct CommandResult {
  int exit_code = -1;  // exit status, or 128 + signal number if the child died of a signal
  std::string out;     // stdout
  std::string err;     // stderr
};

absl::StatusOr<CommandResult> RunCommand(const std::vector<std::string>& argv,
                                         const CommandOptions& options = {});

// RunCommand, and a non-zero exit becomes an Internal error whose message is the child's
// trimmed stderr (or stdout when stderr is empty) plus " (exit status N)". Callers add context:
// Annotate(status, "add tap mc-1 to br-mc0") -> "add tap mc-1 to br-mc0: <stderr> (exit ...)".
// Returns stdout.
absl::StatusOr<std::string> RunCommandOk(const std::vector<std::string>& argv,
                                         const CommandOptions& options = {});

// "ip link set dev x up" — for logs and messages (arguments with spaces or quotes are quoted).
std::string ArgvToString(const std::vector<std::string>& argv);

}  // namespace minicloud::network
