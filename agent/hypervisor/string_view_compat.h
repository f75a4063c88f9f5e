#pragma once

// Debian 12's Abseil is built with its own absl::string_view (ABSL_USES_STD_STRING_VIEW is 0),
// which does not convert implicitly from/to std::string_view (used by hypervisor.h). These
// zero-copy adapters keep the call sites short. Internal to agent/hypervisor.

#include <string_view>

#include "absl/strings/string_view.h"

namespace minicloud::hypervisor {

inline absl::string_view Av(std::string_view s) { return absl::string_view(s.data(), s.size()); }
inline std::string_view Sv(absl::string_view s) { return std::string_view(s.data(), s.size()); }

}  // namespace minicloud::hypervisor
