#include "agent/api/controller_peer.h"

#include "common/crypto/controller_peer.h"

namespace minicloud::agent {

std::shared_ptr<grpc::ServerCredentials> AgentPortCredentials(const HostCredentials& host) {
  return crypto::ControllerOnlyServerCredentials(host.key_pem, host.certificate_pem, host.ca_pem,
                                                 "the agent's port");
}

}  // namespace minicloud::agent
