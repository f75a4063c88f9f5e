#pragma once

#include <memory>
#include <string>

#include "common/clock.h"
#include "controller/identity/identity_signer.h"
#include "controller/service/identity.h"

namespace minicloud::controller {

// Signs identity documents with the cloud's RSA key and self-signed certificate, kept as PEM
// files in the controller's state dir (created on first start, dated by `clock`). Guests verify
// documents with the certificate (`minicloud` prints it; it is also
// `<state-dir>/identity/cert.pem`).
class CloudIdentitySigner final : public IdentitySigner {
 public:
  static absl::StatusOr<std::unique_ptr<CloudIdentitySigner>> Open(const std::string& dir,
                                                                   const Clock& clock);
  // The PKCS#7 signingTime is the document's pendingTime (the launch, to the second).
  absl::StatusOr<SignedIdentity> Sign(const std::string& document) const override;
  // The certificate guests verify signatures with.
  const std::string& certificate_pem() const { return signer_.certificate_pem(); }

 private:
  explicit CloudIdentitySigner(identity::IdentitySigner signer) : signer_(std::move(signer)) {}
  identity::IdentitySigner signer_;
};

}  // namespace minicloud::controller
