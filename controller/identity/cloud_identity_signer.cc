#include "controller/identity/cloud_identity_signer.h"

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/status_macros.h"

namespace minicloud::controller {

absl::StatusOr<std::unique_ptr<CloudIdentitySigner>> CloudIdentitySigner::Open(
    const std::string& dir, const Clock& clock) {
  MC_ASSIGN_OR_RETURN(auto signer, identity::IdentitySigner::LoadOrCreate(dir, clock.Now()));
  return std::unique_ptr<CloudIdentitySigner>(new CloudIdentitySigner(std::move(signer)));
}

absl::StatusOr<SignedIdentity> CloudIdentitySigner::Sign(const std::string& document) const {
  MC_ASSIGN_OR_RETURN(const absl::Time pending, identity::ParsePendingTime(document));
  MC_ASSIGN_OR_RETURN(auto doc, signer_.Sign(document, pending));
  return SignedIdentity{doc.document, doc.signature, doc.pkcs7, doc.rsa2048};
}

}  // namespace minicloud::controller
