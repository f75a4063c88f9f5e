#include "controller/service/host_enrollment.h"

#include "absl/strings/str_cat.h"
#include "common/crypto/join_token.h"
#include "common/crypto/x509.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "controller/pki/enrollment_files.h"

namespace minicloud::controller {

absl::StatusOr<v1::JoinResponse> HostEnrollment::Join(const v1::JoinRequest& req) {
  MC_ASSIGN_OR_RETURN(crypto::JoinToken token, crypto::ParseJoinToken(req.token()));
  if (!crypto::SameSecretHash(token.ca_sha256, ca_.ca_sha256())) {
    return absl::PermissionDeniedError("join token refused: it names another controller's CA");
  }
  MC_RETURN_IF_ERROR(CheckJoinSecret(pki_dir_, token.secret));
  if (!req.host_id().empty()) MC_RETURN_IF_ERROR(CheckId(IdKind::kHost, req.host_id()));
  MC_ASSIGN_OR_RETURN(crypto::PkeyPtr key, crypto::CsrPublicKey(req.csr_pem()));
  MC_ASSIGN_OR_RETURN(std::string key_sha256, crypto::PublicKeySha256Hex(key.get()));

  std::lock_guard<std::mutex> lock(mu_);
  std::string host_id = req.host_id();
  if (host_id.empty()) {
    do {
      host_id = ids_.Next("h");
      MC_ASSIGN_OR_RETURN(auto bound, BoundHostKey(pki_dir_, host_id));
      if (!bound) break;
    } while (true);
  } else {
    MC_ASSIGN_OR_RETURN(auto bound, BoundHostKey(pki_dir_, host_id));
    if (bound && *bound != key_sha256) {
      return absl::PermissionDeniedError(
          absl::StrCat("host ", host_id,
                       " already joined with another key; if that host is gone, run "
                       "`minicloud-controller forget-host ",
                       host_id, "` on the controller first"));
    }
  }
  MC_ASSIGN_OR_RETURN(std::string cert, ca_.IssueHostCertificate(key.get(), host_id, clock_.Now()));
  MC_RETURN_IF_ERROR(BindHostKey(pki_dir_, host_id, key_sha256));
  spdlog::info("host {} joined (key sha256 {})", host_id, key_sha256.substr(0, 16));
  v1::JoinResponse resp;
  resp.set_host_id(host_id);
  resp.set_certificate_pem(cert);
  resp.set_ca_pem(ca_.ca_pem());
  return resp;
}

absl::StatusOr<v1::NbdClientCertificate> HostEnrollment::IssueNbdClientCertificate(
    const std::string& host_id, const v1::NbdClientCertificateRequest& req) {
  MC_ASSIGN_OR_RETURN(crypto::PkeyPtr key, crypto::CsrPublicKey(req.csr_pem()));
  MC_ASSIGN_OR_RETURN(std::string key_sha256, crypto::PublicKeySha256Hex(key.get()));
  MC_ASSIGN_OR_RETURN(auto bound, BoundHostKey(pki_dir_, host_id));
  if (bound && crypto::SameSecretHash(*bound, key_sha256)) {
    return absl::InvalidArgumentError(
        "NBD client certificate: the request is for the host's identity key; use a key of its "
        "own");
  }
  MC_ASSIGN_OR_RETURN(std::string cert,
                      ca_.IssueNbdClientCertificate(key.get(), host_id, clock_.Now()));
  spdlog::info("host {}: NBD client certificate issued (key sha256 {})", host_id,
               key_sha256.substr(0, 16));
  v1::NbdClientCertificate resp;
  resp.set_certificate_pem(cert);
  resp.set_ca_pem(ca_.ca_pem());
  return resp;
}

absl::Status HostEnrollment::CheckHostKey(const std::string& host_id,
                                          const std::string& key_sha256) const {
  MC_ASSIGN_OR_RETURN(auto bound, BoundHostKey(pki_dir_, host_id));
  if (!bound || !crypto::SameSecretHash(*bound, key_sha256)) {
    return absl::PermissionDeniedError(absl::StrCat("the certificate of host ", host_id,
                                                    " is no longer accepted (forgotten or "
                                                    "replaced); the agent must join again"));
  }
  return absl::OkStatus();
}

}  // namespace minicloud::controller
