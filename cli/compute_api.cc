#include "cli/compute_api.h"

#include <chrono>

#include "cli/verb.h"

namespace minicloud::cli {
namespace {

class GrpcComputeApi : public ComputeApi {
 public:
  GrpcComputeApi(std::string endpoint, double timeout_s)
      : endpoint_(std::move(endpoint)),
        timeout_s_(timeout_s),
        stub_(v1::ComputeService::NewStub(
            grpc::CreateChannel(endpoint_, grpc::InsecureChannelCredentials()))) {}

  void Send(const char* operation, const google::protobuf::Message& /*request*/,
            google::protobuf::Message& /*response*/, const Invoker& invoke) override {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::milliseconds(static_cast<int64_t>(timeout_s_ * 1000)));
    grpc::Status s = invoke(*stub_, ctx);
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
    throw ServiceError(code, operation, s.error_message(), hint);
  }

 private:
  const std::string endpoint_;
  const double timeout_s_;
  std::unique_ptr<v1::ComputeService::Stub> stub_;
};

}  // namespace

std::unique_ptr<ComputeApi> MakeGrpcComputeApi(const GlobalOptions& options) {
  return std::make_unique<GrpcComputeApi>(options.endpoint, options.timeout_s);
}

}  // namespace minicloud::cli
