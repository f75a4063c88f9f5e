#include "agent/runtime/console_log.h"

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"

namespace minicloud::agent {
namespace fs = std::filesystem;
namespace {

// The last `max_bytes` of a file; nullopt-like NotFound when it cannot be opened.
absl::StatusOr<std::string> Tail(const std::string& path, int64_t max_bytes) {
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  if (!f) return absl::NotFoundError(absl::StrCat("no console log at ", path));
  const int64_t size = f.tellg();
  const int64_t start = std::max<int64_t>(0, size - max_bytes);
  f.seekg(start);
  std::string out(static_cast<size_t>(size - start), '\0');
  f.read(out.data(), static_cast<std::streamsize>(out.size()));
  out.resize(static_cast<size_t>(f.gcount()));
  return out;
}

}  // namespace

absl::StatusOr<bool> RotateConsoleLogIfLarger(const std::string& path, int64_t max_bytes) {
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  if (ec) return false;  // no console yet
  if (static_cast<int64_t>(size) <= max_bytes) return false;
  const std::string old = path + ".1";
  fs::copy_file(path, old, fs::copy_options::overwrite_existing, ec);
  if (ec) return absl::InternalError(absl::StrCat("copy ", path, " to ", old, ": ", ec.message()));
  fs::resize_file(path, 0, ec);
  if (ec) return absl::InternalError(absl::StrCat("truncate ", path, ": ", ec.message()));
  return true;
}

absl::StatusOr<std::string> ReadConsoleTail(const std::string& path, int64_t max_bytes) {
  max_bytes = std::max<int64_t>(0, max_bytes);
  absl::StatusOr<std::string> current = Tail(path, max_bytes);
  const int64_t have = current.ok() ? static_cast<int64_t>(current->size()) : 0;
  if (have >= max_bytes) return current;
  absl::StatusOr<std::string> older = Tail(path + ".1", max_bytes - have);
  if (!older.ok()) return current;
  if (!current.ok()) return older;
  return *older + *current;
}

}  // namespace minicloud::agent
