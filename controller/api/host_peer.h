#pragma once

// The one check at the edge of the HostService: the host a call names must be the host whose
// client certificate TLS verified for this connection, and that certificate's key must still be
// bound to it (SECURITY.md, "Controller and agents").

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "controller/pki/certificate_authority.h"
#include "controller/service/host_enrollment.h"

namespace minicloud::controller {

struct PeerHost {
  std::string host_id;     // the certificate's common name
  std::string key_sha256;  // SHA-256 of its public key
};

// The verified client certificate of the call's connection; Unauthenticated when there is none
// (a connection without a certificate may only Join).
absl::StatusOr<PeerHost> PeerHostOf(const grpc::ServerContext& ctx);

// OK when the call's certificate names `host_id` and its key is still bound to it;
// Unauthenticated without a certificate, PermissionDenied for another host's id.
absl::Status CheckCallerIsHost(const grpc::ServerContext& ctx, const std::string& host_id,
                               const HostEnrollment& enrollment);

// TLS for the agent listener: `server` as the certificate, client certificates requested and,
// when sent, verified against `ca_pem` (Join is the one call made without one).
std::shared_ptr<grpc::ServerCredentials> AgentListenerCredentials(const ServerKeyPair& server,
                                                                  const std::string& ca_pem);

}  // namespace minicloud::controller
