#include "common/file/file_util.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace minicloud::file {

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
  if (this != &other) {
    Reset();
    fd_ = other.Release();
  }
  return *this;
}

int UniqueFd::Release() {
  int fd = fd_;
  fd_ = -1;
  return fd;
}

void UniqueFd::Reset() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

absl::Status UniqueFd::Close(std::string_view path) {
  if (fd_ < 0) return absl::OkStatus();
  int fd = Release();
  // Linux always releases the descriptor, even when close() reports an error: never retry.
  if (::close(fd) != 0 && errno != EINTR) return ErrnoError(errno, "close", path);
  return absl::OkStatus();
}

absl::Status ErrnoError(int err, std::string_view op, std::string_view path) {
  return absl::ErrnoToStatus(err, absl::StrCat(AbslView(op), " ", AbslView(path)));
}

absl::StatusOr<std::string> ReadFileToString(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return ErrnoError(errno, "read", path);
  std::ostringstream out;
  out << in.rdbuf();
  if (in.bad()) return ErrnoError(errno, "read", path);
  return out.str();
}

absl::StatusOr<UniqueFd> OpenForRead(const std::string& path) {
  int fd;
  do {
    // O_NONBLOCK: opening a FIFO planted where an image should be must not hang us (callers
    // reject non-regular files after fstat); it changes nothing for regular files.
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) return ErrnoError(errno, "open", path);
  return UniqueFd(fd);
}

absl::Status WriteAll(int fd, std::string_view data, std::string_view path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError(errno, "write", path);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

absl::Status PWriteAll(int fd, std::string_view data, uint64_t offset, std::string_view path) {
  while (!data.empty()) {
    ssize_t n = ::pwrite(fd, data.data(), data.size(), static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError(errno, "write", path);
    }
    data.remove_prefix(static_cast<size_t>(n));
    offset += static_cast<uint64_t>(n);
  }
  return absl::OkStatus();
}

absl::StatusOr<size_t> PReadUpTo(int fd, char* buf, size_t len, uint64_t offset,
                                 std::string_view path) {
  size_t done = 0;
  while (done < len) {
    ssize_t n = ::pread(fd, buf + done, len - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError(errno, "read", path);
    }
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  return done;
}

absl::StatusOr<uint64_t> RegularFileSize(int fd, std::string_view path) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return ErrnoError(errno, "stat", path);
  if (!S_ISREG(st.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat(AbslView(path), " is not a regular file"));
  }
  return static_cast<uint64_t>(st.st_size);
}

absl::Status Fsync(int fd, std::string_view path) {
  while (::fsync(fd) != 0) {
    if (errno != EINTR) return ErrnoError(errno, "fsync", path);
  }
  return absl::OkStatus();
}

absl::Status FsyncDir(const std::string& dir) {
  int fd;
  do {
    fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) return ErrnoError(errno, "open directory", dir);
  UniqueFd owned(fd);
  return Fsync(fd, dir);
}

absl::Status EnsureDirectoryMode(const std::string& path, mode_t mode) {
  if (path.empty()) return absl::InvalidArgumentError("directory: empty path");
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) return absl::InternalError(absl::StrCat("create directory ", path, ": ", ec.message()));
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return ErrnoError(errno, "stat", path);
  if (!S_ISDIR(st.st_mode)) {
    return absl::InternalError(absl::StrCat("create directory ", path, ": not a directory"));
  }
  if ((st.st_mode & 07777) != mode && ::chmod(path.c_str(), mode) != 0) {
    return ErrnoError(errno, "chmod", path);
  }
  return absl::OkStatus();
}

std::string DirName(std::string_view path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string_view::npos) return ".";
  if (slash == 0) return "/";
  return std::string(path.substr(0, slash));
}

std::string BaseName(std::string_view path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string_view::npos) return std::string(path);
  return std::string(path.substr(slash + 1));
}

