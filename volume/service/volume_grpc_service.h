#pragma once

// The gRPC VolumeService (proto/minicloud/v1/volume_service.proto) over one VolumeBackend. Each
// method only translates: request fields into the backend call, the answer into the response,
// absl::Status into grpc::Status (common/grpc_status.h). Every rule (ids, sizes, idempotency,
// what may be deleted) is the backend's, under its contract.

#include <string>

#include "minicloud/v1/volume_service.grpc.pb.h"
#include "volume/backend/volume_backend.h"

namespace minicloud::volume {

class VolumeGrpcService final : public minicloud::volume::v1::VolumeService::Service {
 public:
  VolumeGrpcService(VolumeBackend& backend, std::string availability_zone, std::string version)
      : backend_(backend),
        availability_zone_(std::move(availability_zone)),
        version_(std::move(version)) {}

  grpc::Status CreateVolume(grpc::ServerContext*, const v1::CreateVolumeRequest* request,
                            v1::BackendVolume* response) override;
  grpc::Status DeleteVolume(grpc::ServerContext*, const v1::DeleteVolumeRequest* request,
                            v1::DeleteVolumeResponse* response) override;
  grpc::Status GrowVolume(grpc::ServerContext*, const v1::GrowVolumeRequest* request,
                          v1::BackendVolume* response) override;
  grpc::Status GetVolume(grpc::ServerContext*, const v1::GetVolumeRequest* request,
                         v1::BackendVolume* response) override;
  grpc::Status ListVolumes(grpc::ServerContext*, const v1::ListVolumesRequest* request,
                           v1::ListVolumesResponse* response) override;
  grpc::Status CreateSnapshot(grpc::ServerContext*, const v1::CreateSnapshotRequest* request,
                              v1::BackendSnapshot* response) override;
  grpc::Status DeleteSnapshot(grpc::ServerContext*, const v1::DeleteSnapshotRequest* request,
                              v1::DeleteSnapshotResponse* response) override;
  grpc::Status ListSnapshots(grpc::ServerContext*, const v1::ListSnapshotsRequest* request,
                             v1::ListSnapshotsResponse* response) override;
  grpc::Status ExportVolume(grpc::ServerContext*, const v1::ExportVolumeRequest* request,
                            v1::NbdExport* response) override;
  grpc::Status UnexportVolume(grpc::ServerContext*, const v1::UnexportVolumeRequest* request,
                              v1::UnexportVolumeResponse* response) override;
  grpc::Status GetVolumeServiceStatus(grpc::ServerContext*,
                                      const v1::GetVolumeServiceStatusRequest* request,
                                      v1::VolumeServiceStatus* response) override;

 private:
  VolumeBackend& backend_;
  const std::string availability_zone_;
  const std::string version_;
};

}  // namespace minicloud::volume
