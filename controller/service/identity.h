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
class IdentitySigner {
 public:
  virtual ~IdentitySigner() = default;
  virtual absl::StatusOr<SignedIdentity> Sign(const v1::InstanceRecord& instance) = 0;
};

}  // namespace minicloud::controller
