// The gRPC VolumeService over the fake backend, on a real in-process gRPC server (loopback,
// port 0): fields and codes cross the edge unchanged.
#include "volume/service/volume_grpc_service.h"

#include <grpcpp/grpcpp.h>

#include <catch2/catch.hpp>
#include <memory>

#include "volume/backend/fake/fake_volume_backend.h"

namespace minicloud::volume {
namespace {

class ServiceFixture {
 public:
  ServiceFixture() : service_(backend_, "home-1b", "9.9.9") {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    REQUIRE(port > 0);
    stub_ = v1::VolumeService::NewStub(grpc::CreateChannel("127.0.0.1:" + std::to_string(port),
                                                           grpc::InsecureChannelCredentials()));
  }
  ~ServiceFixture() { server_->Shutdown(); }

  FakeVolumeBackend backend_{nullptr, "nas.lan", 10809};
  VolumeGrpcService service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::VolumeService::Stub> stub_;
};

// Catches: a field dropped or swapped in either direction (size, source snapshot, exported).
TEST_CASE_METHOD(ServiceFixture, "volume service: create, clone, list carry every field") {
  grpc::ClientContext c1, c2, c3, c4;
  v1::CreateVolumeRequest create;
  create.set_volume_id("vol-1");
  create.set_size_bytes(8 << 20);
  v1::BackendVolume vol;
  REQUIRE(stub_->CreateVolume(&c1, create, &vol).ok());
  CHECK(vol.volume_id() == "vol-1");
  CHECK(vol.size_bytes() == 8u << 20);
  v1::CreateSnapshotRequest snap;
  snap.set_volume_id("vol-1");
  snap.set_snapshot_id("snap-1");
  v1::BackendSnapshot s;
  REQUIRE(stub_->CreateSnapshot(&c2, snap, &s).ok());
  CHECK(s.volume_id() == "vol-1");
  CHECK(s.snapshot_id() == "snap-1");
  CHECK(s.size_bytes() == 8u << 20);
  v1::CreateVolumeRequest clone;
  clone.set_volume_id("vol-2");
  clone.set_size_bytes(16 << 20);
  clone.set_snapshot_id("snap-1");
  REQUIRE(stub_->CreateVolume(&c3, clone, &vol).ok());
  CHECK(vol.snapshot_id() == "snap-1");
  CHECK(vol.size_bytes() == 16u << 20);
  REQUIRE(backend_.Export("vol-2").ok());
  v1::ListVolumesResponse list;
  REQUIRE(stub_->ListVolumes(&c4, v1::ListVolumesRequest(), &list).ok());
  REQUIRE(list.volumes_size() == 2);
  CHECK_FALSE(list.volumes(0).exported());
  CHECK(list.volumes(1).exported());
}

// Catches: the export's host/port/name/URI not the backend's; status fields not filled.
TEST_CASE_METHOD(ServiceFixture, "volume service: export and status") {
  REQUIRE(backend_.CreateVolume({"vol-1", 1 << 20, ""}).ok());
  grpc::ClientContext c1, c2;
  v1::ExportVolumeRequest exp;
  exp.set_volume_id("vol-1");
  v1::NbdExport e;
  REQUIRE(stub_->ExportVolume(&c1, exp, &e).ok());
  CHECK(e.host() == "nas.lan");
  CHECK(e.port() == 10809);
  CHECK(e.export_name() == "vol-1");
  CHECK(e.uri() == "nbd://nas.lan:10809/vol-1");
  v1::VolumeServiceStatus st;
  REQUIRE(stub_->GetVolumeServiceStatus(&c2, v1::GetVolumeServiceStatusRequest(), &st).ok());
  CHECK(st.availability_zone() == "home-1b");
  CHECK(st.backend() == "fake");
  CHECK(st.version() == "9.9.9");
  CHECK(st.volumes() == 1);
  CHECK(st.exports() == 1);
}

// Catches: backend errors turned into OK or into another code at the edge.
TEST_CASE_METHOD(ServiceFixture, "volume service: backend codes become gRPC codes") {
  grpc::ClientContext c1, c2, c3, c4;
  v1::BackendVolume vol;
  v1::GetVolumeRequest get;
  get.set_volume_id("vol-none");
  CHECK(stub_->GetVolume(&c1, get, &vol).error_code() == grpc::StatusCode::NOT_FOUND);
  v1::CreateVolumeRequest bad;
  bad.set_volume_id("vol/1");
  bad.set_size_bytes(1 << 20);
  CHECK(stub_->CreateVolume(&c2, bad, &vol).error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  backend_.FailNext("DeleteSnapshot", absl::UnavailableError("disk gone"));
  v1::DeleteSnapshotRequest del;
  del.set_snapshot_id("snap-1");
  v1::DeleteSnapshotResponse out;
  grpc::Status s = stub_->DeleteSnapshot(&c3, del, &out);
  CHECK(s.error_code() == grpc::StatusCode::UNAVAILABLE);
  CHECK(s.error_message() == "disk gone");
  REQUIRE(backend_.CreateVolume({"vol-1", 1 << 20, ""}).ok());
  REQUIRE(backend_.Export("vol-1").ok());
  v1::DeleteVolumeRequest dv;
  dv.set_volume_id("vol-1");
  v1::DeleteVolumeResponse dvr;
  CHECK(stub_->DeleteVolume(&c4, dv, &dvr).error_code() == grpc::StatusCode::FAILED_PRECONDITION);
}

}  // namespace
}  // namespace minicloud::volume
