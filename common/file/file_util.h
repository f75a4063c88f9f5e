#pragma once

// Small POSIX file helpers: an owning file descriptor, complete
// reads/writes that retry on EINTR and short counts, and "write to a temp name, fsync, rename"
// publication. Every failure is an absl::Status carrying the path and the errno text.

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/string_view_compat.h"

namespace minicloud::file {

// Owns a file descriptor; closes it on destruction (errors ignored; use Close() to see them).
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { Reset(); }
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.Release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int Release();
  void Reset();
  // Closes and reports the close(2) error, if any (it can carry a deferred write error).
  absl::Status Close(std::string_view path);

 private:
  int fd_ = -1;
};

// errno → canonical status with context: "open /x: No such file or directory" (NotFound).
absl::Status ErrnoError(int err, std::string_view op, std::string_view path);

// The whole content of the file at `path` (bytes as they are). ErrnoError's codes on failure
// ("read /x: No such file or directory": NotFound).
absl::StatusOr<std::string> ReadFileToString(const std::string& path);

// Opens `path` read-only (O_CLOEXEC, and O_NONBLOCK so a FIFO cannot block the open).
absl::StatusOr<UniqueFd> OpenForRead(const std::string& path);

// Writes all of `data` at the current position / at `offset`.
absl::Status WriteAll(int fd, std::string_view data, std::string_view path);
absl::Status PWriteAll(int fd, std::string_view data, uint64_t offset, std::string_view path);

// Reads up to `len` bytes at `offset`; returns fewer only at end of file.
absl::StatusOr<size_t> PReadUpTo(int fd, char* buf, size_t len, uint64_t offset,
                                 std::string_view path);

// Size of the regular file open as `fd`; FailedPrecondition for directories, devices, etc.
absl::StatusOr<uint64_t> RegularFileSize(int fd, std::string_view path);

absl::Status Fsync(int fd, std::string_view path);
// fsyncs the directory so a rename/unlink inside it is durable.
absl::Status FsyncDir(const std::string& dir);

// Creates the directory `path` (and missing parents, under the process umask) and sets its mode
// to exactly `mode`, also when it already existed with another one (state directories of older
// versions were 0755). Parents keep whatever mode they have. InvalidArgument for an empty path;
// Internal (with the path and errno text) when it cannot be created or is not a directory.
absl::Status EnsureDirectoryMode(const std::string& path, mode_t mode);

// "/a/b/c" → "/a/b"; "c" → "."; "/c" → "/".
std::string DirName(std::string_view path);
std::string BaseName(std::string_view path);

// A freshly created (O_EXCL) temp file in some directory. The destructor removes it unless
// Publish() succeeded, so a failed operation leaves nothing behind.
class TempFile {
 public:
  // Creates "<dir of name_hint>/.<base of name_hint>.tmp.<pid>.<n>" with `mode` (before umask);
  // unique among threads and processes of this host (O_EXCL, retried with the next n).
  static absl::StatusOr<TempFile> Create(const std::string& name_hint, mode_t mode);

  TempFile(TempFile&& other) noexcept;
  TempFile& operator=(TempFile&& other) noexcept;
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  ~TempFile() { Abandon(); }

  int fd() const { return fd_.get(); }
  const std::string& path() const { return path_; }

  // fsync, close, rename to `final_path` (same file system), fsync its directory. With
  // `replace` false the rename fails with AlreadyExists if final_path exists (atomically:
  // renameat2 RENAME_NOREPLACE, or link+unlink where the file system lacks it). On any failure
  // the temp file is removed and final_path is as it was, with one exception: when only the
  // final directory fsync fails after a replacing rename, the new file stays (the old one is
  // gone by then) and the error is still reported.
  absl::Status Publish(const std::string& final_path, bool replace);
  // Closes and removes the temp file now (idempotent; a no-op after Publish succeeded).
  void Abandon();

 private:
  TempFile(UniqueFd fd, std::string path) : fd_(std::move(fd)), path_(std::move(path)) {}

  UniqueFd fd_;
  std::string path_;
  bool live_ = true;  // the temp file exists on disk and is ours to remove
};

// Replaces (or creates) `path` with exactly `data` so that readers, and the file system after a
// crash, see either the old file or the complete new one, never a part:
//   temp file next to `path` (TempFile: unique O_EXCL name, same directory) -> write all ->
//   fchmod(`mode`) (exact: not narrowed by the umask) -> fsync -> close -> rename over `path` ->
//   fsync the directory.
// On OK the new content is durable. On an error (with the path and errno text) the temp file is
// gone and `path` keeps its old content (see TempFile::Publish for the one exception).
// Concurrent writers of one path are safe; the last rename wins.
absl::Status WriteFileAtomic(const std::string& path, std::string_view data, mode_t mode);

}  // namespace minicloud::file
