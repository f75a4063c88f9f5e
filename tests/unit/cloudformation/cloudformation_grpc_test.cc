// The gRPC edge of CloudFormation (controller/api/cloudformation_handlers.h) on a real gRPC
// server on loopback, over a verifier that records what it was asked and the recording fake
// StackApi. The SigV4 verifier itself is covered by tests/integration/api_auth_test.cc. Each case
// names the one-line bug it catches.
#include <grpcpp/grpcpp.h>

#include <catch2/catch.hpp>
#include <memory>
#include <optional>
#include <string>

#include "common/ec2_error.h"
#include "controller/api/cloudformation_handlers.h"
#include "tests/testing/fake_stack_api.h"

namespace minicloud::controller {
namespace {

using testing::FakeStackApi;

class RecordingVerifier : public auth::RequestVerifier {
 public:
  absl::StatusOr<auth::Caller> Verify(const auth::SignedRequest& r,
                                      absl::string_view service) const override {
    path = r.path;
    this->service = std::string(service);
    if (!refuse.ok()) return refuse;
    return caller;
  }
  mutable std::string path, service;
  auth::Caller caller{"AKIAEXAMPLE", std::nullopt};
  absl::Status refuse;
};

struct Server {
  RecordingVerifier verifier;
  FakeStackApi stacks;
  std::unique_ptr<CloudFormationHandler> handler;
  std::unique_ptr<grpc::Server> server;
  std::unique_ptr<v1::CloudFormation::Stub> stub;

