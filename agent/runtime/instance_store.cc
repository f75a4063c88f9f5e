#include "agent/runtime/instance_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "common/volume_limits.h"

namespace minicloud::agent {
namespace fs = std::filesystem;
namespace {

constexpr absl::string_view kFilePrefix = "ephemeral";
constexpr absl::string_view kFileSuffix = ".img";

bool IsVirtualName(absl::string_view v) {
  if (!absl::ConsumePrefix(&v, "ephemeral") || v.empty() || v.size() > 2) return false;
  if (v.size() == 2 && v[0] == '0') return false;
  int n = 0;
  return std::all_of(v.begin(), v.end(), absl::ascii_isdigit) && absl::SimpleAtoi(v, &n) && n < 24;
}

}  // namespace

absl::StatusOr<std::vector<InstanceStoreFile>> PlanInstanceStore(const v1::DesiredInstance& want,
                                                                 const std::string& dir) {
  std::vector<InstanceStoreFile> out;
  std::set<std::string> names, targets;
  for (const v1::DesiredInstanceStoreDisk& d : want.instance_store()) {
    const std::string where =
        absl::StrCat("instance store of ", want.instance_id(), " (", d.virtual_name(), "): ");
    if (!IsVirtualName(d.virtual_name()) || !names.insert(d.virtual_name()).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, "virtual name must be ephemeral0..ephemeral23, each once"));
    }
    // The one device-name rule EBS names follow too (common/volume_limits.h).
    absl::StatusOr<std::string> slot = volumes::EbsDeviceTarget(d.device_name());
    const std::string target = slot.ok() ? *slot : "";
    if (target.empty() || !targets.insert(target).second) {
      return absl::InvalidArgumentError(absl::StrCat(where, "device name '", d.device_name(),
                                                     "' is not a free sd[b-z] or xvd[b-z]"));
    }
    if (d.size_gb() < 1 || d.size_gb() > kMaxInstanceStoreGb) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, "size ", d.size_gb(), " GiB is outside 1..", kMaxInstanceStoreGb));
    }
    InstanceStoreFile f;
    f.disk.path = absl::StrCat(dir, "/", d.virtual_name(), kFileSuffix);
    f.disk.target_dev = target;
    f.disk.serial = d.virtual_name();
    f.size_bytes = d.size_gb() << 30;
    out.push_back(std::move(f));
  }
  return out;
}

absl::Status CreateInstanceStore(const std::vector<InstanceStoreFile>& files, bool fresh) {
  for (const InstanceStoreFile& f : files) {
    const int flags = O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | (fresh ? O_TRUNC : 0);
    const int fd = ::open(f.disk.path.c_str(), flags, 0600);
    if (fd < 0) {
      return absl::InternalError(
          absl::StrCat("create instance store ", f.disk.path, ": ", std::strerror(errno)));
    }
    struct stat st {};
    int rc = ::fstat(fd, &st);
    // Sparse: the size is set, no block is written. A kept file already has its size.
    if (rc == 0 && st.st_size != f.size_bytes) rc = ::ftruncate(fd, f.size_bytes);
    const int err = errno;
    ::close(fd);
    if (rc != 0) {
      return absl::InternalError(
          absl::StrCat("size instance store ", f.disk.path, ": ", std::strerror(err)));
    }
  }
  return absl::OkStatus();
}

absl::Status RemoveInstanceStore(const std::string& dir) {
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec) {
    if (ec == std::errc::no_such_file_or_directory) return absl::OkStatus();
    return absl::InternalError(absl::StrCat("list ", dir, ": ", ec.message()));
  }
  for (const fs::directory_entry& e : it) {
    const std::string name = e.path().filename().string();
    if (!absl::StartsWith(name, kFilePrefix) || !absl::EndsWith(name, kFileSuffix)) continue;
    fs::remove(e.path(), ec);
    if (ec)
      return absl::InternalError(absl::StrCat("delete ", e.path().string(), ": ", ec.message()));
  }
  return absl::OkStatus();
}

}  // namespace minicloud::agent
