#pragma once

// gRPC edge of CloudFormation stacks (service minicloud.v1.CloudFormation): each call is verified
// (SigV4 over "/minicloud.v1.CloudFormation/<Method>", account keys only), then forwarded to
// StackApi as an account caller; absl::Status → grpc::Status at this edge only.

#include "controller/api/grpc_auth.h"
#include "controller/service/stack_api.h"
#include "minicloud/v1/cloudformation.grpc.pb.h"

namespace minicloud::controller {

class CloudFormationHandler final : public v1::CloudFormation::Service {
 public:
  // `stacks` may be null (stacks not wired): every verified call answers UNAVAILABLE.
  CloudFormationHandler(StackApi* stacks, const minicloud::auth::RequestVerifier& verifier)
      : stacks_(stacks),
        auth_(verifier, minicloud::auth::kCloudFormationServicePath, /*account_only=*/true) {}

  grpc::Status CreateStack(grpc::ServerContext*, const v1::CreateStackRequest* req,
                           v1::CreateStackResponse* resp) override;
  grpc::Status UpdateStack(grpc::ServerContext*, const v1::UpdateStackRequest* req,
                           v1::UpdateStackResponse* resp) override;
  grpc::Status DeleteStack(grpc::ServerContext*, const v1::DeleteStackRequest* req,
                           v1::DeleteStackResponse* resp) override;
  grpc::Status DescribeStacks(grpc::ServerContext*, const v1::DescribeStacksRequest* req,
                              v1::DescribeStacksResponse* resp) override;
  grpc::Status DescribeStackEvents(grpc::ServerContext*, const v1::DescribeStackEventsRequest* req,
                                   v1::DescribeStackEventsResponse* resp) override;
  grpc::Status DescribeStackResource(grpc::ServerContext*,
                                     const v1::DescribeStackResourceRequest* req,
                                     v1::DescribeStackResourceResponse* resp) override;
  grpc::Status DescribeStackResources(grpc::ServerContext*,
                                      const v1::DescribeStackResourcesRequest* req,
                                      v1::DescribeStackResourcesResponse* resp) override;
  grpc::Status SignalResource(grpc::ServerContext*, const v1::SignalResourceRequest* req,
                              v1::SignalResourceResponse* resp) override;
  grpc::Status ValidateTemplate(grpc::ServerContext*, const v1::ValidateTemplateRequest* req,
                                v1::ValidateTemplateResponse* resp) override;

 private:
  // Verifies the call, then runs `call(StackApi&)` and copies its value into `resp`.
  template <typename Req, typename Resp, typename Call>
  grpc::Status Forward(const grpc::ServerContext& ctx, const char* method, const Req* req,
                       Resp* resp, Call&& call);

  StackApi* stacks_;
  const GrpcAuthenticator auth_;
};

}  // namespace minicloud::controller
