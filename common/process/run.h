#pragma once

// Running a program to completion and capturing what it writes: built on Spawn (spawn.h), so
// never a shell, argv[0] looked up in PATH, clean signal mask and fds in the child.
//
// Contract of RunCapturingOutput:
// - The child runs in its own process group. stdin is /dev/null, or `stdin_data` written to it
//   (then closed; SIGPIPE-safe: a child that does not read it is fine).
// - stdout and stderr are captured, each bounded: only the last `max_output_bytes` of each are
//   kept (the tail is what explains a failure). With `merge_stderr` both go to one pipe and
//   `out` holds them interleaved as written (`err` stays empty).
// - The call returns when the direct child exits (waitpid). Output the child wrote before
//   exiting is captured; descendants that outlive it (a daemon that forks) do not hold the call
//   up even if they keep the pipes open.
// - The returned StatusOr is an error only when the program did not run to its end: NotFound /
//   FailedPrecondition (cannot be executed, from Spawn), InvalidArgument (empty argv),
//   DeadlineExceeded (the timeout passed: the process group was SIGKILLed and reaped), Internal
//   (pipe/poll failures). How it ended is in the result: `status` is OK for exit 0 and otherwise
//   an Internal error naming the command, the exit status or signal, and the tail of its output.
// - Thread-safe.

#include <sys/types.h>

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace minicloud::process {

struct RunOptions {
  absl::Duration timeout = absl::InfiniteDuration();
  std::string stdin_data;              // written to the child's stdin (/dev/null if empty)
  size_t max_output_bytes = 64 << 10;  // per stream; older bytes are dropped
  bool merge_stderr = false;           // stderr into the stdout pipe
};

struct RunResult {
  int exit_code = -1;  // the exit status; -1 when a signal ended the child
  int signal = 0;      // the signal that ended the child; 0 when it exited
  std::string out;     // the tail of stdout (stdout and stderr with merge_stderr)
  std::string err;     // the tail of stderr
  // OK when the child exited with 0; else Internal: "'qemu-img create x' exited with status 3:
  // <tail>" or "... was killed by signal 9 (Killed): <tail>", the tail being the last 2000
  // bytes of stderr (of stdout when stderr is empty), white space trimmed.
  absl::Status status;

  bool ok() const { return status.ok(); }
};

absl::StatusOr<RunResult> RunCapturingOutput(const std::vector<std::string>& argv,
                                             const RunOptions& options = {});

// "ip link set dev x up": a command for logs and messages (arguments with spaces, quotes or
// shell characters single-quoted the way sh reads them back).
std::string ArgvToString(const std::vector<std::string>& argv);

}  // namespace minicloud::process
