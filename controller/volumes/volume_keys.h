#pragma once

// The data keys of encrypted EBS volumes, and the one KMS key they are filed under.
//
// EC2's model (Amazon EBS User Guide, "How Amazon EBS encryption works"): each new encrypted
// volume gets its own 256-bit data key; snapshots of the volume and volumes created from those
// snapshots share that data key; the data key is kept only encrypted (under the KMS key) and
// decrypted on the instance's host, which does the encryption, so data is encrypted at rest and
// in transit between the host and the storage.
//
// Here: the data key is 32 bytes from the injected random source, written as 64 hex digits (the
// LUKS passphrase of the volume, see volume/backend/volume_backend.h). It is stored only sealed
// with the controller's SecretBox (AES-256-GCM under <state>/master.key), bound by the
// associated data to the id of the volume that made it ("data_key_id"), so a sealed key copied
// onto another record does not open unless that record names the same origin. In clear it exists
// only in memory: on its way to the volume service when the volume is made (LUKS header), and to
// the instance's host when the volume is attached or booted from.
//
// The KMS key: this cloud has one, the AWS managed key for EBS (alias aws/ebs), whose ARN
// (arn:aws:kms:<region>:<account>:key/<uuid>) is derived from the region and account so that it
// is stable across restarts. Customer managed keys do not exist: any other KmsKeyId is refused.

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "controller/auth/secret_box.h"

namespace minicloud::controller {

// n random bytes (auth::RandomBytes in production, a seeded source in tests).
using RandomSource = std::function<absl::StatusOr<std::string>(size_t n)>;

class VolumeKeys {
 public:
  VolumeKeys(auth::SecretBox box, RandomSource random)
      : box_(std::move(box)), random_(std::move(random)) {}

  // A new data key, sealed for `data_key_id` (the volume that makes it).
  absl::StatusOr<std::string> NewSealedKey(const std::string& data_key_id) const;
  // The data key in clear (64 hex digits). An error, never containing key material, when the
  // sealed bytes, the master key or `data_key_id` do not match.
  absl::StatusOr<std::string> Open(const std::string& sealed, const std::string& data_key_id) const;

 private:
  auth::SecretBox box_;
  RandomSource random_;
};

// The ARN of the default EBS KMS key (alias/aws/ebs) of `account` in `region`.
std::string DefaultEbsKmsKeyArn(const std::string& region, const std::string& account);

// The KMS key ARN a request's KmsKeyId resolves to: empty = the default key. Accepted forms of
// the default key (EC2 API reference, CreateVolume KmsKeyId): its key id, "alias/aws/ebs", its
// key ARN, its alias ARN. Anything else is InvalidParameterValue naming the key and saying
// only the default key exists.
absl::StatusOr<std::string> ResolveEbsKmsKey(const std::string& kms_key_id,
                                             const std::string& region, const std::string& account);

}  // namespace minicloud::controller
