#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace minicloud::controller {

struct BlobInfo {
  std::string sha256;
  int64_t size_bytes = 0;
};

// Content-addressed files the controller serves to agents (AMI disks, kernels, ramdisks).
// Implementation: CacheBlobStore (cache_blob_store.h, over common/storage/image_cache.h).
//
// Contract:
// - A blob is named by the SHA-256 of its bytes (64 hex digits; either case is accepted, names
//   are returned in lowercase). A stored blob is complete and was verified when it was stored.
// - BeginWrite(expected) starts a blob from bytes (the store never opens a file named by a
//   caller): the writer hashes what is appended; Commit() publishes it atomically and returns
//   its digest and size. With `expected` set, bytes hashing to something else are DataLoss and
//   nothing is kept. Writing the same bytes twice is one blob (idempotent). A writer destroyed
//   without a successful Commit() leaves nothing.
// - PathOf(sha256) is the local path of a stored blob (read-only; callers open it, never write
//   it); NotFound when absent, InvalidArgument when `sha256` is not a digest.
// - Remove(sha256) deletes a stored blob; NotFound when absent. Readers that already opened it
//   keep their open file.
// - Thread-safe; errors name the path or digest.
class BlobWriter {
 public:
  virtual ~BlobWriter() = default;
  // After an error the writer is poisoned: Commit() returns that error.
  virtual absl::Status Append(absl::string_view bytes) = 0;
  // Single use.
  virtual absl::StatusOr<BlobInfo> Commit() = 0;
};

class BlobStore {
 public:
  virtual ~BlobStore() = default;
  virtual absl::StatusOr<std::unique_ptr<BlobWriter>> BeginWrite(
      absl::string_view expected_sha256) = 0;
  virtual absl::StatusOr<std::string> PathOf(absl::string_view sha256) = 0;
  virtual absl::Status Remove(absl::string_view sha256) = 0;
};

}  // namespace minicloud::controller
