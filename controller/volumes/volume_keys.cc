#include "controller/volumes/volume_keys.h"

#include <openssl/sha.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/ec2_error.h"
#include "common/ids.h"

namespace minicloud::controller {
namespace {

constexpr size_t kDataKeyBytes = 32;

std::string Aad(const std::string& data_key_id) {
  return absl::StrCat("minicloud ebs data key ", data_key_id);
}

}  // namespace

absl::StatusOr<std::string> VolumeKeys::NewSealedKey(const std::string& data_key_id) const {
  absl::StatusOr<std::string> raw = random_(kDataKeyBytes);
  if (!raw.ok()) return raw.status();
  if (raw->size() != kDataKeyBytes) {
    return absl::InternalError("volume data key: the random source gave a short key");
  }
  return box_.Seal(absl::BytesToHexString(*raw), Aad(data_key_id));
}

absl::StatusOr<std::string> VolumeKeys::Open(const std::string& sealed,
                                             const std::string& data_key_id) const {
  absl::StatusOr<std::string> key = box_.Open(sealed, Aad(data_key_id));
  if (!key.ok()) {
    return absl::Status(key.status().code(), absl::StrCat("open the data key of ", data_key_id,
                                                          ": ", key.status().message()));
  }
  if (key->size() != 2 * kDataKeyBytes) {
    return absl::InternalError(absl::StrCat("the data key of ", data_key_id, " is malformed"));
  }
  return key;
}

std::string DefaultEbsKmsKeyArn(const std::string& region, const std::string& account) {
  // A UUID-shaped key id from a hash of the account and region: stable, and distinct per cloud.
  const std::string seed = absl::StrCat("minicloud aws/ebs ", account, " ", region);
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(seed.data()), seed.size(), digest);
  const std::string hex =
      absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(digest), 16));
  const std::string uuid =
      absl::StrCat(hex.substr(0, 8), "-", hex.substr(8, 4), "-", hex.substr(12, 4), "-",
                   hex.substr(16, 4), "-", hex.substr(20, 12));
  return absl::StrCat("arn:aws:kms:", region, ":", account, ":key/", uuid);
}

absl::StatusOr<std::string> ResolveEbsKmsKey(const std::string& kms_key_id,
                                             const std::string& region,
                                             const std::string& account) {
  const std::string arn = DefaultEbsKmsKeyArn(region, account);
  if (kms_key_id.empty()) return arn;
  const std::string key_id = arn.substr(arn.rfind('/') + 1);
  const std::string alias_arn =
      absl::StrCat("arn:aws:kms:", region, ":", account, ":alias/aws/ebs");
  if (kms_key_id == arn || kms_key_id == key_id || kms_key_id == "alias/aws/ebs" ||
      kms_key_id == alias_arn) {
    return arn;
  }
  return InvalidParameterValue(
      absl::StrCat("Invalid KmsKeyId '", QuoteForMessage(kms_key_id, 128),
                   "': this cloud has one KMS key for EBS, the AWS managed key alias/aws/ebs (",
                   arn, "); customer managed keys are not supported"));
}

}  // namespace minicloud::controller
