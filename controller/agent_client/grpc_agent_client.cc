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
  GrpcAgentClient(const AgentClientTls& tls, int deadline_ms)
      : deadline_ms_(deadline_ms), tls_(tls) {}

  absl::StatusOr<std::string> GetConsoleOutput(const AgentAddress& agent,
                                               const std::string& instance_id,
                                               int64_t max_bytes) override {
    v1::AgentConsoleRequest req;
    req.set_instance_id(instance_id);
    req.set_max_bytes(max_bytes);
    v1::AgentConsoleResponse resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(deadline_ms_));
    grpc::Status s = Stub(agent)->GetConsoleOutput(&ctx, req, &resp);
    if (!s.ok()) {
      return Annotate(FromGrpcStatus(s), absl::StrCat("console of ", instance_id, " from host ",
                                                      agent.host_id, "'s agent ", agent.endpoint));
    }
    return std::move(*resp.mutable_output());
  }

 private:
  v1::AgentService::Stub* Stub(const AgentAddress& agent) {
    std::lock_guard<std::mutex> lock(mu_);
    auto& stub = stubs_[{agent.host_id, agent.endpoint}];
    if (!stub) {
      grpc::SslCredentialsOptions options;
      options.pem_root_certs = tls_.ca_pem;
      options.pem_private_key = tls_.private_key_pem;
      options.pem_cert_chain = tls_.certificate_chain_pem;
      grpc::ChannelArguments args;
      // The host id, not the address, is what the agent's certificate must name: the address is
      // whatever the agent registered, the host id is what the controller placed instances on.
      args.SetSslTargetNameOverride(agent.host_id);
      stub = v1::AgentService::NewStub(
          grpc::CreateCustomChannel(agent.endpoint, grpc::SslCredentials(options), args));
    }
    return stub.get();
  }

  const int deadline_ms_;
  const AgentClientTls tls_;
  std::mutex mu_;
  std::map<std::pair<std::string, std::string>, std::unique_ptr<v1::AgentService::Stub>> stubs_;
};

}  // namespace

std::unique_ptr<AgentClient> MakeGrpcAgentClient(const AgentClientTls& tls, int deadline_ms) {
  return std::make_unique<GrpcAgentClient>(tls, deadline_ms);
}

}  // namespace minicloud::controller
