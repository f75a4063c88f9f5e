#include "agent/api/controller_peer.h"

#include <openssl/x509v3.h>

#include "absl/strings/str_cat.h"
#include "common/crypto/join_token.h"
#include "common/crypto/x509.h"
#include "common/status_macros.h"

namespace minicloud::agent {
namespace {

// Runs CheckCallerIsController before every call the port receives.
class ControllerOnly final : public grpc::AuthMetadataProcessor {
 public:
  bool IsBlocking() const override { return false; }  // no I/O: parses one certificate

  grpc::Status Process(const InputMetadata& /*metadata*/, grpc::AuthContext* context,
                       OutputMetadata* /*consumed*/, OutputMetadata* /*response*/) override {
    absl::Status s = context == nullptr ? absl::UnauthenticatedError("no TLS peer")
                                        : CheckCallerIsController(*context);
    if (s.ok()) return grpc::Status::OK;
    return grpc::Status(s.code() == absl::StatusCode::kUnauthenticated
                            ? grpc::StatusCode::UNAUTHENTICATED
                            : grpc::StatusCode::PERMISSION_DENIED,
                        std::string(s.message()));
  }
};

}  // namespace

absl::Status CheckCallerIsController(const grpc::AuthContext& auth) {
  // gRPC sets x509_pem_cert only for a certificate the handshake verified against the CA.
  const std::vector<grpc::string_ref> pems =
      auth.FindPropertyValues(GRPC_X509_PEM_CERT_PROPERTY_NAME);
  if (!auth.IsPeerAuthenticated() || pems.size() != 1) {
    return absl::UnauthenticatedError("the agent's port takes calls from its controller only");
  }
  MC_ASSIGN_OR_RETURN(crypto::X509Ptr cert, crypto::ParseCertificatePem(
                                                absl::string_view(pems[0].data(), pems[0].size())));
  MC_ASSIGN_OR_RETURN(std::string name, crypto::CommonName(cert.get()));
  // Two marks a host certificate never has: the controller's client name, and no serverAuth.
  const bool server_usage = (X509_get_extended_key_usage(cert.get()) & XKU_SSL_SERVER) != 0;
  if (name != crypto::kControllerClientName || server_usage) {
    return absl::PermissionDeniedError(absl::StrCat(
        "the certificate of '", name, "' is not the controller's; the agent's port refuses it"));
  }
  return absl::OkStatus();
}

std::shared_ptr<grpc::ServerCredentials> AgentPortCredentials(const HostCredentials& host) {
  grpc::SslServerCredentialsOptions options(
      GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  options.pem_root_certs = host.ca_pem;
  options.pem_key_cert_pairs.push_back({host.key_pem, host.certificate_pem});
  auto creds = grpc::SslServerCredentials(options);
  creds->SetAuthMetadataProcessor(std::make_shared<ControllerOnly>());
  return creds;
}

}  // namespace minicloud::agent
