#pragma once

// The serial console of a guest is a file QEMU appends to (append='on', so writes always land
// at the current end). It is capped here: when it grows past a limit, it becomes console.log.1
// (replacing an older one) and the live file is truncated, so a chatty guest cannot fill the
// host's disk; readers see the tail of both.

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace minicloud::agent {

// Default cap of one console file. EC2 returns only the last 64 KiB of console output.
inline constexpr int64_t kConsoleLogMaxBytes = 4 << 20;

// If `path` is larger than `max_bytes`, copies it to `path`.1 and truncates it. Returns whether
// it rotated. Bytes the guest writes between the copy and the truncation are lost (a few at
// most); the guest keeps writing to the truncated file without interruption.
absl::StatusOr<bool> RotateConsoleLogIfLarger(const std::string& path, int64_t max_bytes);

// The last `max_bytes` of the console: the tail of `path`, preceded by the tail of `path`.1 when
// `path` alone is shorter. NotFound when neither exists.
absl::StatusOr<std::string> ReadConsoleTail(const std::string& path, int64_t max_bytes);

}  // namespace minicloud::agent
