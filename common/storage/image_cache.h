#pragma once

// A content-addressed cache of AMI files on local disk: each object is the file
// "<dir>/<sha256>" (64 lowercase hex digits) whose contents hash to its name.
//
// Contract:
//  - An object becomes visible only complete and verified: writers stream into a temp file
//    ("<dir>/.<name>.tmp.<pid>.<n>"), Commit() checks the SHA-256, fsyncs, makes the file
//    read-only to its owner only (0400; whoever else needs it is given it explicitly, as the
//    agent does for QEMU's group) and renames it into place atomically. A digest mismatch is
//    DataLoss and leaves nothing behind.
//  - A Writer that is destroyed (or Abandon()ed) without a successful Commit() removes its
//    temp file.
//  - Concurrent writers of the same object (threads or processes) are safe: temp names are
//    unique and the last rename wins; the contents are identical by construction.
//  - Lookup() trusts committed objects (they were verified when written); it does not rehash.
//  - Digests are accepted in either case and normalised to lowercase; anything that is not
//    64 hex digits is InvalidArgument (so a digest can never name a path outside the cache).
//  - Temp files of a process that crashed stay behind (they start with '.', Lookup ignores
//    them); nothing here deletes files it did not create.
// ImageCache is a cheap value (it holds the directory name) and is safe to share across threads.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/file/file_util.h"
#include "common/storage/sha256.h"

namespace minicloud::storage {

struct CachedImage {
  std::string sha256;  // lowercase hex
  std::string path;    // <dir>/<sha256>
  uint64_t size = 0;   // bytes
};

class ImageCache {
 public:
  class Writer;

  // Uses `dir`, creating it (and missing parents, under the process umask) if needed.
  static absl::StatusOr<ImageCache> Open(std::string dir);

  const std::string& dir() const { return dir_; }

  // Path of the committed object, or nullopt if absent (or `sha256` is not a digest).
  std::optional<std::string> Lookup(std::string_view sha256) const;

  // Starts writing an object expected to hash to `sha256`. An empty `sha256` means "not known
  // in advance": Commit() names the object after what was written.
  absl::StatusOr<Writer> BeginWrite(std::string_view sha256) const;

  // Deletes a committed object. NotFound if it is not in the cache. Callers that still have it
  // open (e.g. a running guest's backing file) keep their open file; new Lookups miss.
  absl::Status Remove(std::string_view sha256) const;

  // Copies the local file `src_path` into the cache, verifying `expected_sha256` if non-empty
  // (DataLoss on mismatch, nothing left behind). Returns the existing object without copying
  // when `expected_sha256` is already cached.
  absl::StatusOr<CachedImage> ImportFile(const std::string& src_path,
                                         std::string_view expected_sha256) const;

 private:
  explicit ImageCache(std::string dir) : dir_(std::move(dir)) {}
  std::string ObjectPath(std::string_view lower_sha256) const;

  std::string dir_;
};

// Streams one object into the cache. Movable, single-use, not thread-safe.
class ImageCache::Writer {
 public:
  Writer(Writer&&) noexcept = default;
  Writer& operator=(Writer&&) noexcept = default;
  ~Writer() = default;  // an uncommitted temp file is removed by ~TempFile

  // Appends bytes. After an error the writer is poisoned: Commit() returns that error.
  absl::Status Append(std::string_view bytes);

  // Verifies the digest, then publishes atomically. DataLoss on mismatch. Single use: the
  // writer is finished afterwards whatever the outcome.
  absl::StatusOr<CachedImage> Commit();

  // Drops everything written so far (idempotent).
  void Abandon();

  uint64_t bytes_written() const { return size_; }

 private:
  friend class ImageCache;
  Writer(std::string dir, std::string expected_sha256, file::TempFile tmp)
      : dir_(std::move(dir)), expected_(std::move(expected_sha256)), tmp_(std::move(tmp)) {}

  std::string dir_;
  std::string expected_;  // lowercase; empty = name by content
  file::TempFile tmp_;
  Sha256 hasher_;
  uint64_t size_ = 0;
  absl::Status error_;
  bool finished_ = false;
};

}  // namespace minicloud::storage
