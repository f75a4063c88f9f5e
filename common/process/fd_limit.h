#pragma once

// The process's file descriptor limit (RLIMIT_NOFILE).
//
// Daemons that hold one descriptor per client (the agent's metadata service: one per guest
// connection) raise their soft limit at start: the usual default soft limit (1024) is far below
// what the kernel allows them (the hard limit, often 524288 or more).

#include <sys/resource.h>

#include <cstdint>

#include "absl/status/statusor.h"

namespace minicloud::process {

struct FdLimit {
  uint64_t soft = 0;
  uint64_t hard = 0;  // RLIM_INFINITY as UINT64_MAX
};

// The current soft and hard limits.
absl::StatusOr<FdLimit> GetFdLimit();

// Raises the soft limit to min(hard, ceiling); never lowers it. Returns the limits now in force.
// The ceiling keeps descriptor tables of sane size (children inherit the limit, and some tools
// walk every possible descriptor). Internal only when getrlimit/setrlimit fail.
absl::StatusOr<FdLimit> RaiseFdLimit(uint64_t ceiling = uint64_t{1} << 16);

}  // namespace minicloud::process
