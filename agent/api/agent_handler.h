#pragma once

#include "agent/runtime/agent.h"
#include "minicloud/v1/host.grpc.pb.h"

namespace minicloud::agent {

// gRPC edge of the agent: on-demand reads for the controller.
class AgentHandler final : public v1::AgentService::Service {
 public:
  explicit AgentHandler(Agent& agent) : agent_(agent) {}
  grpc::Status GetConsoleOutput(grpc::ServerContext*, const v1::AgentConsoleRequest* req,
                                v1::AgentConsoleResponse* resp) override;

 private:
  Agent& agent_;
};

}  // namespace minicloud::agent
