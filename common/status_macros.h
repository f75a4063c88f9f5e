#pragma once

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

// Early-return helpers for absl::Status / absl::StatusOr.
#define MC_CONCAT_INNER(a, b) a##b
#define MC_CONCAT(a, b) MC_CONCAT_INNER(a, b)

#define MC_RETURN_IF_ERROR(expr)             \
  do {                                       \
    ::absl::Status mc_status_ = (expr);      \
    if (!mc_status_.ok()) return mc_status_; \
  } while (0)

#define MC_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                             \
  if (!tmp.ok()) return tmp.status();            \
  lhs = std::move(*tmp)

#define MC_ASSIGN_OR_RETURN(lhs, expr) \
  MC_ASSIGN_OR_RETURN_IMPL(MC_CONCAT(mc_statusor_, __LINE__), lhs, expr)

namespace minicloud {

// Prefixes a status message with context: Annotate(s, "attach vol-1") -> "attach vol-1: <msg>".
inline absl::Status Annotate(const absl::Status& s, absl::string_view context) {
  if (s.ok()) return s;
  return absl::Status(s.code(), std::string(context) + ": " + std::string(s.message()));
}

}  // namespace minicloud
