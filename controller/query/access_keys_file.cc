#include "controller/query/access_keys_file.h"

#include <sys/stat.h>

#include <fstream>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace minicloud::query {

absl::Status LoadAccessKeysFile(const std::string& path,
                                controller::auth::InMemoryAccessKeys& keys) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    return absl::NotFoundError(absl::StrCat("access keys file ", path, ": cannot stat"));
  }
  if (!S_ISREG(st.st_mode) || (st.st_mode & 077) != 0) {
    return absl::PermissionDeniedError(absl::StrCat(
        "access keys file ", path, " must be a regular file readable by its owner only (0600)"));
  }
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("access keys file ", path, ": cannot read"));
  std::string line;
  int n = 0, count = 0;
  while (std::getline(in, line)) {
    ++n;
    absl::string_view l = absl::StripAsciiWhitespace(line);
    if (l.empty() || l[0] == '#') continue;
    std::vector<absl::string_view> parts = absl::StrSplit(l, ' ', absl::SkipWhitespace());
    if (parts.size() != 2) {
      return absl::InvalidArgumentError(absl::StrCat("access keys file ", path, " line ", n,
                                                     ": expected ACCESS_KEY_ID SECRET_ACCESS_KEY"));
    }
    keys.Put(std::string(parts[0]),
             controller::auth::AccessKeySecret{.secret_access_key = std::string(parts[1])});
    ++count;
  }
  if (count == 0) {
    return absl::InvalidArgumentError(absl::StrCat("access keys file ", path, " holds no key"));
  }
  return absl::OkStatus();
}

}  // namespace minicloud::query
