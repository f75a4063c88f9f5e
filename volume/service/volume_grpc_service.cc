#include "volume/service/volume_grpc_service.h"

#include "common/grpc_status.h"

namespace minicloud::volume {
namespace {

void ToProto(const VolumeInfo& v, v1::BackendVolume* out) {
  out->set_volume_id(v.volume_id);
  out->set_size_bytes(v.size_bytes);
  out->set_stored_bytes(v.stored_bytes);
  out->set_snapshot_id(v.snapshot_id);
  out->set_exported(v.exported);
  out->set_encrypted(v.encrypted);
}

void ToProto(const SnapshotInfo& s, v1::BackendSnapshot* out) {
  out->set_snapshot_id(s.snapshot_id);
  out->set_volume_id(s.volume_id);
  out->set_size_bytes(s.size_bytes);
  out->set_stored_bytes(s.stored_bytes);
  out->set_encrypted(s.encrypted);
}

// The answer of `result` written into `response` by `fill`, or its error.
template <typename T, typename R, typename F>
grpc::Status Answer(const absl::StatusOr<T>& result, R* response, F fill) {
  if (!result.ok()) return ToGrpcStatus(result.status());
  fill(*result, response);
  return grpc::Status::OK;
}

}  // namespace

grpc::Status VolumeGrpcService::CreateVolume(grpc::ServerContext*,
                                             const v1::CreateVolumeRequest* request,
                                             v1::BackendVolume* response) {
  return Answer(backend_.CreateVolume({request->volume_id(), request->size_bytes(),
                                       request->snapshot_id(), request->encryption_key()}),
                response, [](const VolumeInfo& v, v1::BackendVolume* r) { ToProto(v, r); });
}

grpc::Status VolumeGrpcService::DeleteVolume(grpc::ServerContext*,
                                             const v1::DeleteVolumeRequest* request,
                                             v1::DeleteVolumeResponse*) {
  return ToGrpcStatus(backend_.DeleteVolume(request->volume_id()));
}

grpc::Status VolumeGrpcService::GrowVolume(grpc::ServerContext*,
                                           const v1::GrowVolumeRequest* request,
                                           v1::BackendVolume* response) {
  return Answer(backend_.GrowVolume(request->volume_id(), request->size_bytes()), response,
                [](const VolumeInfo& v, v1::BackendVolume* r) { ToProto(v, r); });
}

grpc::Status VolumeGrpcService::GetVolume(grpc::ServerContext*, const v1::GetVolumeRequest* request,
                                          v1::BackendVolume* response) {
  return Answer(backend_.GetVolume(request->volume_id()), response,
                [](const VolumeInfo& v, v1::BackendVolume* r) { ToProto(v, r); });
}

grpc::Status VolumeGrpcService::ListVolumes(grpc::ServerContext*, const v1::ListVolumesRequest*,
                                            v1::ListVolumesResponse* response) {
  return Answer(backend_.ListVolumes(), response,
                [](const std::vector<VolumeInfo>& vs, v1::ListVolumesResponse* r) {
                  for (const VolumeInfo& v : vs) ToProto(v, r->add_volumes());
                });
}

grpc::Status VolumeGrpcService::CreateSnapshot(grpc::ServerContext*,
                                               const v1::CreateSnapshotRequest* request,
                                               v1::BackendSnapshot* response) {
  return Answer(backend_.CreateSnapshot(request->volume_id(), request->snapshot_id()), response,
                [](const SnapshotInfo& s, v1::BackendSnapshot* r) { ToProto(s, r); });
}

grpc::Status VolumeGrpcService::DeleteSnapshot(grpc::ServerContext*,
                                               const v1::DeleteSnapshotRequest* request,
                                               v1::DeleteSnapshotResponse*) {
  return ToGrpcStatus(backend_.DeleteSnapshot(request->snapshot_id()));
}

grpc::Status VolumeGrpcService::ListSnapshots(grpc::ServerContext*, const v1::ListSnapshotsRequest*,
                                              v1::ListSnapshotsResponse* response) {
  return Answer(backend_.ListSnapshots(), response,
                [](const std::vector<SnapshotInfo>& ss, v1::ListSnapshotsResponse* r) {
                  for (const SnapshotInfo& s : ss) ToProto(s, r->add_snapshots());
                });
}

grpc::Status VolumeGrpcService::ExportVolume(grpc::ServerContext*,
                                             const v1::ExportVolumeRequest* request,
                                             v1::NbdExport* response) {
  return Answer(backend_.Export(request->volume_id()), response,
                [](const NbdEndpoint& e, v1::NbdExport* r) {
                  r->set_host(e.host);
                  r->set_port(e.port);
                  r->set_export_name(e.export_name);
                  r->set_uri(e.Uri());
                  r->set_tls(e.tls);
                  r->set_tls_hostname(e.tls_hostname);
                });
}

grpc::Status VolumeGrpcService::UnexportVolume(grpc::ServerContext*,
                                               const v1::UnexportVolumeRequest* request,
                                               v1::UnexportVolumeResponse*) {
  return ToGrpcStatus(backend_.Unexport(request->volume_id()));
}

grpc::Status VolumeGrpcService::GetVolumeServiceStatus(grpc::ServerContext*,
                                                       const v1::GetVolumeServiceStatusRequest*,
                                                       v1::VolumeServiceStatus* response) {
  const BackendHealth h = backend_.Health();
  response->set_availability_zone(availability_zone_);
  response->set_backend(h.backend);
  response->set_healthy(h.healthy);
  response->set_detail(h.detail);
  response->set_volumes(h.volumes);
  response->set_snapshots(h.snapshots);
  response->set_exports(h.exports);
  response->set_free_bytes(h.free_bytes);
  response->set_version(version_);
  return grpc::Status::OK;
}

}  // namespace minicloud::volume
