#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace minicloud::controller {

// The controller's calls into a host agent (on-demand reads; desired state flows through the
// agent's own long-poll instead). Implementations: gRPC (MakeGrpcAgentClient), a fake in
// tests/testing/controller_fixture.h.
//
// Contract:
// - Calls only read: nothing on the agent changes, so a call may be retried freely.
// - Every call is bounded in time; an unreachable or slow agent is Unavailable or
//   DeadlineExceeded, with the endpoint in the message. The agent's own errors (e.g. NotFound
//   for an instance it does not run) come back with their code.
// - Thread-safe.
// - The agent is `host_id` at `endpoint`: an agent whose certificate names another host is
//   refused (Unavailable), whatever address it answers on.
struct AgentAddress {
  std::string host_id;
  std::string endpoint;  // host:port the agent registered
};

class AgentClient {
 public:
  virtual ~AgentClient() = default;
  // The tail (at most max_bytes) of the instance's serial console.
  virtual absl::StatusOr<std::string> GetConsoleOutput(const AgentAddress& agent,
                                                       const std::string& instance_id,
                                                       int64_t max_bytes) = 0;
};

// How the controller calls agents: mutual TLS only (SECURITY.md, "Controller and agents").
struct AgentClientTls {
  std::string ca_pem;  // the controller's CA: the only root an agent's certificate may chain to
  // The controller's client certificate (CertificateAuthority::IssueControllerClientCertificate).
  std::string certificate_chain_pem;
  std::string private_key_pem;
};

// gRPC implementation over mutual TLS: the agent's certificate must chain to tls.ca_pem and name
// the host id (checked as the TLS server name); one cached channel per host and endpoint, calls
// bounded by `deadline_ms`.
std::unique_ptr<AgentClient> MakeGrpcAgentClient(const AgentClientTls& tls, int deadline_ms = 5000);

}  // namespace minicloud::controller
