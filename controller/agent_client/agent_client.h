#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace minicloud::controller {

// The controller's calls into a host agent (on-demand reads; desired state flows through the
// agent's own long-poll instead). Implementations must be thread-safe.
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
