#pragma once

// The agent's side of joining (SECURITY.md, "Controller and agents"): its key, its client
// certificate and the controller's CA, kept in <state_dir>/tls (0700, files 0600):
//   host.key  the agent's EC P-256 key: made here, never sent anywhere
//   host.crt  the certificate the controller issued: its common name and DNS entry are the host
//             id; a client certificate towards the controller and the server certificate of the
//             agent's own port (agent/api/controller_peer.h)
//   ca.crt    the controller's CA (the hash in the join token the agent first used)
//
// Joining: the agent opens a TLS connection to the controller's agent listener, finds in the
// chain the server sends the CA whose SHA-256 the token pins and checks the server certificate
// against it (kubeadm's discovery hash); only then does it call Join over gRPC with that CA as
// its only root, sending the token and a certificate request. The answer is checked (same CA,
// a certificate for its own key naming the host id) before it is stored.

#include <grpcpp/grpcpp.h>

#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace minicloud::agent {

struct HostCredentials {
  std::string host_id;
  std::string key_pem;
  std::string certificate_pem;
  std::string ca_pem;
};

// What an earlier join left in `state_dir`, or nullopt when the agent has not joined (no
// certificate yet). A certificate that does not match the key or the CA is FailedPrecondition.
absl::StatusOr<std::optional<HostCredentials>> LoadHostCredentials(const std::string& state_dir);

// The CA certificate (PEM) of the controller at `endpoint` ("host:port", "[v6]:port"), accepted
// only when its SHA-256 is `ca_sha256` and it signed the server certificate (valid at `now`).
// PermissionDenied when the controller shows no such CA.
absl::StatusOr<std::string> FetchPinnedCa(const std::string& endpoint, const std::string& ca_sha256,
                                          absl::Time now);

// Joins the controller at `endpoint` with `token` (the join token's text), keeping the host id
// `host_id_hint` when not empty; stores and returns the credentials. The key is reused when an
// interrupted join left one.
absl::StatusOr<HostCredentials> JoinController(const std::string& endpoint,
                                               const std::string& token,
                                               const std::string& state_dir,
                                               const std::string& host_id_hint);

// The credentials an earlier join left in `state_dir`, or else a join now with `join_token`
// (keeping the host id in <state_dir>/host-id, if any). FailedPrecondition when the host has not
// joined and has no token; a failed join is returned as is (the caller retries).
absl::StatusOr<HostCredentials> LoadOrJoin(const std::string& endpoint,
                                           const std::string& state_dir,
                                           const std::string& join_token);

// A channel to the controller's agent listener trusting only `ca_pem` and checking the server
// name kControllerServerName; with a client certificate when `credentials` has one.
std::shared_ptr<grpc::Channel> ControllerChannel(const std::string& endpoint,
                                                 const HostCredentials& credentials);

}  // namespace minicloud::agent
