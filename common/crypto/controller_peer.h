#pragma once

// Ports that only the controller may call (SECURITY.md, "Controller and agents" and "The volume
// service"): an agent's own port (AgentService) and a zone's volume service (VolumeService). Both
// speak mutual TLS and accept only a client certificate that chains to the controller's CA and is
// the controller's: common name kControllerClientName and no serverAuth usage (every host
// certificate has it, and the CA writes only host ids into host certificates). A host's
// certificate, a self-made one or none at all is refused before any handler runs.

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/status/status.h"

namespace minicloud::crypto {

// OK when the connection's verified client certificate is the controller's; Unauthenticated
// without a verified certificate, PermissionDenied for any other certificate (e.g. a host's).
// `port` names the port in the errors ("the agent's port").
absl::Status CheckCallerIsController(const grpc::AuthContext& auth, const std::string& port);

// Server credentials for such a port: `key_pem` and `certificate_chain_pem` (the leaf, then the
// CA), client certificates required and verified against `client_ca_pem`, and
// CheckCallerIsController on every call.
std::shared_ptr<grpc::ServerCredentials> ControllerOnlyServerCredentials(
    const std::string& key_pem, const std::string& certificate_chain_pem,
    const std::string& client_ca_pem, const std::string& port);

}  // namespace minicloud::crypto
