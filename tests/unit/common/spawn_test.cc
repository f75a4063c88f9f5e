// process::Spawn: the child's fds, signal mask and process group, and how exec failures come
// back. Runs /bin/sh only.

#include "common/process/spawn.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tests/testing/temp_dir.h"

namespace minicloud::process {
namespace {

// A pipe whose ends close with the object.
struct Pipe {
  int r = -1, w = -1;
  Pipe() {
    int fds[2];
    REQUIRE(pipe2(fds, O_CLOEXEC) == 0);
    r = fds[0];
    w = fds[1];
  }
  ~Pipe() {
    CloseWrite();
    if (r >= 0) close(r);
  }
  void CloseWrite() {
    if (w >= 0) close(w);
    w = -1;
  }
  std::string ReadAll() {
    std::string out;
    char buf[4096];
    ssize_t n;
    while ((n = read(r, buf, sizeof(buf))) > 0) out.append(buf, static_cast<size_t>(n));
    return out;
  }
};

int Reap(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Runs argv with stdout captured; returns {exit code, stdout}.
std::pair<int, std::string> Run(const std::vector<std::string>& argv, SpawnOptions options = {}) {
  Pipe out;
  options.stdout_fd = out.w;
  absl::StatusOr<pid_t> pid = Spawn(argv, options);
  REQUIRE(pid.ok());
  out.CloseWrite();
  std::string text = out.ReadAll();
  return {Reap(*pid), text};
}

// Runs `script` under /bin/sh.
std::pair<int, std::string> Sh(const std::string& script, SpawnOptions options = {}) {
  return Run({"/bin/sh", "-c", script}, options);
}

TEST_CASE("Spawn wires stdin, stdout and stderr as given", "[spawn]") {
  Pipe in, out, err;
  SpawnOptions o;
  o.stdin_fd = in.r;
  o.stdout_fd = out.w;
  o.stderr_fd = err.w;
  absl::StatusOr<pid_t> pid = Spawn({"sh", "-c", "read x; echo \"out:$x\"; echo err >&2"}, o);
  REQUIRE(pid.ok());
  REQUIRE(write(in.w, "hi\n", 3) == 3);
  in.CloseWrite();
  out.CloseWrite();
  err.CloseWrite();
  CHECK(out.ReadAll() == "out:hi\n");
  CHECK(err.ReadAll() == "err\n");
  CHECK(Reap(*pid) == 0);
}

TEST_CASE("Spawn gives /dev/null for unset streams", "[spawn]") {
  auto [code, text] = Sh("readlink /proc/self/fd/0 /proc/self/fd/2");
  CHECK(code == 0);
  CHECK(text == "/dev/null\n/dev/null\n");
}

TEST_CASE("the child starts with an empty signal mask and default dispositions", "[spawn]") {
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGTERM);
  sigaddset(&block, SIGUSR1);
  REQUIRE(pthread_sigmask(SIG_BLOCK, &block, &old) == 0);
  struct sigaction ignore {
  }, old_action{};
  ignore.sa_handler = SIG_IGN;
  REQUIRE(sigaction(SIGUSR2, &ignore, &old_action) == 0);

  // grep itself, not through sh: dash clears the signal mask when it starts.
  auto [code, text] = Run({"grep", "-E", "^Sig(Blk|Ign):", "/proc/self/status"});

  sigaction(SIGUSR2, &old_action, nullptr);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  CHECK(code == 0);
  CHECK(text == "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n");
}

TEST_CASE("descriptors the caller did not hand over do not reach the child", "[spawn]") {
  const int leaked = open("/dev/null", O_RDONLY);  // no O_CLOEXEC on purpose
  REQUIRE(leaked > 2);
  auto [code, text] =
      Sh(absl::StrCat("if [ -e /proc/$$/fd/", leaked, " ]; then echo open; else echo closed; fi"));
  close(leaked);
  CHECK(code == 0);
  CHECK(text == "closed\n");
}

// Catches: fd3 closed at exec like the rest (dup2 before the close-on-exec sweep), or placed at
// another number; the daemon that gets the NBD listener this way would then fail at start.
TEST_CASE("fd3 reaches the child as its descriptor 3, and only it", "[spawn]") {
  Pipe handed;
  const int other = open("/dev/null", O_RDONLY);  // no O_CLOEXEC on purpose
  REQUIRE(other > 3);
  SpawnOptions options;
  options.fd3 = handed.w;
  auto [code, text] = Sh(absl::StrCat("echo through3 >&3; if [ -e /proc/$$/fd/", other,
                                      " ]; then echo open; else echo closed; fi"),
                         options);
  close(other);
  handed.CloseWrite();
  CHECK(code == 0);
  CHECK(handed.ReadAll() == "through3\n");
  CHECK(text == "closed\n");
}

TEST_CASE("new_process_group makes the child a group leader, off keeps ours", "[spawn]") {
  for (bool own : {true, false}) {
    SpawnOptions o;
    o.new_process_group = own;
    // The shell is the spawned process: its pid is $$, and its pgid is printed.
    auto [code2, pid_and_pgid] = Sh("echo $$ $(cut -d' ' -f5 /proc/$$/stat)", o);
    REQUIRE(code2 == 0);
    const std::string pid = pid_and_pgid.substr(0, pid_and_pgid.find(' '));
    const std::string pgid = pid_and_pgid.substr(pid_and_pgid.find(' ') + 1);
    if (own) {
      CHECK(pgid == pid + "\n");
    } else {
      CHECK(pgid == absl::StrCat(getpgrp(), "\n"));
    }
  }
}

TEST_CASE("exec failures are errors, not children", "[spawn]") {
  testing::TempDir dir;
  const std::string not_executable = dir / "script";
  std::ofstream(not_executable) << "#!/bin/sh\nexit 0\n";
  ::chmod(not_executable.c_str(), 0644);

  struct Case {
    const char* name;
    std::vector<std::string> argv;
    absl::StatusCode code;
    const char* message_part;
  };
  const Case cases[] = {
      {"empty argv", {}, absl::StatusCode::kInvalidArgument, "empty argv"},
      {"not in PATH",
       {"minicloud-no-such-program"},
       absl::StatusCode::kNotFound,
       "not found in PATH"},
      {"missing path", {dir / "missing"}, absl::StatusCode::kNotFound, "No such file"},
      {"not executable",
       {not_executable},
       absl::StatusCode::kFailedPrecondition,
       "Permission denied"},
  };
  for (const Case& c : cases) {
    SECTION(c.name) {
      absl::StatusOr<pid_t> pid = Spawn(c.argv);
      REQUIRE_FALSE(pid.ok());
      CHECK(pid.status().code() == c.code);
      CHECK(pid.status().message().find(c.message_part) != std::string::npos);
      // The failed child was reaped: no child of ours is left.
      const pid_t left = waitpid(-1, nullptr, WNOHANG);
      const int err = errno;
      CHECK(left == -1);
      CHECK(err == ECHILD);
    }
  }
}

TEST_CASE("ResolveProgram searches PATH only for bare names", "[spawn]") {
  CHECK(*ResolveProgram("/bin/sh") == "/bin/sh");
  CHECK(*ResolveProgram("./relative") == "./relative");
  absl::StatusOr<std::string> sh = ResolveProgram("sh");
  REQUIRE(sh.ok());
  CHECK(access(sh->c_str(), X_OK) == 0);
  CHECK(ResolveProgram("minicloud-no-such-program").status().code() == absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace minicloud::process
