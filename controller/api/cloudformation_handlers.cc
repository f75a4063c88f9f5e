#include "controller/api/cloudformation_handlers.h"

#include "common/ec2_error.h"
#include "common/grpc_status.h"

namespace minicloud::controller {

template <typename Req, typename Resp, typename Call>
grpc::Status CloudFormationHandler::Forward(const grpc::ServerContext& ctx, const char* method,
                                            const Req* req, Resp* resp, Call&& call) {
  if (grpc::Status denied = auth_.Check(ctx, method, req); !denied.ok()) return denied;
  if (stacks_ == nullptr) {
    return ToGrpcStatus(Ec2Error(absl::StatusCode::kUnavailable, "ServiceUnavailable",
                                 "CloudFormation stacks are not enabled on this controller"));
  }
  auto result = call(*stacks_);
  if (!result.ok()) return ToGrpcStatus(result.status());
  *resp = std::move(*result);
  return grpc::Status::OK;
}

grpc::Status CloudFormationHandler::CreateStack(grpc::ServerContext* ctx,
                                                const v1::CreateStackRequest* req,
                                                v1::CreateStackResponse* resp) {
  return Forward(*ctx, "CreateStack", req, resp,
                 [&](StackApi& s) { return s.CreateStack(*req, StackCaller{}); });
}
grpc::Status CloudFormationHandler::UpdateStack(grpc::ServerContext* ctx,
                                                const v1::UpdateStackRequest* req,
                                                v1::UpdateStackResponse* resp) {
  return Forward(*ctx, "UpdateStack", req, resp,
                 [&](StackApi& s) { return s.UpdateStack(*req, StackCaller{}); });
}
grpc::Status CloudFormationHandler::DeleteStack(grpc::ServerContext* ctx,
                                                const v1::DeleteStackRequest* req,
                                                v1::DeleteStackResponse* resp) {
  return Forward(*ctx, "DeleteStack", req, resp,
                 [&](StackApi& s) { return s.DeleteStack(*req, StackCaller{}); });
}
grpc::Status CloudFormationHandler::DescribeStacks(grpc::ServerContext* ctx,
                                                   const v1::DescribeStacksRequest* req,
                                                   v1::DescribeStacksResponse* resp) {
  return Forward(*ctx, "DescribeStacks", req, resp,
                 [&](StackApi& s) { return s.DescribeStacks(*req, StackCaller{}); });
}
grpc::Status CloudFormationHandler::DescribeStackEvents(grpc::ServerContext* ctx,
                                                        const v1::DescribeStackEventsRequest* req,
                                                        v1::DescribeStackEventsResponse* resp) {
  return Forward(*ctx, "DescribeStackEvents", req, resp,
                 [&](StackApi& s) { return s.DescribeStackEvents(*req, StackCaller{}); });
}
grpc::Status CloudFormationHandler::DescribeStackResource(
    grpc::ServerContext* ctx, const v1::DescribeStackResourceRequest* req,
    v1::DescribeStackResourceResponse* resp) {
  return Forward(*ctx, "DescribeStackResource", req, resp,
                 [&](StackApi& s) { return s.DescribeStackResource(*req, StackCaller{}); });
}
grpc::Status CloudFormationHandler::DescribeStackResources(
    grpc::ServerContext* ctx, const v1::DescribeStackResourcesRequest* req,
    v1::DescribeStackResourcesResponse* resp) {
  return Forward(*ctx, "DescribeStackResources", req, resp,
                 [&](StackApi& s) { return s.DescribeStackResources(*req, StackCaller{}); });
}
grpc::Status CloudFormationHandler::SignalResource(grpc::ServerContext* ctx,
                                                   const v1::SignalResourceRequest* req,
                                                   v1::SignalResourceResponse* resp) {
  return Forward(*ctx, "SignalResource", req, resp,
                 [&](StackApi& s) { return s.SignalResource(*req, StackCaller{}); });
}
grpc::Status CloudFormationHandler::ValidateTemplate(grpc::ServerContext* ctx,
                                                     const v1::ValidateTemplateRequest* req,
                                                     v1::ValidateTemplateResponse* resp) {
  return Forward(*ctx, "ValidateTemplate", req, resp,
                 [&](StackApi& s) { return s.ValidateTemplate(*req); });
}

}  // namespace minicloud::controller
