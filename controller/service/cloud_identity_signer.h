#pragma once

#include <memory>
#include <string>

#include "agent/metadata/identity_signer.h"
#include "common/clock.h"
#include "controller/service/identity.h"

namespace minicloud::controller {

// Signs identity documents with the cloud's RSA key and self-signed certificate, kept as PEM
// files in the controller's state dir (created on first start). Guests verify documents with
// the certificate (`minicloud` prints it; it is also `<state-dir>/identity/cert.pem`).
class CloudIdentitySigner final : public IdentitySigner {
 public:
  static absl::StatusOr<std::unique_ptr<CloudIdentitySigner>> Open(const std::string& dir,
                                                                   const Clock& clock);
  absl::StatusOr<SignedIdentity> Sign(const v1::InstanceRecord& instance) override;

 private:
  CloudIdentitySigner(metadata::IdentitySigner signer, const Clock& clock)
      : signer_(std::move(signer)), clock_(clock) {}
  metadata::IdentitySigner signer_;
  const Clock& clock_;
};

}  // namespace minicloud::controller
