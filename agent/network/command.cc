#include "agent/network/command.h"

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
#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/process/spawn.h"

namespace minicloud::network {
namespace {

constexpr size_t kMaxCapture = 64 << 20;  // per stream; the rest is discarded

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { Reset(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  Fd(Fd&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      Reset();
      fd_ = o.fd_;
      o.fd_ = -1;
    }
    return *this;
  }
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  void Reset() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

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

// Reads what is available; returns false at EOF or on a hard error.
bool ReadSome(int fd, std::string* into) {
  char buf[16384];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n > 0) {
      if (into->size() < kMaxCapture) {
        into->append(buf, std::min<size_t>(static_cast<size_t>(n), kMaxCapture - into->size()));
      }
      continue;
    }
    if (n == 0) return false;
    if (errno == EINTR) continue;
    return errno == EAGAIN || errno == EWOULDBLOCK;
  }
}

int DecodeWaitStatus(int status) {
  if (status == -1) return -1;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

void KillAndReap(pid_t pid) {
  kill(-pid, SIGKILL);
  kill(pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
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

absl::StatusOr<CommandResult> RunCommand(const std::vector<std::string>& argv,
                                         const CommandOptions& options) {
  if (argv.empty()) return absl::InvalidArgumentError("RunCommand: empty argv");

  int out_pipe[2], err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0) return ErrnoStatus("pipe", errno);
  Fd out_r(out_pipe[0]), out_w(out_pipe[1]);
  if (pipe2(err_pipe, O_CLOEXEC) != 0) return ErrnoStatus("pipe", errno);
  Fd err_r(err_pipe[0]), err_w(err_pipe[1]);
  // stdin: a socket pair so the parent can write with MSG_NOSIGNAL, or /dev/null.
  Fd in_parent, in_child;
  if (!options.stdin_data.empty()) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
      return ErrnoStatus("socketpair", errno);
    }
    in_parent = Fd(sv[0]);
    in_child = Fd(sv[1]);
  }

  process::SpawnOptions spawn;
  spawn.stdin_fd = in_child.valid() ? in_child.get() : -1;
  spawn.stdout_fd = out_w.get();
  spawn.stderr_fd = err_w.get();
  spawn.new_process_group = true;
  absl::StatusOr<pid_t> spawned = process::Spawn(argv, spawn);
  if (!spawned.ok()) return spawned.status();
  const pid_t pid = *spawned;
  out_w.Reset();
  err_w.Reset();
  in_child.Reset();

  Fd pidfd(PidfdOpen(pid));
  SetNonBlocking(out_r.get());
  SetNonBlocking(err_r.get());
  if (in_parent.valid()) SetNonBlocking(in_parent.get());

  CommandResult result;
  size_t stdin_written = 0;
  bool exited = false;
  int wait_status = 0;
  const absl::Time deadline = absl::Now() + options.timeout;

  while (!exited || out_r.valid() || err_r.valid()) {
    if (!exited) {
      pid_t r = waitpid(pid, &wait_status, WNOHANG);
      if (r == pid) exited = true;
      if (r < 0 && errno == ECHILD) {  // SIGCHLD ignored by the process: reaped for us
        exited = true;
        wait_status = -1;
      }
    }
    if (exited) {
      // The child is gone: take what it wrote, and do not wait for descendants holding the pipes.
      if (out_r.valid()) ReadSome(out_r.get(), &result.out);
      if (err_r.valid()) ReadSome(err_r.get(), &result.err);
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
    int64_t wait_ms = absl::ToInt64Milliseconds(left) + 1;
    if (!pidfd.valid()) wait_ms = std::min<int64_t>(wait_ms, 10);
    int pr = poll(fds, nfds, static_cast<int>(std::min<int64_t>(wait_ms, 1000)));
    if (pr < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      KillAndReap(pid);
      return ErrnoStatus("poll", e);
    }
    if (out_i >= 0 && fds[out_i].revents != 0 && !ReadSome(out_r.get(), &result.out)) {
      out_r.Reset();
    }
    if (err_i >= 0 && fds[err_i].revents != 0 && !ReadSome(err_r.get(), &result.err)) {
      err_r.Reset();
    }
    if (in_i >= 0 && fds[in_i].revents != 0) {
      if (fds[in_i].revents & (POLLERR | POLLHUP)) {
        in_parent.Reset();  // the child closed its stdin: stop feeding it
      } else {
        ssize_t n = send(in_parent.get(), options.stdin_data.data() + stdin_written,
                         options.stdin_data.size() - stdin_written, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) stdin_written += static_cast<size_t>(n);
        if ((n < 0 && errno != EAGAIN && errno != EINTR) ||
            stdin_written == options.stdin_data.size()) {
          in_parent.Reset();
        }
      }
    }
  }
  if (!exited) {
    while (waitpid(pid, &wait_status, 0) < 0 && errno == EINTR) {
    }
  }
  result.exit_code = DecodeWaitStatus(wait_status);
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
