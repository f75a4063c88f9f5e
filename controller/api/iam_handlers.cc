// gRPC edge of instance profiles: ComputeService's profile calls and HostService's credentials.
#include "common/ec2_error.h"
#include "common/grpc_status.h"
#include "controller/api/grpc_handlers.h"
#include "controller/api/host_peer.h"

namespace minicloud::controller {
namespace {

template <typename Resp, typename Call>
grpc::Status ForwardTo(InstanceProfileService* profiles, Resp* resp, Call&& call) {
  if (profiles == nullptr) {
    return grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "instance profiles are not enabled");
  }
  auto result = call(*profiles);
  if (!result.ok()) return ToGrpcStatus(result.status());
  *resp = std::move(*result);
  return grpc::Status::OK;
}

}  // namespace

grpc::Status ComputeHandler::CreateInstanceProfile(grpc::ServerContext* ctx,
                                                   const v1::CreateInstanceProfileRequest* req,
                                                   v1::CreateInstanceProfileResponse* resp) {
  if (grpc::Status denied = auth_.Check(*ctx, "CreateInstanceProfile", req); !denied.ok())
    return denied;
  return ForwardTo(profiles_, resp,
                   [&](InstanceProfileService& p) { return p.CreateInstanceProfile(*req); });
}
grpc::Status ComputeHandler::GetInstanceProfile(grpc::ServerContext* ctx,
                                                const v1::GetInstanceProfileRequest* req,
                                                v1::GetInstanceProfileResponse* resp) {
  if (grpc::Status denied = auth_.Check(*ctx, "GetInstanceProfile", req); !denied.ok())
    return denied;
  return ForwardTo(profiles_, resp,
                   [&](InstanceProfileService& p) { return p.GetInstanceProfile(*req); });
}
grpc::Status ComputeHandler::ListInstanceProfiles(grpc::ServerContext* ctx,
                                                  const v1::ListInstanceProfilesRequest* req,
                                                  v1::ListInstanceProfilesResponse* resp) {
  if (grpc::Status denied = auth_.Check(*ctx, "ListInstanceProfiles", req); !denied.ok())
    return denied;
  return ForwardTo(profiles_, resp,
                   [&](InstanceProfileService& p) { return p.ListInstanceProfiles(*req); });
}
grpc::Status ComputeHandler::DeleteInstanceProfile(grpc::ServerContext* ctx,
                                                   const v1::DeleteInstanceProfileRequest* req,
                                                   v1::DeleteInstanceProfileResponse* resp) {
  if (grpc::Status denied = auth_.Check(*ctx, "DeleteInstanceProfile", req); !denied.ok())
    return denied;
  return ForwardTo(profiles_, resp,
                   [&](InstanceProfileService& p) { return p.DeleteInstanceProfile(*req); });
}

grpc::Status HostHandler::GetInstanceCredentials(grpc::ServerContext* ctx,
                                                 const v1::GetInstanceCredentialsRequest* req,
                                                 v1::InstanceCredentials* resp) {
  // Only the host the instance runs on gets its credentials: the caller's certificate names it.
  if (auto s = CheckCallerIsHost(*ctx, req->host_id(), enrollment_); !s.ok()) {
    return ToGrpcStatus(s);
  }
  return ForwardTo(profiles_, resp,
                   [&](InstanceProfileService& p) { return p.IssueCredentials(*req); });
}

}  // namespace minicloud::controller
