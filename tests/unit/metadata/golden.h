#pragma once

// Golden files for the metadata tests live in tests/golden/metadata/; the switch that rewrites
// them is the one of tests/testing/golden.h (MINICLOUD_UPDATE_GOLDEN=1).

#include <string>

#include "tests/testing/golden.h"

namespace minicloud::metadata::testing {

inline std::string GoldenPath(const std::string& name) {
  return std::string(MINICLOUD_SOURCE_DIR) + "/tests/golden/metadata/" + name;
}

// Compares `actual` with the golden file byte for byte (see tests/testing/golden.h).
inline void CheckGolden(const std::string& name, const std::string& actual) {
  ::minicloud::testing::CheckGoldenFile(GoldenPath(name), actual);
}

}  // namespace minicloud::metadata::testing