  explicit Server(bool wired = true) {
    handler = std::make_unique<CloudFormationHandler>(wired ? &stacks : nullptr, verifier);
    grpc::ServerBuilder b;
    int port = 0;
    b.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    b.RegisterService(handler.get());
    server = b.BuildAndStart();
    REQUIRE(port != 0);
    stub = v1::CloudFormation::NewStub(grpc::CreateChannel("127.0.0.1:" + std::to_string(port),
                                                           grpc::InsecureChannelCredentials()));
  }
  ~Server() { server->Shutdown(); }
};

constexpr char kTemplate[] = "Resources:\n  H: {Type: AWS::CloudFormation::WaitConditionHandle}\n";

// Catches the call verified over the ComputeService's path (a signature for one service valid
// for the other), the request not forwarded, the answer not copied back, the caller a guest.
TEST_CASE("CloudFormation over gRPC forwards verified calls", "[cloudformation][grpc]") {
  Server s;
  grpc::ClientContext ctx;
  v1::CreateStackRequest req;
  req.set_stack_name("g");
  req.set_template_body(kTemplate);
  v1::CreateStackResponse resp;
  REQUIRE(s.stub->CreateStack(&ctx, req, &resp).ok());
  CHECK(s.verifier.path == "/minicloud.v1.CloudFormation/CreateStack");
  CHECK(s.verifier.service == "ec2");
  CHECK(s.stacks.last_create.stack_name() == "g");
  CHECK(s.stacks.calls.back().instance_id.empty());
  CHECK_THAT(resp.stack_id(), Catch::StartsWith("arn:aws:cloudformation:home-1:"));

  grpc::ClientContext ctx2;
  v1::DescribeStackResourceRequest d;
  d.set_stack_name("g");
  d.set_logical_resource_id("H");
  v1::DescribeStackResourceResponse dr;
  REQUIRE(s.stub->DescribeStackResource(&ctx2, d, &dr).ok());
  CHECK(s.verifier.path == "/minicloud.v1.CloudFormation/DescribeStackResource");
  CHECK(dr.stack_resource_detail().resource_type() == "AWS::CloudFormation::WaitConditionHandle");
}

// Every rpc reaches StackApi under its own name. Catches a handler forwarding to the wrong
// StackApi method (a copy-paste slip).
TEST_CASE("each rpc reaches its StackApi method", "[cloudformation][grpc]") {
  Server s;
  auto call = [&](auto rpc, auto req, auto resp) {
    grpc::ClientContext ctx;
    (s.stub.get()->*rpc)(&ctx, req, &resp);
  };
  call(&v1::CloudFormation::Stub::UpdateStack, v1::UpdateStackRequest(), v1::UpdateStackResponse());
  call(&v1::CloudFormation::Stub::DeleteStack, v1::DeleteStackRequest(), v1::DeleteStackResponse());
  call(&v1::CloudFormation::Stub::DescribeStacks, v1::DescribeStacksRequest(),
       v1::DescribeStacksResponse());
  call(&v1::CloudFormation::Stub::DescribeStackEvents, v1::DescribeStackEventsRequest(),
       v1::DescribeStackEventsResponse());
  call(&v1::CloudFormation::Stub::DescribeStackResources, v1::DescribeStackResourcesRequest(),
       v1::DescribeStackResourcesResponse());
  call(&v1::CloudFormation::Stub::SignalResource, v1::SignalResourceRequest(),
       v1::SignalResourceResponse());
  call(&v1::CloudFormation::Stub::ValidateTemplate, v1::ValidateTemplateRequest(),
       v1::ValidateTemplateResponse());
  std::vector<std::string> methods;
  for (const auto& c : s.stacks.calls) methods.push_back(c.method);
  CHECK(methods == std::vector<std::string>{"UpdateStack", "DeleteStack", "DescribeStacks",
                                            "DescribeStackEvents", "DescribeStackResources",
                                            "SignalResource", "ValidateTemplate"});
}

// Catches StackApi's CloudFormation code lost on the way out (clients print it).
TEST_CASE("StackApi's error over gRPC", "[cloudformation][grpc]") {
  Server s;
  s.stacks.fail_next["DescribeStacks"] = Ec2Error(
      absl::StatusCode::kInvalidArgument, "ValidationError", "Stack with id x does not exist");
  grpc::ClientContext ctx;
  v1::DescribeStacksResponse resp;
  const grpc::Status st = s.stub->DescribeStacks(&ctx, v1::DescribeStacksRequest(), &resp);
  CHECK(st.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(st.error_details() == "ValidationError");
  CHECK(st.error_message() == "Stack with id x does not exist");
}

// Refusals before StackApi: an unverified call, instance credentials, stacks not wired. Each
// catches its check missing (StackApi reached, or a null dereference).
TEST_CASE("CloudFormation over gRPC refusals", "[cloudformation][grpc]") {
  {
    Server s;
    s.verifier.refuse = Ec2Error(absl::StatusCode::kUnauthenticated, "AuthFailure", "who?");
    grpc::ClientContext ctx;
    v1::DescribeStacksResponse resp;
    const grpc::Status st = s.stub->DescribeStacks(&ctx, v1::DescribeStacksRequest(), &resp);
    CHECK(st.error_code() == grpc::StatusCode::UNAUTHENTICATED);
    CHECK(st.error_details() == "AuthFailure");
    CHECK(s.stacks.calls.empty());
  }
  {
    Server s;
    s.verifier.caller.allowed_actions = std::vector<std::string>{"*"};
    grpc::ClientContext ctx;
    v1::DescribeStacksResponse resp;
    const grpc::Status st = s.stub->DescribeStacks(&ctx, v1::DescribeStacksRequest(), &resp);
    CHECK(st.error_code() == grpc::StatusCode::PERMISSION_DENIED);
    CHECK(st.error_details() == "AccessDenied");
    CHECK(s.stacks.calls.empty());
  }
  {
    Server s(/*wired=*/false);
    grpc::ClientContext ctx;
    v1::ValidateTemplateRequest req;
    req.set_template_body(kTemplate);
    v1::ValidateTemplateResponse resp;
    const grpc::Status st = s.stub->ValidateTemplate(&ctx, req, &resp);
    CHECK(st.error_code() == grpc::StatusCode::UNAVAILABLE);
    CHECK(st.error_details() == "ServiceUnavailable");
  }
}

}  // namespace
}  // namespace minicloud::controller
