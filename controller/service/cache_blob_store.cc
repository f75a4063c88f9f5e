#include "controller/service/cache_blob_store.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/status_macros.h"
#include "common/string_view_compat.h"

namespace minicloud::controller {

absl::StatusOr<std::unique_ptr<CacheBlobStore>> CacheBlobStore::Open(const std::string& dir) {
  MC_ASSIGN_OR_RETURN(auto cache, storage::ImageCache::Open(dir));
  return std::unique_ptr<CacheBlobStore>(new CacheBlobStore(std::move(cache)));
}

absl::StatusOr<BlobInfo> CacheBlobStore::Import(const std::string& path,
                                                absl::string_view expected_sha256) {
  MC_ASSIGN_OR_RETURN(auto cached, cache_.ImportFile(path, StdView(expected_sha256)));
  return BlobInfo{cached.sha256, static_cast<int64_t>(cached.size)};
}

absl::StatusOr<std::string> CacheBlobStore::PathOf(absl::string_view sha256) {
  if (auto p = cache_.Lookup(StdView(sha256))) return *p;
  return absl::NotFoundError(absl::StrCat("blob ", sha256, " is not stored"));
}

absl::Status CacheBlobStore::Remove(absl::string_view sha256) {
  return cache_.Remove(StdView(sha256));
}

}  // namespace minicloud::controller
