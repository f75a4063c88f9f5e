#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "minicloud/v1/records.pb.h"

namespace minicloud::controller {

// The signed instance identity document the metadata service serves
// (dynamic/instance-identity/{document,signature,pkcs7,rsa2048}).
struct SignedIdentity {
  std::string document;
  std::string signature;
  std::string pkcs7;
  std::string rsa2048;
};

// Builds and signs identity documents with the cloud's key. Thread-safe.
//
// RunInstances records each instance's document (Document: text only, cheap) under the state
// lock; the signatures are made when the instance is delivered to its host (FleetService,
// outside the lock, cached per instance). Signing is deterministic — the same document always
// gives the same bytes (RSA PKCS#1 v1.5, and a PKCS#7 signingTime taken from the document's
// pendingTime) — so a controller restart re-signs to exactly what agents already hold.
class IdentitySigner {
 public:
  virtual ~IdentitySigner() = default;
  // The document text of `instance` (its id, type, image, AZ, region, address, launch time).
  virtual std::string Document(const v1::InstanceRecord& instance) const = 0;
  // The document and its signatures.
  virtual absl::StatusOr<SignedIdentity> Sign(const std::string& document) const = 0;
};

}  // namespace minicloud::controller
