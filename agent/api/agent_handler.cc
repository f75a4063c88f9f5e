#include "agent/api/agent_handler.h"

#include "common/grpc_status.h"

namespace minicloud::agent {

grpc::Status AgentHandler::GetConsoleOutput(grpc::ServerContext*,
                                            const v1::AgentConsoleRequest* req,
                                            v1::AgentConsoleResponse* resp) {
  constexpr int64_t kMaxBytes = 1 << 20;
  int64_t want = req->max_bytes() <= 0 ? kMaxBytes : std::min(req->max_bytes(), kMaxBytes);
  auto out = agent_.ConsoleOutput(req->instance_id(), want);
  if (!out.ok()) return ToGrpcStatus(out.status());
  resp->set_output(std::move(*out));
  return grpc::Status::OK;
}

}  // namespace minicloud::agent
