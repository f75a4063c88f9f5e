#pragma once

// Golden files for the metadata tests live in tests/golden/metadata/. Regenerate them with
//   MINICLOUD_UPDATE_GOLDEN=1 ctest -L unit -R metadata      (or run the test binaries directly)
// and review the diff like code.

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace minicloud::metadata::testing {

inline std::string GoldenPath(const std::string& name) {
  return std::string(MINICLOUD_SOURCE_DIR) + "/tests/golden/metadata/" + name;
}

inline bool UpdateGolden() {
  const char* v = std::getenv("MINICLOUD_UPDATE_GOLDEN");
  return v != nullptr && std::string(v) == "1";
}

// Compares `actual` with the golden file byte for byte (or rewrites it in update mode).
inline void CheckGolden(const std::string& name, const std::string& actual) {
  const std::string path = GoldenPath(name);
  if (UpdateGolden()) {
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << actual;
    WARN("updated golden file " << path);
    return;
  }
  std::ifstream in(path, std::ios::binary);
  INFO("golden file " << path << " (regenerate with MINICLOUD_UPDATE_GOLDEN=1)");
  REQUIRE(in.good());
  std::ostringstream ss;
  ss << in.rdbuf();
  CHECK(actual == ss.str());
}

}  // namespace minicloud::metadata::testing
