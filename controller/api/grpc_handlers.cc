#include "controller/api/grpc_handlers.h"

#include <fcntl.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "common/ec2_error.h"
#include "common/grpc_status.h"
#include "controller/api/host_peer.h"

namespace minicloud::controller {
namespace {

// Runs a service call and copies its value into the response.
template <typename Resp, typename Call>
grpc::Status Forward(Resp* resp, Call&& call) {
  auto result = call();
  if (!result.ok()) return ToGrpcStatus(result.status());
  *resp = std::move(*result);
  return grpc::Status::OK;
}

constexpr size_t kChunkBytes = 1 << 20;

}  // namespace

template <typename Req, typename Resp, typename Call>
grpc::Status ComputeHandler::Authorized(const grpc::ServerContext& ctx, const char* method,
                                        const Req* req, Resp* resp, Call&& call) {
  if (grpc::Status denied = auth_.Check(ctx, method, req); !denied.ok()) return denied;
  return Forward(resp, std::forward<Call>(call));
}

grpc::Status ComputeHandler::RunInstances(grpc::ServerContext* ctx,
                                          const v1::RunInstancesRequest* req,
                                          v1::Reservation* resp) {
  return Authorized(*ctx, "RunInstances", req, resp, [&] { return compute_.RunInstances(*req); });
}
grpc::Status ComputeHandler::DescribeInstances(grpc::ServerContext* ctx,
                                               const v1::DescribeInstancesRequest* req,
                                               v1::DescribeInstancesResponse* resp) {
  return Authorized(*ctx, "DescribeInstances", req, resp,
                    [&] { return compute_.DescribeInstances(*req); });
}
grpc::Status ComputeHandler::TerminateInstances(grpc::ServerContext* ctx,
                                                const v1::TerminateInstancesRequest* req,
                                                v1::TerminateInstancesResponse* resp) {
  return Authorized(*ctx, "TerminateInstances", req, resp,
                    [&] { return compute_.TerminateInstances(*req); });
}
grpc::Status ComputeHandler::GetConsoleOutput(grpc::ServerContext* ctx,
                                              const v1::GetConsoleOutputRequest* req,
                                              v1::GetConsoleOutputResponse* resp) {
  return Authorized(*ctx, "GetConsoleOutput", req, resp,
                    [&] { return compute_.GetConsoleOutput(*req); });
}
grpc::Status ComputeHandler::RegisterImage(grpc::ServerContext* ctx,
                                           grpc::ServerReader<v1::RegisterImageUpload>* reader,
                                           v1::RegisterImageResponse* resp) {
  // Client-streaming: the metadata (and so the signature) arrives before the first message, so
  // the signature covers the method and time, not the bytes (common/auth/grpc_request.h).
  if (grpc::Status denied = auth_.Check(*ctx, "RegisterImage", nullptr); !denied.ok()) {
    return denied;
  }
  v1::RegisterImageUpload msg;
  if (!reader->Read(&msg) || !msg.has_request()) {
    return ToGrpcStatus(MissingParameter("The first message of RegisterImage must be the request"));
  }
  if (ImageService::IsSnapshotRegistration(msg.request())) {
    // An AMI of a snapshot: nothing is uploaded.
    if (reader->Read(&msg)) {
      return ToGrpcStatus(Ec2Error(absl::StatusCode::kInvalidArgument,
                                   "InvalidParameterCombination",
                                   "An AMI of a snapshot takes no uploaded bytes"));
    }
    return Forward(resp, [&] { return images_.RegisterSnapshotImage(msg.request()); });
  }
  auto reg = images_.BeginRegisterImage(msg.request());
  if (!reg.ok()) return ToGrpcStatus(reg.status());
  while (reader->Read(&msg)) {
    if (!msg.has_data()) {
      return ToGrpcStatus(
          InvalidParameterValue("Only the first message of RegisterImage may carry the request"));
    }
    if (absl::Status s = (*reg)->Append(msg.data()); !s.ok()) return ToGrpcStatus(s);
  }
  return Forward(resp, [&] { return (*reg)->Finish(); });
}
grpc::Status ComputeHandler::CreateImage(grpc::ServerContext* ctx,
                                         const v1::CreateImageRequest* req,
                                         v1::CreateImageResponse* resp) {
  return Authorized(*ctx, "CreateImage", req, resp, [&] { return images_.CreateImage(*req); });
}
grpc::Status ComputeHandler::CopyImage(grpc::ServerContext* ctx, const v1::CopyImageRequest* req,
                                       v1::CopyImageResponse* resp) {
  return Authorized(*ctx, "CopyImage", req, resp, [&] { return images_.CopyImage(*req); });
}
grpc::Status ComputeHandler::DescribeImages(grpc::ServerContext* ctx,
                                            const v1::DescribeImagesRequest* req,
                                            v1::DescribeImagesResponse* resp) {
  return Authorized(*ctx, "DescribeImages", req, resp,
                    [&] { return images_.DescribeImages(*req); });
}
grpc::Status ComputeHandler::DeregisterImage(grpc::ServerContext* ctx,
                                             const v1::DeregisterImageRequest* req,
                                             v1::DeregisterImageResponse* resp) {
  return Authorized(*ctx, "DeregisterImage", req, resp,
                    [&] { return images_.DeregisterImage(*req); });
}
grpc::Status ComputeHandler::DescribeInstanceTypes(grpc::ServerContext* ctx,
                                                   const v1::DescribeInstanceTypesRequest* req,
                                                   v1::DescribeInstanceTypesResponse* resp) {
  return Authorized(*ctx, "DescribeInstanceTypes", req, resp,
                    [&] { return compute_.DescribeInstanceTypes(*req); });
}
grpc::Status ComputeHandler::DescribeHosts(grpc::ServerContext* ctx,
                                           const v1::DescribeHostsRequest* req,
                                           v1::DescribeHostsResponse* resp) {
  return Authorized(*ctx, "DescribeHosts", req, resp, [&] { return compute_.DescribeHosts(*req); });
}

grpc::Status ComputeHandler::ModifyInstanceMetadataOptions(
    grpc::ServerContext* ctx, const v1::ModifyInstanceMetadataOptionsRequest* req,
    v1::ModifyInstanceMetadataOptionsResponse* resp) {
  return Authorized(*ctx, "ModifyInstanceMetadataOptions", req, resp,
                    [&] { return compute_.ModifyInstanceMetadataOptions(*req); });
}
grpc::Status ComputeHandler::ModifyInstanceAttribute(grpc::ServerContext* ctx,
                                                     const v1::ModifyInstanceAttributeRequest* req,
                                                     v1::ModifyInstanceAttributeResponse* resp) {
  return Authorized(*ctx, "ModifyInstanceAttribute", req, resp,
                    [&] { return compute_.ModifyInstanceAttribute(*req); });
}
grpc::Status ComputeHandler::DescribeInstanceAttribute(
    grpc::ServerContext* ctx, const v1::DescribeInstanceAttributeRequest* req,
    v1::DescribeInstanceAttributeResponse* resp) {
  return Authorized(*ctx, "DescribeInstanceAttribute", req, resp,
                    [&] { return compute_.DescribeInstanceAttribute(*req); });
}
grpc::Status ComputeHandler::CreateKeyPair(grpc::ServerContext* ctx,
                                           const v1::CreateKeyPairRequest* req,
                                           v1::CreateKeyPairResponse* resp) {
  return Authorized(*ctx, "CreateKeyPair", req, resp, [&] { return keys_.CreateKeyPair(*req); });
}
grpc::Status ComputeHandler::ImportKeyPair(grpc::ServerContext* ctx,
                                           const v1::ImportKeyPairRequest* req,
                                           v1::ImportKeyPairResponse* resp) {
  return Authorized(*ctx, "ImportKeyPair", req, resp, [&] { return keys_.ImportKeyPair(*req); });
}
grpc::Status ComputeHandler::DescribeKeyPairs(grpc::ServerContext* ctx,
                                              const v1::DescribeKeyPairsRequest* req,
                                              v1::DescribeKeyPairsResponse* resp) {
  return Authorized(*ctx, "DescribeKeyPairs", req, resp,
                    [&] { return keys_.DescribeKeyPairs(*req); });
}
grpc::Status ComputeHandler::DeleteKeyPair(grpc::ServerContext* ctx,
                                           const v1::DeleteKeyPairRequest* req,
                                           v1::DeleteKeyPairResponse* resp) {
  return Authorized(*ctx, "DeleteKeyPair", req, resp, [&] { return keys_.DeleteKeyPair(*req); });
}
grpc::Status ComputeHandler::StopInstances(grpc::ServerContext* ctx,
                                           const v1::StopInstancesRequest* req,
                                           v1::StopInstancesResponse* resp) {
  return Authorized(*ctx, "StopInstances", req, resp, [&] { return compute_.StopInstances(*req); });
}
grpc::Status ComputeHandler::StartInstances(grpc::ServerContext* ctx,
                                            const v1::StartInstancesRequest* req,
                                            v1::StartInstancesResponse* resp) {
  return Authorized(*ctx, "StartInstances", req, resp,
                    [&] { return compute_.StartInstances(*req); });
}
grpc::Status ComputeHandler::CreatePlacementGroup(grpc::ServerContext* ctx,
                                                  const v1::CreatePlacementGroupRequest* req,
                                                  v1::CreatePlacementGroupResponse* resp) {
  return Authorized(*ctx, "CreatePlacementGroup", req, resp,
                    [&] { return groups_.CreatePlacementGroup(*req); });
}
grpc::Status ComputeHandler::DescribePlacementGroups(grpc::ServerContext* ctx,
                                                     const v1::DescribePlacementGroupsRequest* req,
                                                     v1::DescribePlacementGroupsResponse* resp) {
  return Authorized(*ctx, "DescribePlacementGroups", req, resp,
                    [&] { return groups_.DescribePlacementGroups(*req); });
}
grpc::Status ComputeHandler::DeletePlacementGroup(grpc::ServerContext* ctx,
                                                  const v1::DeletePlacementGroupRequest* req,
                                                  v1::DeletePlacementGroupResponse* resp) {
  return Authorized(*ctx, "DeletePlacementGroup", req, resp,
                    [&] { return groups_.DeletePlacementGroup(*req); });
}
grpc::Status ComputeHandler::DescribeAvailabilityZones(
    grpc::ServerContext* ctx, const v1::DescribeAvailabilityZonesRequest* req,
    v1::DescribeAvailabilityZonesResponse* resp) {
  return Authorized(*ctx, "DescribeAvailabilityZones", req, resp,
                    [&] { return compute_.DescribeAvailabilityZones(*req); });
}
grpc::Status ComputeHandler::DescribePlacement(grpc::ServerContext* ctx,
                                               const v1::RunInstancesRequest* req,
                                               v1::DescribePlacementResponse* resp) {
  return Authorized(*ctx, "DescribePlacement", req, resp,
                    [&] { return compute_.DescribePlacement(*req); });
}

grpc::Status ComputeHandler::CreateAccessKey(grpc::ServerContext* ctx,
                                             const v1::CreateAccessKeyRequest* req,
                                             v1::CreateAccessKeyResponse* resp) {
  return Authorized(*ctx, "CreateAccessKey", req, resp,
                    [&] { return access_keys_.CreateAccessKey(*req); });
}
grpc::Status ComputeHandler::ListAccessKeys(grpc::ServerContext* ctx,
                                            const v1::ListAccessKeysRequest* req,
                                            v1::ListAccessKeysResponse* resp) {
  return Authorized(*ctx, "ListAccessKeys", req, resp,
                    [&] { return access_keys_.ListAccessKeys(*req); });
}
grpc::Status ComputeHandler::DeleteAccessKey(grpc::ServerContext* ctx,
                                             const v1::DeleteAccessKeyRequest* req,
                                             v1::DeleteAccessKeyResponse* resp) {
  return Authorized(*ctx, "DeleteAccessKey", req, resp,
                    [&] { return access_keys_.DeleteAccessKey(*req); });
}

grpc::Status ComputeHandler::CreateTags(grpc::ServerContext* ctx, const v1::CreateTagsRequest* req,
                                        v1::CreateTagsResponse* resp) {
  return Authorized(*ctx, "CreateTags", req, resp, [&] { return tags_.CreateTags(*req); });
}
grpc::Status ComputeHandler::DeleteTags(grpc::ServerContext* ctx, const v1::DeleteTagsRequest* req,
                                        v1::DeleteTagsResponse* resp) {
  return Authorized(*ctx, "DeleteTags", req, resp, [&] { return tags_.DeleteTags(*req); });
}
grpc::Status ComputeHandler::DescribeTags(grpc::ServerContext* ctx,
                                          const v1::DescribeTagsRequest* req,
                                          v1::DescribeTagsResponse* resp) {
  return Authorized(*ctx, "DescribeTags", req, resp, [&] { return tags_.DescribeTags(*req); });
}
grpc::Status ComputeHandler::RebootInstances(grpc::ServerContext* ctx,
                                             const v1::RebootInstancesRequest* req,
                                             v1::RebootInstancesResponse* resp) {
  return Authorized(*ctx, "RebootInstances", req, resp,
                    [&] { return compute_.RebootInstances(*req); });
}
grpc::Status ComputeHandler::DescribeInstanceStatus(grpc::ServerContext* ctx,
                                                    const v1::DescribeInstanceStatusRequest* req,
                                                    v1::DescribeInstanceStatusResponse* resp) {
  return Authorized(*ctx, "DescribeInstanceStatus", req, resp,
                    [&] { return compute_.DescribeInstanceStatus(*req); });
}
grpc::Status ComputeHandler::DescribeRegions(grpc::ServerContext* ctx,
                                             const v1::DescribeRegionsRequest* req,
                                             v1::DescribeRegionsResponse* resp) {
  return Authorized(*ctx, "DescribeRegions", req, resp,
                    [&] { return compute_.DescribeRegions(*req); });
}

grpc::Status HostHandler::IssueNbdClientCertificate(grpc::ServerContext* ctx,
                                                    const v1::NbdClientCertificateRequest* req,
                                                    v1::NbdClientCertificate* resp) {
  if (auto s = CheckCallerIsHost(*ctx, req->host_id(), enrollment_); !s.ok()) {
    return ToGrpcStatus(s);
  }
  return Forward(resp, [&] { return enrollment_.IssueNbdClientCertificate(req->host_id(), *req); });
}

grpc::Status HostHandler::Join(grpc::ServerContext*, const v1::JoinRequest* req,
                               v1::JoinResponse* resp) {
  return Forward(resp, [&] { return enrollment_.Join(*req); });
}
grpc::Status HostHandler::RegisterHost(grpc::ServerContext* ctx, const v1::RegisterHostRequest* req,
                                       v1::RegisterHostResponse* resp) {
  if (auto s = CheckCallerIsHost(*ctx, req->host_id(), enrollment_); !s.ok()) {
    return ToGrpcStatus(s);
  }
  return Forward(resp, [&] { return fleet_.RegisterHost(*req); });
}
grpc::Status HostHandler::ReportStatus(grpc::ServerContext* ctx, const v1::ReportStatusRequest* req,
                                       v1::ReportStatusResponse*) {
  if (auto s = CheckCallerIsHost(*ctx, req->host_id(), enrollment_); !s.ok()) {
    return ToGrpcStatus(s);
  }
  return ToGrpcStatus(fleet_.ReportStatus(*req));
}
grpc::Status HostHandler::WatchDesired(grpc::ServerContext* ctx, const v1::WatchDesiredRequest* req,
                                       v1::DesiredState* resp) {
  if (auto s = CheckCallerIsHost(*ctx, req->host_id(), enrollment_); !s.ok()) {
    return ToGrpcStatus(s);
  }
  return Forward(resp,
                 [&] { return fleet_.WatchDesired(*req, [ctx] { return ctx->IsCancelled(); }); });
}

grpc::Status HostHandler::FetchBlob(grpc::ServerContext* ctx, const v1::FetchBlobRequest* req,
                                    grpc::ServerWriter<v1::BlobChunk>* writer) {
  if (auto s = CheckCallerIsHost(*ctx, req->host_id(), enrollment_); !s.ok()) {
    return ToGrpcStatus(s);
  }
  auto path = images_.BlobForHost(*req);
  if (!path.ok()) return ToGrpcStatus(path.status());
  int fd = ::open(path->c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return grpc::Status(grpc::StatusCode::INTERNAL, "blob unreadable");
  std::string buf(kChunkBytes, '\0');
  off_t offset = std::max<int64_t>(0, req->offset());
  grpc::Status result = grpc::Status::OK;
  while (!ctx->IsCancelled()) {
    ssize_t n = ::pread(fd, buf.data(), buf.size(), offset);
    if (n < 0) {
      result = grpc::Status(grpc::StatusCode::INTERNAL, "blob unreadable");
      break;
    }
    if (n == 0) break;
    offset += n;
    v1::BlobChunk chunk;
    chunk.set_data(buf.data(), static_cast<size_t>(n));
    if (!writer->Write(chunk)) break;
  }
  ::close(fd);
  return result;
}

}  // namespace minicloud::controller
