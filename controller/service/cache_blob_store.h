#pragma once

#include <memory>

#include "absl/strings/string_view.h"
#include "common/storage/image_cache.h"
#include "controller/service/blob_store.h"

namespace minicloud::controller {

// BlobStore on a local content-addressed directory (the same cache format agents use).
class CacheBlobStore final : public BlobStore {
 public:
  static absl::StatusOr<std::unique_ptr<CacheBlobStore>> Open(const std::string& dir);

  absl::StatusOr<std::unique_ptr<BlobWriter>> BeginWrite(
      absl::string_view expected_sha256) override;
  absl::StatusOr<std::string> PathOf(absl::string_view sha256) override;
  absl::Status Remove(absl::string_view sha256) override;

 private:
  explicit CacheBlobStore(storage::ImageCache cache) : cache_(std::move(cache)) {}
  storage::ImageCache cache_;
};

}  // namespace minicloud::controller
