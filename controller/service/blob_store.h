#pragma once

#include <cstdint>
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
// Thread-safe.
class BlobStore {
 public:
  virtual ~BlobStore() = default;
  // Copies a local file in. When expected_sha256 is set and differs, nothing is kept.
  virtual absl::StatusOr<BlobInfo> Import(const std::string& path,
                                          absl::string_view expected_sha256) = 0;
  // Path of a stored blob; NotFound when absent.
  virtual absl::StatusOr<std::string> PathOf(absl::string_view sha256) = 0;
  virtual absl::Status Remove(absl::string_view sha256) = 0;
};

}  // namespace minicloud::controller
