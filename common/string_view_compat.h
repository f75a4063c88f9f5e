#pragma once

// Debian 12's Abseil is built with its own absl::string_view (ABSL_USES_STD_STRING_VIEW is 0),
// which does not convert implicitly from or to std::string_view. These adapters bridge the two
// where an API of one kind meets a caller of the other.
//
// Contract: zero-copy; the result views exactly the same bytes (same data pointer, same size,
// embedded NULs included) and lives only as long as the viewed storage.

#include <string_view>

#include "absl/strings/string_view.h"

namespace minicloud {

inline absl::string_view AbslView(std::string_view s) {
  return absl::string_view(s.data(), s.size());
}
inline std::string_view StdView(absl::string_view s) {
  return std::string_view(s.data(), s.size());
}

}  // namespace minicloud
