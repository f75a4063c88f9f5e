#include "common/process/fd_limit.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace minicloud::process {

namespace {

uint64_t FromRlim(rlim_t v) { return v == RLIM_INFINITY ? UINT64_MAX : static_cast<uint64_t>(v); }

}  // namespace

absl::StatusOr<FdLimit> GetFdLimit() {
  rlimit r{};
  if (::getrlimit(RLIMIT_NOFILE, &r) != 0) {
    return absl::InternalError(absl::StrCat("getrlimit(RLIMIT_NOFILE): ", std::strerror(errno)));
  }
  return FdLimit{FromRlim(r.rlim_cur), FromRlim(r.rlim_max)};
}

absl::StatusOr<FdLimit> RaiseFdLimit(uint64_t ceiling) {
  absl::StatusOr<FdLimit> now = GetFdLimit();
  if (!now.ok()) return now.status();
  const uint64_t target = std::min(now->hard, ceiling);
  if (target <= now->soft) return now;
  rlimit r{};
  r.rlim_cur = static_cast<rlim_t>(target);
  r.rlim_max = now->hard == UINT64_MAX ? RLIM_INFINITY : static_cast<rlim_t>(now->hard);
  if (::setrlimit(RLIMIT_NOFILE, &r) != 0) {
    return absl::InternalError(
        absl::StrCat("setrlimit(RLIMIT_NOFILE, ", target, "): ", std::strerror(errno)));
  }
  return GetFdLimit();
}

}  // namespace minicloud::process