absl::StatusOr<TempFile> TempFile::Create(const std::string& name_hint, mode_t mode) {
  static std::atomic<uint64_t> counter{0};
  const std::string dir = DirName(name_hint);
  const std::string base = BaseName(name_hint);
  if (base.empty() || base == "." || base == "..") {
    return absl::InvalidArgumentError(absl::StrCat("not a file path: ", name_hint));
  }
  for (int attempt = 0; attempt < 100; ++attempt) {
    std::string tmp = absl::StrCat(dir, "/.", base, ".tmp.", ::getpid(), ".",
                                   counter.fetch_add(1, std::memory_order_relaxed));
    int fd = ::open(tmp.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, mode);
    if (fd >= 0) return TempFile(UniqueFd(fd), std::move(tmp));
    if (errno == EEXIST || errno == EINTR) continue;  // another process's leftover: next name
    return ErrnoError(errno, "create", tmp);
  }
  return absl::ResourceExhaustedError(
      absl::StrCat("create temp file next to ", name_hint, ": no free name after 100 tries"));
}

TempFile::TempFile(TempFile&& other) noexcept
    : fd_(std::move(other.fd_)), path_(std::move(other.path_)), live_(other.live_) {
  other.live_ = false;
}

TempFile& TempFile::operator=(TempFile&& other) noexcept {
  if (this != &other) {
    Abandon();
    fd_ = std::move(other.fd_);
    path_ = std::move(other.path_);
    live_ = other.live_;
    other.live_ = false;
  }
  return *this;
}

void TempFile::Abandon() {
  fd_.Reset();
  if (live_) ::unlink(path_.c_str());
  live_ = false;
}

namespace {

// rename(from, to) that refuses to replace an existing `to`.
absl::Status RenameNoReplace(const std::string& from, const std::string& to) {
  if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) {
    return absl::OkStatus();
  }
  if (errno == EEXIST) return absl::AlreadyExistsError(absl::StrCat(to, " already exists"));
  if (errno != EINVAL && errno != ENOSYS) return ErrnoError(errno, "rename to", to);
  // File system without RENAME_NOREPLACE: link() is atomic and fails on an existing name.
  if (::link(from.c_str(), to.c_str()) != 0) {
    if (errno == EEXIST) return absl::AlreadyExistsError(absl::StrCat(to, " already exists"));
    return ErrnoError(errno, "link to", to);
  }
  ::unlink(from.c_str());
  return absl::OkStatus();
}

}  // namespace

absl::Status TempFile::Publish(const std::string& final_path, bool replace) {
  if (!live_) {
    return absl::FailedPreconditionError(
        absl::StrCat("publish ", final_path, ": temp file already published or abandoned"));
  }
  absl::Status s = Fsync(fd_.get(), path_);
  if (s.ok()) s = fd_.Close(path_);
  if (s.ok()) {
    if (replace) {
      if (::rename(path_.c_str(), final_path.c_str()) != 0) {
        s = ErrnoError(errno, "rename to", final_path);
      }
    } else {
      s = RenameNoReplace(path_, final_path);
    }
  }
  if (!s.ok()) {
    Abandon();
    return s;
  }
  live_ = false;
  // Without the directory fsync the rename may not survive a crash. Without `replace` nothing
  // was at final_path before: take the file back out, so an error means nothing was published.
  // With `replace` the old file is already gone; removing the new one would lose both.
  s = FsyncDir(DirName(final_path));
  if (!s.ok() && !replace) ::unlink(final_path.c_str());
  return s;
}

absl::Status WriteFileAtomic(const std::string& path, std::string_view data, mode_t mode) {
  MC_ASSIGN_OR_RETURN(TempFile tmp, TempFile::Create(path, mode));
  MC_RETURN_IF_ERROR(WriteAll(tmp.fd(), data, tmp.path()));
  if (::fchmod(tmp.fd(), mode) != 0) return ErrnoError(errno, "chmod", tmp.path());
  return tmp.Publish(path, /*replace=*/true);
}

}  // namespace minicloud::file
