#pragma once

// Small helpers shared by the hypervisor tests that boot real guests under QEMU (labelled e2e):
// reading a console file, running a shell command, waiting for a condition.

#include <sys/wait.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>

namespace minicloud::hypervisor::real_guest {

// The whole file (empty when it cannot be read).
inline std::string ReadFile(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// `cmd` through the shell; its exit code, -1 when it did not exit normally.
inline int Run(const std::string& cmd) {
  const int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

// True once `done` holds, asked every 100 ms for at most `timeout` (and once more at the end).
inline bool WaitFor(const std::function<bool()>& done, std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return done();
}

}  // namespace minicloud::hypervisor::real_guest
