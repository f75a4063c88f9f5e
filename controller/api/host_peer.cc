#include "controller/api/host_peer.h"

#include "absl/strings/str_cat.h"
#include "common/crypto/x509.h"
#include "common/status_macros.h"

namespace minicloud::controller {

absl::StatusOr<PeerHost> PeerHostOf(const grpc::ServerContext& ctx) {
  std::shared_ptr<const grpc::AuthContext> auth = ctx.auth_context();
  // gRPC sets x509_pem_cert only for a certificate the handshake verified against the CA.
  const std::vector<grpc::string_ref> pems =
      auth ? auth->FindPropertyValues(GRPC_X509_PEM_CERT_PROPERTY_NAME)
           : std::vector<grpc::string_ref>();
  if (!auth || !auth->IsPeerAuthenticated() || pems.size() != 1) {
    return absl::UnauthenticatedError(
        "a host's client certificate is required (an agent without one must join first)");
  }
  MC_ASSIGN_OR_RETURN(crypto::X509Ptr cert, crypto::ParseCertificatePem(
                                                absl::string_view(pems[0].data(), pems[0].size())));
  PeerHost peer;
  MC_ASSIGN_OR_RETURN(peer.host_id, crypto::CommonName(cert.get()));
  MC_ASSIGN_OR_RETURN(peer.key_sha256, crypto::CertificateKeySha256Hex(cert.get()));
  return peer;
}

absl::Status CheckCallerIsHost(const grpc::ServerContext& ctx, const std::string& host_id,
                               const HostEnrollment& enrollment) {
  MC_ASSIGN_OR_RETURN(PeerHost peer, PeerHostOf(ctx));
  if (peer.host_id != host_id) {
    return absl::PermissionDeniedError(absl::StrCat("the caller's certificate is host ",
                                                    peer.host_id, "'s; it may not act as host '",
                                                    host_id, "'"));
  }
  return enrollment.CheckHostKey(peer.host_id, peer.key_sha256);
}

std::shared_ptr<grpc::ServerCredentials> AgentListenerCredentials(const ServerKeyPair& server,
                                                                  const std::string& ca_pem) {
  grpc::SslServerCredentialsOptions options(GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY);
  options.pem_root_certs = ca_pem;
  options.pem_key_cert_pairs.push_back({server.private_key_pem, server.certificate_chain_pem});
  return grpc::SslServerCredentials(options);
}

}  // namespace minicloud::controller
