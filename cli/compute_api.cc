#include "cli/compute_api.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cli/credentials.h"
#include "cli/verb.h"
#include "common/auth/grpc_request.h"

namespace minicloud::cli {
namespace {

class GrpcComputeApi : public ComputeApi {
 public:
  GrpcComputeApi(std::string endpoint, double timeout_s, AwsCredentials credentials,
                 std::string region)
      : endpoint_(std::move(endpoint)),
        timeout_s_(timeout_s),
        credentials_(std::move(credentials)),
        region_(std::move(region)),
        channel_(grpc::CreateChannel(endpoint_, grpc::InsecureChannelCredentials())),
        stub_(v1::ComputeService::NewStub(channel_)),
        cfn_stub_(v1::CloudFormation::NewStub(channel_)) {}

  void Send(const char* operation, const google::protobuf::Message& request,
            google::protobuf::Message& /*response*/, const Invoker& invoke) override {
    // SigV4 over the call (common/auth/grpc_request.h); a client-streaming call signs no body.
    const auto* method = v1::RunInstancesRequest::descriptor()
                             ->file()
                             ->FindServiceByName("ComputeService")
                             ->FindMethodByName(operation);
    const bool streaming = method != nullptr && method->client_streaming();
    Perform(operation, auth::ComputeMethodPath(operation), streaming ? nullptr : &request,
            [&](grpc::ClientContext& ctx) { return invoke(*stub_, ctx); });
  }

  void SendCloudFormation(const char* operation, const google::protobuf::Message& request,
                          google::protobuf::Message& /*response*/,
                          const CfnInvoker& invoke) override {
    Perform(operation, absl::StrCat(auth::kCloudFormationServicePath, operation), &request,
            [&](grpc::ClientContext& ctx) { return invoke(*cfn_stub_, ctx); });
  }

 private:
  // One signed call of `method_path` with its deadline; a failure becomes ServiceError.
  void Perform(const char* operation, const std::string& method_path,
               const google::protobuf::Message* signed_body,
               const std::function<grpc::Status(grpc::ClientContext&)>& call) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::milliseconds(static_cast<int64_t>(timeout_s_ * 1000)));
    for (const auto& [name, value] : auth::SignGrpcCall(
             method_path, signed_body, {credentials_.access_key_id, credentials_.secret_access_key},
             region_, absl::Now())) {
      ctx.AddMetadata(name, value);
    }
    grpc::Status s = call(ctx);
    if (s.ok()) return;
    std::string code = s.error_details();
    std::string hint;
    if (code.empty()) {
      code = s.error_code() == grpc::StatusCode::UNAVAILABLE ? "EndpointConnectionError"
                                                             : "InternalError";
    }
    if (s.error_code() == grpc::StatusCode::UNAVAILABLE && s.error_details().empty()) {
      hint = "Is the controller running at " + endpoint_ +
             "? (set MINICLOUD_ENDPOINT or --endpoint)\n";
    }
    std::string message = s.error_message();
    if (s.error_code() == grpc::StatusCode::UNAUTHENTICATED) {
      // The controller puts the code in front of the message too (for clients that show only
      // the message); the aws-style line already names it.
      if (message.rfind(code + ": ", 0) == 0) message = message.substr(code.size() + 2);
      hint = "(signed with access key " + credentials_.access_key_id + " from " +
             credentials_.source + ", region " + region_ + ")\n";
    }
    throw ServiceError(code, operation, message, hint);
  }

  const std::string endpoint_;
  const double timeout_s_;
  const AwsCredentials credentials_;
  const std::string region_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::ComputeService::Stub> stub_;
  std::unique_ptr<v1::CloudFormation::Stub> cfn_stub_;
};

}  // namespace

std::unique_ptr<ComputeApi> MakeGrpcComputeApi(const GlobalOptions& options) {
  const CredentialSources sources = RealCredentialSources();
  return std::make_unique<GrpcComputeApi>(options.endpoint, options.timeout_s,
                                          ResolveCredentials(options.profile, sources),
                                          ResolveRegion(options.region, options.profile, sources));
}

}  // namespace minicloud::cli
