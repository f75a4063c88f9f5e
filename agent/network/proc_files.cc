#include "agent/network/proc_files.h"

#include <errno.h>
#include <string.h>

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace minicloud::network::proc_files {

absl::Status ErrnoError(absl::string_view op, absl::string_view path, int err) {
  std::string msg = absl::StrCat(op, " ", path, ": ", strerror(err));
  if (err == ENOENT) return absl::NotFoundError(msg);
  if (err == EACCES || err == EPERM) return absl::PermissionDeniedError(msg);
  return absl::InternalError(msg);
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return ErrnoError("read", path, errno);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> ReadCmdline(int pid) {
  auto text = ReadFile(absl::StrCat("/proc/", pid, "/cmdline"));
  if (!text.ok()) return {};
  std::vector<std::string> args = absl::StrSplit(*text, '\0');
  if (!args.empty() && args.back().empty()) args.pop_back();
  return args;
}

bool ProcessGone(int pid) {
  auto stat = ReadFile(absl::StrCat("/proc/", pid, "/stat"));
  if (!stat.ok()) return true;
  const size_t paren = stat->rfind(')');
  if (paren == std::string::npos || paren + 2 >= stat->size()) return true;
  const char state = (*stat)[paren + 2];
  return state == 'Z' || state == 'X';
}

}  // namespace minicloud::network::proc_files
