#include "common/process/run.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/file/file_util.h"
#include "common/process/spawn.h"

namespace minicloud::process {
namespace {

using file::UniqueFd;

constexpr size_t kMessageTail = 2000;  // bytes of output quoted in a failure's message

absl::Status ErrnoStatus(absl::string_view what, int err) {
  return absl::InternalError(absl::StrCat(what, ": ", strerror(err)));
}

int PidfdOpen(pid_t pid) {
#ifdef SYS_pidfd_open
  return static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
#else
  errno = ENOSYS;
  return -1;
#endif
}

void SetNonBlocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

// Drops all but the last `max` bytes. Trims only once the excess is large, so a long stream
// costs amortised constant time per byte.
void KeepTail(std::string* s, size_t max, bool final) {
  if (s->size() <= max) return;
  const size_t excess = s->size() - max;
  if (final || excess >= std::max<size_t>(max, 1 << 16)) s->erase(0, excess);
}

// Reads what is available into the tail buffer; returns false at EOF or on a hard error.
bool ReadSome(int fd, std::string* into, size_t max) {
  char buf[16384];
  for (;;) {
    const ssize_t n = read(fd, buf, sizeof(buf));
    if (n > 0) {
      into->append(buf, static_cast<size_t>(n));
      KeepTail(into, max, /*final=*/false);
      continue;
    }
    if (n == 0) return false;
    if (errno == EINTR) continue;
    return errno == EAGAIN || errno == EWOULDBLOCK;
  }
}

void KillAndReap(pid_t pid) {
  kill(-pid, SIGKILL);
  kill(pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
}

// The result's `status`: how the child ended, with the command and the tail of what it said.
absl::Status EndStatus(const std::vector<std::string>& argv, const RunResult& r) {
  if (r.exit_code == 0) return absl::OkStatus();
  absl::string_view text = absl::StripAsciiWhitespace(r.err);
  if (text.empty()) text = absl::StripAsciiWhitespace(r.out);
  if (text.size() > kMessageTail) text = text.substr(text.size() - kMessageTail);
  std::string how;
  if (r.signal != 0) {
    how = absl::StrCat("was killed by signal ", r.signal, " (", strsignal(r.signal), ")");
  } else if (r.exit_code > 0) {
    how = absl::StrCat("exited with status ", r.exit_code);
  } else {
    how = "ended in an unknown way (SIGCHLD is ignored)";
  }
  return absl::InternalError(
      absl::StrCat("'", ArgvToString(argv), "' ", how, text.empty() ? "" : ": ", text));
}

}  // namespace

std::string ArgvToString(const std::vector<std::string>& argv) {
  std::vector<std::string> quoted;
  quoted.reserve(argv.size());
  for (const std::string& a : argv) {
    if (!a.empty() && a.find_first_of(" \t\n'\"\\$`") == std::string::npos) {
      quoted.push_back(a);
    } else {
      std::string q = "'";
      for (char c : a) {
        if (c == '\'') {
          q += "'\\''";
        } else {
          q += c;
        }
      }
      q += "'";
      quoted.push_back(std::move(q));
    }
  }
  return absl::StrJoin(quoted, " ");
}

absl::StatusOr<RunResult> RunCapturingOutput(const std::vector<std::string>& argv,
                                             const RunOptions& options) {
  if (argv.empty()) return absl::InvalidArgumentError("RunCapturingOutput: empty argv");
  const size_t max = options.max_output_bytes;

  int out_pipe[2], err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0) return ErrnoStatus("pipe", errno);
  UniqueFd out_r(out_pipe[0]), out_w(out_pipe[1]);
  UniqueFd err_r, err_w;
  if (!options.merge_stderr) {
    if (pipe2(err_pipe, O_CLOEXEC) != 0) return ErrnoStatus("pipe", errno);
    err_r = UniqueFd(err_pipe[0]);
    err_w = UniqueFd(err_pipe[1]);
  }
  // stdin: a socket pair so the parent can write with MSG_NOSIGNAL, or /dev/null.
  UniqueFd in_parent, in_child;
  if (!options.stdin_data.empty()) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
      return ErrnoStatus("socketpair", errno);
    }
    in_parent = UniqueFd(sv[0]);
    in_child = UniqueFd(sv[1]);
  }

  SpawnOptions spawn;
  spawn.stdin_fd = in_child.valid() ? in_child.get() : -1;
  spawn.stdout_fd = out_w.get();
  spawn.stderr_fd = options.merge_stderr ? out_w.get() : err_w.get();
  spawn.new_process_group = true;
  absl::StatusOr<pid_t> spawned = Spawn(argv, spawn);
  if (!spawned.ok()) return spawned.status();
  const pid_t pid = *spawned;
  out_w.Reset();
  err_w.Reset();
  in_child.Reset();

  UniqueFd pidfd(PidfdOpen(pid));
  SetNonBlocking(out_r.get());
  if (err_r.valid()) SetNonBlocking(err_r.get());
  if (in_parent.valid()) SetNonBlocking(in_parent.get());

  RunResult result;
  size_t stdin_written = 0;
  bool exited = false;
  int wait_status = 0;
  const absl::Time deadline = absl::Now() + options.timeout;

  while (true) {
    pid_t r = waitpid(pid, &wait_status, WNOHANG);
    if (r == pid) exited = true;
    if (r < 0 && errno == ECHILD) {  // SIGCHLD ignored by the process: reaped for us
      exited = true;
      wait_status = -1;
    }
    if (exited) {
      // The child is gone: take what it wrote, and do not wait for descendants holding the pipes.
      if (out_r.valid()) ReadSome(out_r.get(), &result.out, max);
      if (err_r.valid()) ReadSome(err_r.get(), &result.err, max);
      break;
    }
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      KillAndReap(pid);
      return absl::DeadlineExceededError(absl::StrCat(
          "'", ArgvToString(argv), "' timed out after ", absl::FormatDuration(options.timeout),
          result.err.empty() ? "" : "; stderr: ", absl::StripAsciiWhitespace(result.err)));
    }
    pollfd fds[4];
    int nfds = 0;
    int out_i = -1, err_i = -1, in_i = -1;
    if (out_r.valid()) {
      out_i = nfds;
      fds[nfds++] = {out_r.get(), POLLIN, 0};
    }
    if (err_r.valid()) {
      err_i = nfds;
      fds[nfds++] = {err_r.get(), POLLIN, 0};
    }
    if (in_parent.valid()) {
      in_i = nfds;
      fds[nfds++] = {in_parent.get(), POLLOUT, 0};
    }
    if (pidfd.valid()) fds[nfds++] = {pidfd.get(), POLLIN, 0};
    // At most 1 s per round (10 ms without a pidfd, which is what says the child exited).
    int64_t wait_ms = absl::ToInt64Milliseconds(std::min(left, absl::Seconds(1))) + 1;
    if (!pidfd.valid()) wait_ms = std::min<int64_t>(wait_ms, 10);
    const int pr = poll(fds, nfds, static_cast<int>(wait_ms));
    if (pr < 0) {
      if (errno == EINTR) continue;
      const int e = errno;
      KillAndReap(pid);
      return ErrnoStatus("poll", e);
    }
    if (out_i >= 0 && fds[out_i].revents != 0 && !ReadSome(out_r.get(), &result.out, max)) {
      out_r.Reset();
    }
    if (err_i >= 0 && fds[err_i].revents != 0 && !ReadSome(err_r.get(), &result.err, max)) {
      err_r.Reset();
    }
    if (in_i >= 0 && fds[in_i].revents != 0) {
      if (fds[in_i].revents & (POLLERR | POLLHUP)) {
        in_parent.Reset();  // the child closed its stdin: stop feeding it
      } else {
        const ssize_t n =
            send(in_parent.get(), options.stdin_data.data() + stdin_written,
                 options.stdin_data.size() - stdin_written, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) stdin_written += static_cast<size_t>(n);
        if ((n < 0 && errno != EAGAIN && errno != EINTR) ||
            stdin_written == options.stdin_data.size()) {
          in_parent.Reset();
        }
      }
    }
  }
  KeepTail(&result.out, max, /*final=*/true);
  KeepTail(&result.err, max, /*final=*/true);
  if (wait_status != -1 && WIFEXITED(wait_status)) {
    result.exit_code = WEXITSTATUS(wait_status);
  } else if (wait_status != -1 && WIFSIGNALED(wait_status)) {
    result.signal = WTERMSIG(wait_status);
  }
  result.status = EndStatus(argv, result);
  return result;
}

}  // namespace minicloud::process
