#pragma once

// Runs a binary of the build that is expected to stop on its own (a refusal at start, an admin
// command): its exit code and everything it printed (stdout and stderr). One still running after
// `timeout` is killed and fails the test.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/file/file_util.h"
#include "common/process/spawn.h"

namespace minicloud::testing {

inline std::pair<int, std::string> RunExpectingExit(
    const std::string& binary, const std::vector<std::string>& args,
    std::chrono::seconds timeout = std::chrono::seconds(30)) {
  std::vector<std::string> argv = {std::string(MINICLOUD_BINARY_DIR) + "/bin/" + binary};
  argv.insert(argv.end(), args.begin(), args.end());
  int fds[2];
  REQUIRE(pipe2(fds, O_CLOEXEC) == 0);
  file::UniqueFd read_end(fds[0]), write_end(fds[1]);
  process::SpawnOptions options;
  options.stdout_fd = write_end.get();
  options.stderr_fd = write_end.get();
  absl::StatusOr<pid_t> pid = process::Spawn(argv, options);
  REQUIRE(pid.ok());
  write_end.Reset();
  std::string output;
  const auto until = std::chrono::steady_clock::now() + timeout;
  char buf[4096];
  while (std::chrono::steady_clock::now() < until) {
    pollfd p{.fd = read_end.get(), .events = POLLIN, .revents = 0};
    if (poll(&p, 1, 200) <= 0) continue;
    ssize_t n = read(read_end.get(), buf, sizeof buf);
    if (n <= 0) break;  // EOF: the program exited
    output.append(buf, n);
  }
  // EOF comes as the process closes its descriptors, a moment before it can be reaped.
  int status = 0;
  pid_t reaped = 0;
  while ((reaped = waitpid(*pid, &status, WNOHANG)) == 0 &&
         std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (reaped == 0) {
    kill(*pid, SIGKILL);
    waitpid(*pid, &status, 0);
    FAIL(binary << " kept running: " << output);
  }
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

}  // namespace minicloud::testing
