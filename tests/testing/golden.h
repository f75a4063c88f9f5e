#pragma once

// Golden files: one switch and one helper for every test that compares output with a checked-in
// file (tests/golden/...).
//
//   MINICLOUD_UPDATE_GOLDEN=1 ctest -L unit      rewrites every golden file that differs
//
// An updating run still fails each test whose file it rewrote ("golden file ... rewritten"), so
// it can never pass by accident: review the diff, then run again without the variable.
// deploy/test-all refuses to run while the variable is set.

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace minicloud::testing {

inline constexpr char kUpdateGoldenEnv[] = "MINICLOUD_UPDATE_GOLDEN";

inline bool UpdatingGoldenFiles() {
  const char* v = std::getenv(kUpdateGoldenEnv);
  return v != nullptr && std::string(v) == "1";
}

inline std::string ReadGoldenFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Checks that `actual` equals the file at `path` byte for byte; in update mode rewrites a file
// that differs (or is missing) and fails the test.
inline void CheckGoldenFile(const std::filesystem::path& path, const std::string& actual) {
  const bool exists = std::filesystem::exists(path);
  if (UpdatingGoldenFiles() && (!exists || ReadGoldenFile(path) != actual)) {
    std::filesystem::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary | std::ios::trunc) << actual;
    FAIL_CHECK("golden file " << path.string() << " rewritten (" << kUpdateGoldenEnv
                              << "=1): review the diff, then re-run without the variable");
    return;
  }
  INFO("golden file " << path.string() << " (regenerate with " << kUpdateGoldenEnv << "=1)");
  REQUIRE(exists);
  CHECK(actual == ReadGoldenFile(path));
}

}  // namespace minicloud::testing
