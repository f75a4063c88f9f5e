#pragma once

// How verbs reach the controller. ComputeApi is the seam between a verb (flags -> request,
// response -> output) and the transport: the real one is a gRPC channel, tests use a fake that
// records each request and answers with canned responses.
//
// Contract of Send: on success `response` holds the controller's answer; on failure it throws
// ServiceError carrying the EC2 error code (or EndpointConnectionError / InternalError when the
// controller gave none). It never exits the process and never prints.

#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>
#include <stdexcept>
#include <string>

#include "minicloud/v1/cloudformation.grpc.pb.h"
#include "minicloud/v1/compute.grpc.pb.h"

namespace minicloud::cli {

struct GlobalOptions;

// A call the controller refused or could not be reached for.
struct ServiceError : std::runtime_error {
  ServiceError(std::string code, std::string operation, std::string message, std::string hint)
      : std::runtime_error(message),
        code(std::move(code)),
        operation(std::move(operation)),
        hint(std::move(hint)) {}
  std::string code;       // e.g. "InvalidInstanceID.NotFound"
  std::string operation;  // e.g. "DescribeInstances"
  std::string hint;       // a line for people (empty, or ends with "\n")
};

class ComputeApi {
 public:
  using Stub = v1::ComputeService::Stub;
  // Performs the call on a real stub, writing the response it was built for.
  using Invoker = std::function<grpc::Status(Stub&, grpc::ClientContext&)>;

  virtual ~ComputeApi() = default;

  // Sends `request` as `operation` (the EC2 action name); see the contract above. `invoke` is how
  // a gRPC implementation performs it; other implementations may ignore it.
  virtual void Send(const char* operation, const google::protobuf::Message& request,
                    google::protobuf::Message& response, const Invoker& invoke) = 0;

  // The CloudFormation service (proto/minicloud/v1/cloudformation.proto) on the same controller,
  // same contract as Send. The default hands the call to Send without an invoker, which is what
  // test fakes want (they answer by operation name); the gRPC implementation overrides it.
  using CfnStub = v1::CloudFormation::Stub;
  using CfnInvoker = std::function<grpc::Status(CfnStub&, grpc::ClientContext&)>;
  virtual void SendCloudFormation(const char* operation, const google::protobuf::Message& request,
                                  google::protobuf::Message& response,
                                  const CfnInvoker& /*invoke*/) {
    Send(operation, request, response, Invoker());
  }

  // Typed form used by verbs: api.Call("DescribeHosts", &Stub::DescribeHosts, req).
  template <typename Req, typename Resp>
  Resp Call(const char* operation,
            grpc::Status (Stub::*method)(grpc::ClientContext*, const Req&, Resp*),
            const Req& request) {
    Resp response;
    Send(operation, request, response, [&](Stub& stub, grpc::ClientContext& ctx) {
      return (stub.*method)(&ctx, request, &response);
    });
    return response;
  }
  // The same for CloudFormation: api.Call("CreateStack", &CfnStub::CreateStack, req).
  template <typename Req, typename Resp>
  Resp Call(const char* operation,
            grpc::Status (CfnStub::*method)(grpc::ClientContext*, const Req&, Resp*),
            const Req& request) {
    Resp response;
    SendCloudFormation(operation, request, response, [&](CfnStub& stub, grpc::ClientContext& ctx) {
      return (stub.*method)(&ctx, request, &response);
    });
    return response;
  }
};

// The controller over an insecure gRPC channel to options.endpoint; every call gets a deadline of
// options.timeout_s (--cli-read-timeout) and is signed with SigV4 (service ec2) with the
// credentials and region found as cli/credentials.h says (ConfigError when there are none).
// CloudFormation calls are signed the same way over their own method path
// ("/minicloud.v1.CloudFormation/CreateStack").
std::unique_ptr<ComputeApi> MakeGrpcComputeApi(const GlobalOptions& options);

}  // namespace minicloud::cli
