#include "agent/hypervisor/qemu_account.h"

#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/file/file_util.h"

namespace minicloud::hypervisor {
namespace {

// Gives `path` to the account's group (keeping its owner) and sets `mode` exactly; for root,
// only the owner-only part of `mode`.
absl::Status SetGroupAccess(const QemuAccount& account, const std::string& path, mode_t mode) {
  if (account.privileged()) mode &= 0700;
  if (!account.privileged() && ::chown(path.c_str(), static_cast<uid_t>(-1), account.gid) != 0) {
    return file::ErrnoError(errno, absl::StrCat("give to group ", account.group, ":"), path);
  }
  if (::chmod(path.c_str(), mode) != 0) return file::ErrnoError(errno, "chmod", path);
  return absl::OkStatus();
}

// Whether the account has all of `want` (as owner bits: S_IRUSR | S_IWUSR | S_IXUSR) on `st`.
bool Allows(const QemuAccount& account, const struct stat& st, mode_t want) {
  if (account.privileged()) return true;
  if (st.st_uid == account.uid) return (st.st_mode & want) == want;
  const bool in_group =
      st.st_gid == account.gid ||
      std::find(account.groups.begin(), account.groups.end(), st.st_gid) != account.groups.end();
  const mode_t shift = in_group ? 3 : 6;
  return (st.st_mode & (want >> shift)) == (want >> shift);
}

std::string GroupName(gid_t gid) {
  group gr;
  group* result = nullptr;
  char buf[4096];
  if (getgrgid_r(gid, &gr, buf, sizeof(buf), &result) == 0 && result != nullptr) {
    return result->gr_name;
  }
  return absl::StrCat(gid);
}

}  // namespace

absl::Status QemuAccount::ShareDirectory(const std::string& dir) const {
  if (absl::Status s = file::EnsureDirectoryMode(dir, 0700); !s.ok()) return s;
  return SetGroupAccess(*this, dir, 0710);
}

absl::Status QemuAccount::ShareReadOnly(const std::string& path) const {
  return SetGroupAccess(*this, path, 0440);
}

absl::Status QemuAccount::ShareWritable(const std::string& path) const {
  return SetGroupAccess(*this, path, 0660);
}

absl::Status QemuAccount::CheckCanReach(const std::string& dir) const {
  if (privileged()) return absl::OkStatus();
  std::filesystem::path at = "/";
  const std::filesystem::path target = std::filesystem::path(dir).lexically_normal();
  for (auto part = target.begin();; ++part) {
    struct stat st;
    if (::stat(at.c_str(), &st) != 0) return file::ErrnoError(errno, "stat", at.string());
    if (!Allows(*this, st, S_IXUSR)) {
      return absl::FailedPreconditionError(absl::StrFormat(
          "QEMU runs as '%s', which cannot reach %s: %s is mode %04o owner %d group %s; let it "
          "search the directory (e.g. chmod o+x %s), move the state directory, or run QEMU as "
          "root (qemu_user: root, unconfined)",
          user, dir, at.string(), st.st_mode & 07777, st.st_uid, GroupName(st.st_gid),
          at.string()));
    }
    if (part == target.end()) return absl::OkStatus();
    if (part->empty() || *part == "/") continue;
    at /= *part;
  }
}

absl::Status QemuAccount::CheckCanOpenDevice(const std::string& device) const {
  if (privileged()) return absl::OkStatus();
  struct stat st;
  if (::stat(device.c_str(), &st) != 0) return file::ErrnoError(errno, "stat", device);
  if (Allows(*this, st, S_IRUSR | S_IWUSR)) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrFormat(
      "QEMU runs as '%s', which cannot open %s (mode %04o owner %d group %s): add it to the "
      "device's group (usermod -a -G %s %s) or make the device group-accessible",
      user, device, st.st_mode & 07777, st.st_uid, GroupName(st.st_gid), GroupName(st.st_gid),
      user));
}

absl::StatusOr<QemuAccount> LookupQemuAccount(const std::string& user) {
  if (user.empty()) return absl::InvalidArgumentError("qemu_user: empty account name");
  passwd pw;
  passwd* result = nullptr;
  char buf[4096];
  if (getpwnam_r(user.c_str(), &pw, buf, sizeof(buf), &result) != 0 || result == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("qemu_user: no account '", user,
                     "' for QEMU; create it (deploy/install-deps.sh does): "
                     "groupadd --system ",
                     user, " && useradd --system --gid ", user,
                     " --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin ", user,
                     " (or set qemu_user: root to run QEMU unconfined)"));
  }
  QemuAccount account;
  account.user = user;
  account.uid = result->pw_uid;
  account.gid = result->pw_gid;
  account.group = GroupName(account.gid);
  int n = 64;
  std::vector<gid_t> groups(n);
  while (getgrouplist(user.c_str(), account.gid, groups.data(), &n) < 0) groups.resize(n);
  groups.resize(n);
  account.groups = std::move(groups);
  return account;
}

}  // namespace minicloud::hypervisor
