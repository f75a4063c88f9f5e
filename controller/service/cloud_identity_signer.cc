#include "controller/service/cloud_identity_signer.h"

#include "common/status_macros.h"

namespace minicloud::controller {

absl::StatusOr<std::unique_ptr<CloudIdentitySigner>> CloudIdentitySigner::Open(
    const std::string& dir, const Clock& clock) {
  MC_ASSIGN_OR_RETURN(auto signer, metadata::IdentitySigner::LoadOrCreate(dir, clock.Now()));
  return std::unique_ptr<CloudIdentitySigner>(new CloudIdentitySigner(std::move(signer), clock));
}

absl::StatusOr<SignedIdentity> CloudIdentitySigner::Sign(const v1::InstanceRecord& r) {
  metadata::IdentityFields f;
  f.account_id = r.owner_id();
  f.architecture = r.architecture().empty() ? "x86_64" : r.architecture();
  f.availability_zone = r.topology().availability_zone();
  f.image_id = r.image_id();
  f.instance_id = r.instance_id();
  f.instance_type = r.instance_type();
  f.pending_time = absl::FromUnixMillis(r.launch_time_ms());
  f.private_ip = r.network().private_ip();
  f.region = r.topology().region();
  MC_ASSIGN_OR_RETURN(auto doc, signer_.SignFields(f, clock_.Now()));
  return SignedIdentity{doc.document, doc.signature, doc.pkcs7, doc.rsa2048};
}

}  // namespace minicloud::controller
