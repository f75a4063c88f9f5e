#include "common/file/state_path.h"

#include <filesystem>
#include <system_error>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace minicloud::file {
namespace fs = std::filesystem;

namespace {

constexpr size_t kMaxComponentBytes = 255;  // NAME_MAX on Linux file systems

std::string Quoted(absl::string_view text) {
  constexpr size_t kShown = 80;
  std::string out = absl::StrCat("\"", absl::CHexEscape(text.substr(0, kShown)), "\"");
  if (text.size() > kShown) absl::StrAppend(&out, "... (", text.size(), " bytes)");
  return out;
}

// True when `path` is `root` or lies below it; both are absolute and lexically normal.
bool IsInside(const fs::path& root, const fs::path& path) {
  auto r = root.begin();
  auto p = path.begin();
  for (; r != root.end(); ++r, ++p) {
    if (r->empty()) continue;  // a trailing separator of root
    if (p == path.end() || *r != *p) return false;
  }
  return true;
}

}  // namespace

absl::Status CheckPathComponent(absl::string_view name) {
  const char* why = nullptr;
  if (name.empty()) {
    why = "is empty";
  } else if (name == "." || name == "..") {
    why = "is a relative directory reference";
  } else if (name.size() > kMaxComponentBytes) {
    why = "is longer than 255 bytes";
  } else if (name.find('/') != absl::string_view::npos) {
    why = "contains '/'";
  } else if (name.find('\0') != absl::string_view::npos) {
    why = "contains a NUL byte";
  }
  if (why == nullptr) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("refusing the file name ", Quoted(name), ": it ", why));
}

absl::StatusOr<std::string> PathUnder(absl::string_view root,
                                      std::initializer_list<absl::string_view> components) {
  if (root.empty()) return absl::InvalidArgumentError("no state directory to build a path under");
  std::string joined(root);
  for (absl::string_view c : components) {
    if (absl::Status s = CheckPathComponent(c); !s.ok()) return s;
    absl::StrAppend(&joined, "/", c);
  }
  // The names are plain, so only a symbolic link inside the state directory could lead out.
  std::error_code ec;
  const fs::path real_root = fs::weakly_canonical(fs::absolute(fs::path(std::string(root))), ec);
  if (ec) {
    return absl::InternalError(
        absl::StrCat("resolve state directory ", Quoted(root), ": ", ec.message()));
  }
  const fs::path real = fs::weakly_canonical(fs::absolute(fs::path(joined)), ec);
  if (ec) return absl::InternalError(absl::StrCat("resolve ", Quoted(joined), ": ", ec.message()));
  if (!IsInside(real_root, real)) {
    return absl::InvalidArgumentError(
        absl::StrCat("refusing ", Quoted(joined), ": it resolves to ", Quoted(real.string()),
                     ", outside the state directory ", Quoted(real_root.string())));
  }
  return joined;
}

}  // namespace minicloud::file
