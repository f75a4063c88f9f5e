#include "controller/auth/access_key_service.h"

#include "absl/strings/str_cat.h"
#include "common/ec2_error.h"
#include "common/file/file_util.h"
#include "common/status_macros.h"

namespace minicloud::controller::auth {
namespace {

constexpr char kBase32Upper[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
constexpr char kBase64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr size_t kIdChars = 16;
constexpr size_t kSecretChars = 40;

// `n` characters drawn uniformly from `alphabet` (its size a power of two: 32 or 64).
absl::StatusOr<std::string> RandomChars(size_t n, absl::string_view alphabet) {
  MC_ASSIGN_OR_RETURN(std::string bytes, RandomBytes(n));
  std::string out(n, '\0');
  for (size_t i = 0; i < n; ++i) {
    out[i] = alphabet[static_cast<unsigned char>(bytes[i]) % alphabet.size()];
  }
  return out;
}

void SetTime(google::protobuf::Timestamp* ts, int64_t ms) {
  ts->set_seconds(ms / 1000);
  ts->set_nanos(static_cast<int32_t>((ms % 1000) * 1'000'000));
}

}  // namespace

absl::Status AccessKeyService::Load() {
  MC_ASSIGN_OR_RETURN(auto rows, store_.Scan(Table::kAccessKeys));
  std::map<std::string, Entry, std::less<>> loaded;
  for (const auto& [key, value] : rows) {
    Entry e;
    if (!e.record.ParseFromString(value)) {
      return absl::DataLossError(absl::StrCat("access key record ", key, " does not parse"));
    }
    auto secret = box_.Open(e.record.sealed_secret(), e.record.access_key_id());
    if (!secret.ok()) {
      return absl::DataLossError(absl::StrCat("access key ", key, ": ", secret.status().message(),
                                              " (is the master key file the one of this store?)"));
    }
    e.secret = *std::move(secret);
    loaded.emplace(key, std::move(e));
  }
  std::lock_guard<std::mutex> lock(mu_);
  keys_ = std::move(loaded);
  return absl::OkStatus();
}

absl::StatusOr<v1::CreateAccessKeyResponse> AccessKeyService::CreateAccessKey(
    const v1::CreateAccessKeyRequest&) {
  MC_ASSIGN_OR_RETURN(std::string id_tail, RandomChars(kIdChars, kBase32Upper));
  MC_ASSIGN_OR_RETURN(std::string secret, RandomChars(kSecretChars, kBase64));
  Entry e;
  e.record.set_access_key_id(absl::StrCat("AKIA", id_tail));
  e.record.set_create_time_ms(absl::ToUnixMillis(clock_.Now()));
  MC_ASSIGN_OR_RETURN(std::string sealed, box_.Seal(secret, e.record.access_key_id()));
  e.record.set_sealed_secret(std::move(sealed));
  e.secret = secret;

  std::lock_guard<std::mutex> lock(mu_);
  if (keys_.contains(e.record.access_key_id())) {
    // 80 random bits: a collision means the random source is broken.
    return absl::InternalError("new access key id collides with an existing one");
  }
  WriteBatch batch;
  batch.Put(Table::kAccessKeys, e.record.access_key_id(), e.record.SerializeAsString());
  MC_RETURN_IF_ERROR(store_.Commit(batch));
  v1::CreateAccessKeyResponse resp;
  v1::AccessKey* key = resp.mutable_access_key();
  key->set_access_key_id(e.record.access_key_id());
  key->set_secret_access_key(secret);
  key->set_status("Active");
  SetTime(key->mutable_create_date(), e.record.create_time_ms());
  keys_.emplace(e.record.access_key_id(), std::move(e));
  return resp;
}

absl::StatusOr<v1::ListAccessKeysResponse> AccessKeyService::ListAccessKeys(
    const v1::ListAccessKeysRequest&) {
  v1::ListAccessKeysResponse resp;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [id, e] : keys_) {
    v1::AccessKeyMetadata* m = resp.add_access_key_metadata();
    m->set_access_key_id(id);
    m->set_status("Active");
    SetTime(m->mutable_create_date(), e.record.create_time_ms());
  }
  return resp;
}

absl::StatusOr<v1::DeleteAccessKeyResponse> AccessKeyService::DeleteAccessKey(
    const v1::DeleteAccessKeyRequest& req) {
  if (req.access_key_id().empty()) {
    return MissingParameter("The request must contain the parameter AccessKeyId");
  }
  std::lock_guard<std::mutex> lock(mu_);
  auto it = keys_.find(req.access_key_id());
  if (it == keys_.end()) {
    // IAM's answer for an unknown key id.
    return Ec2Error(absl::StatusCode::kNotFound, "NoSuchEntity",
                    absl::StrCat("The Access Key with id ", req.access_key_id().substr(0, 128),
                                 " cannot be found."));
  }
  WriteBatch batch;
  batch.Delete(Table::kAccessKeys, req.access_key_id());
  MC_RETURN_IF_ERROR(store_.Commit(batch));
  keys_.erase(it);
  return v1::DeleteAccessKeyResponse();
}

absl::StatusOr<AccessKeySecret> AccessKeyService::Lookup(absl::string_view access_key_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = keys_.find(access_key_id);
  if (it == keys_.end()) return absl::NotFoundError("no such access key");
  return AccessKeySecret{it->second.secret, std::nullopt, std::nullopt};
}

size_t AccessKeyService::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return keys_.size();
}

std::string CredentialsFileText(absl::string_view profile, absl::string_view access_key_id,
                                absl::string_view secret_access_key) {
  return absl::StrCat("[", profile, "]\naws_access_key_id = ", access_key_id,
                      "\naws_secret_access_key = ", secret_access_key, "\n");
}

absl::StatusOr<std::string> EnsureFirstAccessKey(AccessKeyService& keys, const std::string& path) {
  if (keys.size() > 0) return std::string();
  MC_ASSIGN_OR_RETURN(auto created, keys.CreateAccessKey(v1::CreateAccessKeyRequest()));
  const v1::AccessKey& k = created.access_key();
  MC_RETURN_IF_ERROR(file::WriteFileAtomic(
      path, CredentialsFileText("default", k.access_key_id(), k.secret_access_key()), 0600));
  return k.access_key_id();
}

}  // namespace minicloud::controller::auth
