#include "volume/service/volume_tls.h"

#include "absl/strings/str_cat.h"
#include "common/crypto/controller_peer.h"
#include "common/crypto/join_token.h"
#include "common/crypto/x509.h"
#include "common/file/file_util.h"
#include "common/status_macros.h"

namespace minicloud::volume {
namespace {

absl::Status CheckFiles(const VolumedSettings& s, const std::string& key_pem,
                        const std::string& cert_pem, const std::string& ca_pem, absl::Time now) {
  MC_ASSIGN_OR_RETURN(crypto::PkeyPtr key, crypto::ParsePrivateKeyPem(key_pem));
  // The chain file holds the leaf first; the parser takes one PEM object.
  const size_t end = cert_pem.find("-----END CERTIFICATE-----");
  if (end == std::string::npos) return absl::InvalidArgumentError("no certificate");
  MC_ASSIGN_OR_RETURN(crypto::X509Ptr cert,
                      crypto::ParseCertificatePem(cert_pem.substr(0, end + 25)));
  MC_ASSIGN_OR_RETURN(crypto::X509Ptr ca, crypto::ParseCertificatePem(ca_pem));
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    crypto::TakeOpenSslErrors();
    return absl::FailedPreconditionError(
        absl::StrCat(s.tls_cert, " is not for the key in ", s.tls_key));
  }
  if (auto v = crypto::VerifyCertificate(cert.get(), ca.get(), now, crypto::KeyUsage::kServer);
      !v.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(s.tls_cert,
                                                      " is not a server certificate of the CA in ",
                                                      s.tls_client_ca, ": ", v.message()));
  }
  MC_ASSIGN_OR_RETURN(std::string name, crypto::CommonName(cert.get()));
  const std::string want = crypto::VolumeServiceName(s.availability_zone);
  if (name != want) {
    return absl::FailedPreconditionError(
        absl::StrCat(s.tls_cert, " is for '", name, "', not this service's zone (", want,
                     "): issue one with `minicloud-controller issue-volume-service-cert --zone ",
                     s.availability_zone, "`"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> VolumeServiceCredentials(
    const VolumedSettings& s, absl::Time now) {
  if (TransportOf(s) == VolumedTransport::kPlaintext) return grpc::InsecureServerCredentials();
  MC_ASSIGN_OR_RETURN(std::string key_pem, file::ReadFileToString(s.tls_key));
  MC_ASSIGN_OR_RETURN(std::string cert_pem, file::ReadFileToString(s.tls_cert));
  MC_ASSIGN_OR_RETURN(std::string ca_pem, file::ReadFileToString(s.tls_client_ca));
  if (absl::Status c = CheckFiles(s, key_pem, cert_pem, ca_pem, now); !c.ok()) {
    return absl::Status(c.code(), absl::StrCat("TLS files: ", c.message()));
  }
  return crypto::ControllerOnlyServerCredentials(key_pem, cert_pem, ca_pem, "the volume service");
}

absl::StatusOr<std::optional<storage::QemuTlsFiles>> NbdTlsFiles(const VolumedSettings& s) {
  if (!NbdTlsOf(s)) return std::nullopt;
  storage::QemuTlsFiles files;
  MC_ASSIGN_OR_RETURN(files.ca_pem, file::ReadFileToString(s.tls_client_ca));
  MC_ASSIGN_OR_RETURN(files.certificate_pem, file::ReadFileToString(s.tls_cert));
  MC_ASSIGN_OR_RETURN(files.key_pem, file::ReadFileToString(s.tls_key));
  return files;
}

}  // namespace minicloud::volume
