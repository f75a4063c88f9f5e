#include "common/crypto/controller_peer.h"

#include <openssl/x509v3.h>

#include "absl/strings/str_cat.h"
#include "common/crypto/join_token.h"
#include "common/crypto/x509.h"
#include "common/status_macros.h"

namespace minicloud::crypto {
namespace {

// Runs CheckCallerIsController before every call the port receives.
class ControllerOnly final : public grpc::AuthMetadataProcessor {
 public:
  explicit ControllerOnly(std::string port) : port_(std::move(port)) {}

  bool IsBlocking() const override { return false; }  // no I/O: parses one certificate

  grpc::Status Process(const InputMetadata& /*metadata*/, grpc::AuthContext* context,
                       OutputMetadata* /*consumed*/, OutputMetadata* /*response*/) override {
    absl::Status s = context == nullptr ? absl::UnauthenticatedError("no TLS peer")
                                        : CheckCallerIsController(*context, port_);
    if (s.ok()) return grpc::Status::OK;
    return grpc::Status(s.code() == absl::StatusCode::kUnauthenticated
                            ? grpc::StatusCode::UNAUTHENTICATED
                            : grpc::StatusCode::PERMISSION_DENIED,
                        std::string(s.message()));
  }

 private:
  const std::string port_;
};

}  // namespace

absl::Status CheckCallerIsController(const grpc::AuthContext& auth, const std::string& port) {
  // gRPC sets x509_pem_cert only for a certificate the handshake verified against the CA.
  const std::vector<grpc::string_ref> pems =
      auth.FindPropertyValues(GRPC_X509_PEM_CERT_PROPERTY_NAME);
  if (!auth.IsPeerAuthenticated() || pems.size() != 1) {
    return absl::UnauthenticatedError(absl::StrCat(port, " takes calls from its controller only"));
  }
  MC_ASSIGN_OR_RETURN(X509Ptr cert,
                      ParseCertificatePem(absl::string_view(pems[0].data(), pems[0].size())));
  MC_ASSIGN_OR_RETURN(std::string name, CommonName(cert.get()));
  // Two marks a host certificate never has: the controller's client name, and no serverAuth.
  const bool server_usage = (X509_get_extended_key_usage(cert.get()) & XKU_SSL_SERVER) != 0;
  if (name != kControllerClientName || server_usage) {
    return absl::PermissionDeniedError(absl::StrCat(
        "the certificate of '", name, "' is not the controller's; ", port, " refuses it"));
  }
  return absl::OkStatus();
}

std::shared_ptr<grpc::ServerCredentials> ControllerOnlyServerCredentials(
    const std::string& key_pem, const std::string& certificate_chain_pem,
    const std::string& client_ca_pem, const std::string& port) {
  grpc::SslServerCredentialsOptions options(
      GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  options.pem_root_certs = client_ca_pem;
  options.pem_key_cert_pairs.push_back({key_pem, certificate_chain_pem});
  auto creds = grpc::SslServerCredentials(options);
  creds->SetAuthMetadataProcessor(std::make_shared<ControllerOnly>(port));
  return creds;
}

}  // namespace minicloud::crypto
