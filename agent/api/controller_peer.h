#pragma once

// The agent's own port (AgentService, which the controller dials) speaks mutual TLS only
// (SECURITY.md, "Controller and agents"): the agent serves its host certificate and accepts only a
// client certificate that chains to the controller's CA and is the controller's: common name
// kControllerClientName and no serverAuth usage (every host certificate has it). A host's
// certificate, a self-made one or none at all is refused before any handler runs.

#include <grpcpp/grpcpp.h>

#include <memory>

#include "absl/status/status.h"
#include "agent/runtime/controller_tls.h"

namespace minicloud::agent {

// OK when the connection's verified client certificate is the controller's; Unauthenticated
// without a verified certificate, PermissionDenied for any other certificate (e.g. a host's).
absl::Status CheckCallerIsController(const grpc::AuthContext& auth);

// Server credentials for the agent's port: `host`'s key and certificate, client certificates
// required and verified against host.ca_pem, and CheckCallerIsController on every call.
std::shared_ptr<grpc::ServerCredentials> AgentPortCredentials(const HostCredentials& host);

}  // namespace minicloud::agent
