#pragma once

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "controller/auth/access_key_lookup.h"
#include "controller/auth/secret_box.h"
#include "controller/store/store.h"
#include "minicloud/v1/compute.pb.h"
#include "minicloud/v1/records.pb.h"

namespace minicloud::controller::auth {

// The account's access keys (IAM's CreateAccessKey / ListAccessKeys / DeleteAccessKey) and the
// AccessKeyLookup the SigV4 verifier uses. Keys live in the store's access_keys table (this
// service's alone) with their secrets sealed by the SecretBox; a copy of the records is kept in
// memory so a lookup reads no disk. Thread-safe.
//
// Key ids look like AWS's: "AKIA" + 16 characters of base32's upper-case alphabet (A-Z, 2-7);
// secrets are 40 characters of base64's alphabet. Both come from OpenSSL's CSPRNG.
class AccessKeyService final : public AccessKeyLookup {
 public:
  AccessKeyService(Store& store, const Clock& clock, SecretBox box)
      : store_(store), clock_(clock), box_(std::move(box)) {}

  // Reads the table into memory; every sealed secret must open (else DataLoss naming the key:
  // the master key file is not the one the keys were sealed with).
  absl::Status Load();

  // Creates and stores a key; the answer is the only place its secret is ever shown.
  absl::StatusOr<v1::CreateAccessKeyResponse> CreateAccessKey(
      const v1::CreateAccessKeyRequest& req);
  absl::StatusOr<v1::ListAccessKeysResponse> ListAccessKeys(const v1::ListAccessKeysRequest& req);
  // NoSuchEntity (NotFound) for an unknown id; from its return on, the key verifies nothing.
  absl::StatusOr<v1::DeleteAccessKeyResponse> DeleteAccessKey(
      const v1::DeleteAccessKeyRequest& req);

  absl::StatusOr<AccessKeySecret> Lookup(absl::string_view access_key_id) const override;

  size_t size() const;

 private:
  struct Entry {
    v1::AccessKeyRecord record;
    std::string secret;
  };
  Store& store_;
  const Clock& clock_;
  const SecretBox box_;
  mutable std::mutex mu_;
  std::map<std::string, Entry, std::less<>> keys_;
};

// First start: when `keys` has no key, creates one and writes it to `path` as an aws CLI
// credentials file ("[default]", aws_access_key_id, aws_secret_access_key), mode 0600, atomically.
// Returns the new key's id, or "" when keys already existed (nothing is written then).
absl::StatusOr<std::string> EnsureFirstAccessKey(AccessKeyService& keys, const std::string& path);

// The aws CLI credentials file text for one key under `[profile]`.
std::string CredentialsFileText(absl::string_view profile, absl::string_view access_key_id,
                                absl::string_view secret_access_key);

}  // namespace minicloud::controller::auth
