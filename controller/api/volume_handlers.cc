// gRPC edge of EBS volumes and snapshots: each call is verified, then forwarded to the
// VolumeService.
#include "common/grpc_status.h"
#include "controller/api/grpc_handlers.h"

namespace minicloud::controller {
namespace {

template <typename Resp, typename Call>
grpc::Status ForwardTo(VolumeService* volumes, Resp* resp, Call&& call) {
  if (volumes == nullptr) {
    return grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "EBS volumes are not enabled");
  }
  auto result = call(*volumes);
  if (!result.ok()) return ToGrpcStatus(result.status());
  *resp = std::move(*result);
  return grpc::Status::OK;
}

}  // namespace

grpc::Status ComputeHandler::CreateVolume(grpc::ServerContext* ctx,
                                          const v1::CreateVolumeRequest* req, v1::Volume* resp) {
  if (grpc::Status denied = auth_.Check(*ctx, "CreateVolume", req); !denied.ok()) return denied;
  return ForwardTo(volumes_, resp, [&](VolumeService& v) { return v.CreateVolume(*req); });
}

grpc::Status ComputeHandler::DescribeVolumes(grpc::ServerContext* ctx,
                                             const v1::DescribeVolumesRequest* req,
                                             v1::DescribeVolumesResponse* resp) {
  if (grpc::Status denied = auth_.Check(*ctx, "DescribeVolumes", req); !denied.ok()) return denied;
  return ForwardTo(volumes_, resp, [&](VolumeService& v) { return v.DescribeVolumes(*req); });
}

grpc::Status ComputeHandler::DeleteVolume(grpc::ServerContext* ctx,
                                          const v1::DeleteVolumeRequest* req,
                                          v1::DeleteVolumeResponse* resp) {
  if (grpc::Status denied = auth_.Check(*ctx, "DeleteVolume", req); !denied.ok()) return denied;
  return ForwardTo(volumes_, resp, [&](VolumeService& v) { return v.DeleteVolume(*req); });
}

grpc::Status ComputeHandler::ModifyVolume(grpc::ServerContext* ctx,
                                          const v1::ModifyVolumeRequest* req,
                                          v1::ModifyVolumeResponse* resp) {
  if (grpc::Status denied = auth_.Check(*ctx, "ModifyVolume", req); !denied.ok()) return denied;
  return ForwardTo(volumes_, resp, [&](VolumeService& v) { return v.ModifyVolume(*req); });
}

grpc::Status ComputeHandler::DescribeVolumesModifications(
    grpc::ServerContext* ctx, const v1::DescribeVolumesModificationsRequest* req,
    v1::DescribeVolumesModificationsResponse* resp) {
  if (grpc::Status denied = auth_.Check(*ctx, "DescribeVolumesModifications", req); !denied.ok())
    return denied;
  return ForwardTo(volumes_, resp,
                   [&](VolumeService& v) { return v.DescribeVolumesModifications(*req); });
}

grpc::Status ComputeHandler::AttachVolume(grpc::ServerContext* ctx,
                                          const v1::AttachVolumeRequest* req,
                                          v1::VolumeAttachment* resp) {
  if (grpc::Status denied = auth_.Check(*ctx, "AttachVolume", req); !denied.ok()) return denied;
  return ForwardTo(volumes_, resp, [&](VolumeService& v) { return v.AttachVolume(*req); });
}

grpc::Status ComputeHandler::DetachVolume(grpc::ServerContext* ctx,
                                          const v1::DetachVolumeRequest* req,
                                          v1::VolumeAttachment* resp) {
  if (grpc::Status denied = auth_.Check(*ctx, "DetachVolume", req); !denied.ok()) return denied;
  return ForwardTo(volumes_, resp, [&](VolumeService& v) { return v.DetachVolume(*req); });
}

grpc::Status ComputeHandler::CreateSnapshot(grpc::ServerContext* ctx,
                                            const v1::CreateSnapshotRequest* req,
                                            v1::Snapshot* resp) {
  if (grpc::Status denied = auth_.Check(*ctx, "CreateSnapshot", req); !denied.ok()) return denied;
  return ForwardTo(volumes_, resp, [&](VolumeService& v) { return v.CreateSnapshot(*req); });
}

grpc::Status ComputeHandler::DescribeSnapshots(grpc::ServerContext* ctx,
                                               const v1::DescribeSnapshotsRequest* req,
                                               v1::DescribeSnapshotsResponse* resp) {
  if (grpc::Status denied = auth_.Check(*ctx, "DescribeSnapshots", req); !denied.ok())
    return denied;
  return ForwardTo(volumes_, resp, [&](VolumeService& v) { return v.DescribeSnapshots(*req); });
}

grpc::Status ComputeHandler::DeleteSnapshot(grpc::ServerContext* ctx,
                                            const v1::DeleteSnapshotRequest* req,
                                            v1::DeleteSnapshotResponse* resp) {
  if (grpc::Status denied = auth_.Check(*ctx, "DeleteSnapshot", req); !denied.ok()) return denied;
  return ForwardTo(volumes_, resp, [&](VolumeService& v) { return v.DeleteSnapshot(*req); });
}

grpc::Status ComputeHandler::CopySnapshot(grpc::ServerContext* ctx,
                                          const v1::CopySnapshotRequest* req,
                                          v1::CopySnapshotResponse* resp) {
  if (grpc::Status denied = auth_.Check(*ctx, "CopySnapshot", req); !denied.ok()) return denied;
  return ForwardTo(volumes_, resp, [&](VolumeService& v) { return v.CopySnapshot(*req); });
}

}  // namespace minicloud::controller
