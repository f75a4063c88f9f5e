#pragma once

// Skipping a test whose prerequisite is missing, so that CTest reports it as skipped instead of
// passed. Catch2 2.13 has no SKIP: the test binary prints why and exits with kSkipExitCode,
// which minicloud_add_test (tests/CMakeLists.txt) registers as every test's SKIP_RETURN_CODE.
// CTest runs one test case per process, so only that case ends. deploy/test-all refuses a run
// with skipped tests unless MINICLOUD_ALLOW_SKIPPED_TESTS=1.
//
//   MC_SKIP_UNLESS(geteuid() == 0, "needs root (network namespaces)");
//
// Skip before the test creates anything that needs cleaning up: the process ends at once
// (std::_Exit: no destructors run while other threads may still be working).

#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace minicloud::testing {

inline constexpr int kSkipExitCode = 77;

[[noreturn]] inline void SkipTest(const std::string& why) {
  const std::string name = Catch::getResultCapture().getCurrentTestName();
  std::fprintf(stderr, "SKIPPED: %s: %s\n", name.c_str(), why.c_str());
  std::fflush(stdout);
  std::fflush(stderr);
  std::_Exit(kSkipExitCode);
}

}  // namespace minicloud::testing

#define MC_SKIP_UNLESS(condition, why)                                     \
  do {                                                                     \
    if (!(condition)) ::minicloud::testing::SkipTest(std::string() + why); \
  } while (0)
