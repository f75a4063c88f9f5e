#include "controller/service/cache_blob_store.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/status_macros.h"
#include "common/string_view_compat.h"

namespace minicloud::controller {
namespace {

class CacheBlobWriter final : public BlobWriter {
 public:
  explicit CacheBlobWriter(storage::ImageCache::Writer w) : w_(std::move(w)) {}
  absl::Status Append(absl::string_view bytes) override { return w_.Append(StdView(bytes)); }
  absl::StatusOr<BlobInfo> Commit() override {
    MC_ASSIGN_OR_RETURN(auto cached, w_.Commit());
    return BlobInfo{cached.sha256, static_cast<int64_t>(cached.size)};
  }

 private:
  storage::ImageCache::Writer w_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<CacheBlobStore>> CacheBlobStore::Open(const std::string& dir) {
  MC_ASSIGN_OR_RETURN(auto cache, storage::ImageCache::Open(dir));
  return std::unique_ptr<CacheBlobStore>(new CacheBlobStore(std::move(cache)));
}

absl::StatusOr<std::unique_ptr<BlobWriter>> CacheBlobStore::BeginWrite(
    absl::string_view expected_sha256) {
  MC_ASSIGN_OR_RETURN(auto w, cache_.BeginWrite(StdView(expected_sha256)));
  return std::unique_ptr<BlobWriter>(new CacheBlobWriter(std::move(w)));
}

absl::StatusOr<std::string> CacheBlobStore::PathOf(absl::string_view sha256) {
  if (auto p = cache_.Lookup(StdView(sha256))) return *p;
  return absl::NotFoundError(absl::StrCat("blob ", sha256, " is not stored"));
}

absl::Status CacheBlobStore::Remove(absl::string_view sha256) {
  return cache_.Remove(StdView(sha256));
}

}  // namespace minicloud::controller
