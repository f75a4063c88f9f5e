#include <grpcpp/grpcpp.h>

#include <map>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "common/status_macros.h"
#include "controller/agent_client/agent_client.h"
#include "minicloud/v1/host.grpc.pb.h"

namespace minicloud::controller {
namespace {

class GrpcAgentClient final : public AgentClient {
 public:
  explicit GrpcAgentClient(int deadline_ms) : deadline_ms_(deadline_ms) {}

  absl::StatusOr<std::string> GetConsoleOutput(const std::string& endpoint,
                                               const std::string& instance_id,
                                               int64_t max_bytes) override {
    v1::AgentConsoleRequest req;
    req.set_instance_id(instance_id);
    req.set_max_bytes(max_bytes);
    v1::AgentConsoleResponse resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(deadline_ms_));
    grpc::Status s = Stub(endpoint)->GetConsoleOutput(&ctx, req, &resp);
    if (!s.ok()) {
      return Annotate(FromGrpcStatus(s),
                      absl::StrCat("console of ", instance_id, " from agent ", endpoint));
    }
    return std::move(*resp.mutable_output());
  }

 private:
  v1::AgentService::Stub* Stub(const std::string& endpoint) {
    std::lock_guard<std::mutex> lock(mu_);
    auto& stub = stubs_[endpoint];
    if (!stub) {
      stub = v1::AgentService::NewStub(
          grpc::CreateChannel(endpoint, grpc::InsecureChannelCredentials()));
    }
    return stub.get();
  }

  const int deadline_ms_;
  std::mutex mu_;
  std::map<std::string, std::unique_ptr<v1::AgentService::Stub>> stubs_;
};

}  // namespace

std::unique_ptr<AgentClient> MakeGrpcAgentClient(int deadline_ms) {
  return std::make_unique<GrpcAgentClient>(deadline_ms);
}

}  // namespace minicloud::controller
