#pragma once

// Streaming SHA-256 (OpenSSL EVP) with lowercase-hex output.

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace minicloud::storage {

// Incremental hasher: Update() any number of times, then Finish() once.
// Not thread-safe; movable. OpenSSL failures (allocation) surface as Internal from Finish().
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(std::string_view bytes);
  // 64 lowercase hex characters. After Finish() the hasher is spent (FailedPrecondition).
  absl::StatusOr<std::string> Finish();

 private:
  struct Ctx;
  std::unique_ptr<Ctx> ctx_;
  bool ok_ = true;
  bool finished_ = false;
};

// Digest of an in-memory buffer.
absl::StatusOr<std::string> Sha256Hex(std::string_view bytes);

// Digest of a file's contents, read in 1 MiB chunks. NotFound etc. with the path on I/O errors.
absl::StatusOr<std::string> Sha256FileHex(const std::string& path);

// True for exactly 64 hex digits, either case.
bool IsSha256Hex(std::string_view s);

}  // namespace minicloud::storage
