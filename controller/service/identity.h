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

// Signs identity documents with the cloud's key. Thread-safe.
//
// RunInstances stores no document: the record keeps the document's fields (its id, type, image,
// AZ, region, address, and `identity_pending_time_ms`, the first launch) and the text is built
// from them where it is needed (IdentityDocumentOf, identity_document.h). The signatures are
// made when the instance is delivered to its host (FleetService, outside the lock, cached per
// instance). Building and signing are deterministic — the same record always gives the same
// document, and the same document the same bytes (RSA PKCS#1 v1.5, and a PKCS#7 signingTime
// taken from the document's pendingTime) — so a controller restart re-signs to exactly what
// agents already hold.
class IdentitySigner {
 public:
  virtual ~IdentitySigner() = default;
  // The document and its signatures.
  virtual absl::StatusOr<SignedIdentity> Sign(const std::string& document) const = 0;
};

}  // namespace minicloud::controller
