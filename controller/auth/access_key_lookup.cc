#include "controller/auth/access_key_lookup.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace minicloud::controller::auth {

void InMemoryAccessKeys::Put(std::string access_key_id, AccessKeySecret secret) {
  std::lock_guard<std::mutex> lock(mu_);
  keys_[std::move(access_key_id)] = std::move(secret);
}

void InMemoryAccessKeys::Remove(absl::string_view access_key_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = keys_.find(access_key_id);
  if (it != keys_.end()) keys_.erase(it);
}

absl::StatusOr<AccessKeySecret> InMemoryAccessKeys::Lookup(absl::string_view access_key_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = keys_.find(access_key_id);
  if (it == keys_.end()) return absl::NotFoundError(absl::StrCat("no access key ", access_key_id));
  return it->second;
}

}  // namespace minicloud::controller::auth
