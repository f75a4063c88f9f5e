#pragma once

// The agent's own port (AgentService, which the controller dials) speaks mutual TLS only
// (SECURITY.md, "Controller and agents"): the agent serves its host certificate and accepts only
// the controller's client certificate (common/crypto/controller_peer.h, the one check shared with
// the volume service).

#include <grpcpp/grpcpp.h>

#include <memory>

#include "agent/runtime/controller_tls.h"

namespace minicloud::agent {

// Server credentials for the agent's port: `host`'s key and certificate, client certificates
// required and verified against host.ca_pem, and crypto::CheckCallerIsController on every call.
std::shared_ptr<grpc::ServerCredentials> AgentPortCredentials(const HostCredentials& host);

}  // namespace minicloud::agent
