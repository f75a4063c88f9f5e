#pragma once

// Small files and /proc entries the Linux host network reads (its state file, dnsmasq's pid
// file, lease file and command line), with errors as statuses naming the path.

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace minicloud::network::proc_files {

// "<op> <path>: <strerror>": NotFound for ENOENT, PermissionDenied for EACCES/EPERM, else
// Internal.
absl::Status ErrnoError(absl::string_view op, absl::string_view path, int err);

// The whole file.
absl::StatusOr<std::string> ReadFile(const std::string& path);

// /proc/<pid>/cmdline split at NULs; empty if the process is gone.
std::vector<std::string> ReadCmdline(int pid);

// True unless the process exists and is not a zombie.
bool ProcessGone(int pid);

}  // namespace minicloud::network::proc_files
