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
class AgentClient {
 public:
  virtual ~AgentClient() = default;
  // The tail (at most max_bytes) of the instance's serial console.
  virtual absl::StatusOr<std::string> GetConsoleOutput(const std::string& endpoint,
                                                       const std::string& instance_id,
                                                       int64_t max_bytes) = 0;
};

// gRPC implementation; one cached channel per endpoint, calls bounded by `deadline_ms`.
std::unique_ptr<AgentClient> MakeGrpcAgentClient(int deadline_ms = 5000);

}  // namespace minicloud::controller
