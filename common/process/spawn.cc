#include "common/process/spawn.h"

#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace minicloud::process {
namespace {

absl::Status ErrnoStatus(absl::string_view what, int err) {
  return absl::InternalError(absl::StrCat(what, ": ", strerror(err)));
}

// Closes an fd on scope exit (parent side only).
struct ScopedFd {
  int fd = -1;
  ~ScopedFd() {
    if (fd >= 0) close(fd);
  }
};

}  // namespace

absl::StatusOr<std::string> ResolveProgram(const std::string& name) {
  if (name.find('/') != std::string::npos) return name;
  const char* env = getenv("PATH");
  std::string path = env != nullptr && *env != '\0'
                         ? env
                         : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  for (absl::string_view dir : absl::StrSplit(path, ':', absl::SkipEmpty())) {
    std::string candidate = absl::StrCat(dir, "/", name);
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return absl::NotFoundError(absl::StrCat("cannot run '", name, "': not found in PATH"));
}

absl::StatusOr<pid_t> Spawn(const std::vector<std::string>& argv, const SpawnOptions& options) {
  if (argv.empty()) return absl::InvalidArgumentError("Spawn: empty argv");
  // PATH lookup in the parent: execv in the child is async-signal-safe, execvp's search is not
  // guaranteed to be.
  absl::StatusOr<std::string> program = ResolveProgram(argv[0]);
  if (!program.ok()) return program.status();

  std::vector<char*> cargv;
  cargv.reserve(argv.size() + 1);
  for (const std::string& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);

  ScopedFd dev_null;
  if (options.stdin_fd < 0 || options.stdout_fd < 0 || options.stderr_fd < 0) {
    dev_null.fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (dev_null.fd < 0) return ErrnoStatus("open /dev/null", errno);
  }
  const int in = options.stdin_fd >= 0 ? options.stdin_fd : dev_null.fd;
  const int out = options.stdout_fd >= 0 ? options.stdout_fd : dev_null.fd;
  const int err = options.stderr_fd >= 0 ? options.stderr_fd : dev_null.fd;

  // The child writes its exec errno here; a successful exec closes it (O_CLOEXEC): EOF.
  int exec_pipe[2];
  if (pipe2(exec_pipe, O_CLOEXEC) != 0) return ErrnoStatus("pipe", errno);
  ScopedFd exec_r{exec_pipe[0]};
  ScopedFd exec_w{exec_pipe[1]};

  const pid_t pid = fork();
  if (pid < 0) return ErrnoStatus("fork", errno);
  if (pid == 0) {
    // Child: async-signal-safe calls only.
    if (options.new_process_group) setpgid(0, 0);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    for (int sig = 1; sig < NSIG; ++sig) signal(sig, SIG_DFL);
    // dup2 clears FD_CLOEXEC on the new descriptor; an fd already at its place keeps the flag,
    // so clear it by hand.
    const int fds[3] = {in, out, err};
    for (int target = 0; target < 3; ++target) {
      if (fds[target] == target) {
        fcntl(target, F_SETFD, 0);
      } else {
        dup2(fds[target], target);
      }
    }
    // Everything else is closed at exec (keeps the caller's sockets out of long-lived daemons);
    // the exec-error pipe stays usable until then.
#ifdef SYS_close_range
    if (syscall(SYS_close_range, 3U, ~0U, 4U /* CLOSE_RANGE_CLOEXEC */) != 0)
#endif
    {
      for (int fd = 3; fd < 1024; ++fd) {
        if (fd != exec_w.fd) fcntl(fd, F_SETFD, FD_CLOEXEC);
      }
    }
    int exec_error_fd = exec_w.fd;
    if (options.fd3 >= 0) {
      // The exec-error pipe moves out of the way first if it sits at 3.
      if (exec_error_fd == 3) exec_error_fd = fcntl(3, F_DUPFD_CLOEXEC, 4);
      if (options.fd3 == 3) {
        fcntl(3, F_SETFD, 0);
      } else {
        dup2(options.fd3, 3);
      }
    }
    execv(program->c_str(), cargv.data());
    int e = errno;
    ssize_t ignored = write(exec_error_fd, &e, sizeof(e));
    (void)ignored;
    _exit(127);
  }

  // Parent.
  if (options.new_process_group) setpgid(pid, pid);  // the child does it too; either wins
  close(exec_w.fd);
  exec_w.fd = -1;
  int exec_errno = 0;
  for (;;) {
    ssize_t n = read(exec_r.fd, &exec_errno, sizeof(exec_errno));
    if (n < 0 && errno == EINTR) continue;
    if (n != static_cast<ssize_t>(sizeof(exec_errno))) exec_errno = 0;
    break;
  }
  if (exec_errno != 0) {
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    std::string msg = absl::StrCat("cannot run '", *program, "': ", strerror(exec_errno));
    return exec_errno == ENOENT ? absl::NotFoundError(msg) : absl::FailedPreconditionError(msg);
  }
  return pid;
}

}  // namespace minicloud::process
