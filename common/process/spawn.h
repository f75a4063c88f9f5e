#pragma once

// Starting a program: the one fork/exec of the project. Callers build on it (the agent's command
// runner in agent/network/command.h, the KVM probe's test guest).
//
// Contract of Spawn:
// - argv[0] is looked up in PATH (in the parent, before fork) unless it contains a '/';
//   never a shell. InvalidArgument for an empty argv; NotFound if it is not in PATH.
// - The child starts with an empty signal mask and default signal dispositions (a daemon must
//   not inherit the caller's blocked SIGTERM), with stdin/stdout/stderr as given (-1 =
//   /dev/null), `fd3` (when set) as its file descriptor 3, and every other file descriptor
//   closed at exec. With new_process_group it leads a process group of its own (so the caller
//   can kill it and its descendants with kill(-pid)).
// - Spawn returns only once the exec has succeeded or failed: a program that cannot be executed
//   is NotFound (ENOENT) or FailedPrecondition (anything else), and the failed child has been
//   reaped. On success the caller owns the pid and must reap it (waitpid).
// - Thread-safe; the child runs only async-signal-safe calls before exec.

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace minicloud::process {

struct SpawnOptions {
  int stdin_fd = -1;   // dup2'ed to 0 in the child; -1 = /dev/null
  int stdout_fd = -1;  // dup2'ed to 1; -1 = /dev/null
  int stderr_fd = -1;  // dup2'ed to 2; -1 = /dev/null
  int fd3 = -1;        // dup2'ed to 3 and left open across exec (a listening socket); -1 = none
  bool new_process_group = true;
};

absl::StatusOr<pid_t> Spawn(const std::vector<std::string>& argv, const SpawnOptions& options = {});

// The program Spawn would run for `name`: `name` itself if it contains a '/', else the first
// executable PATH entry (PATH unset or empty: /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:
// /sbin:/bin). NotFound otherwise.
absl::StatusOr<std::string> ResolveProgram(const std::string& name);

}  // namespace minicloud::process
