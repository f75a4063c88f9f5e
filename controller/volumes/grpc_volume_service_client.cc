#include "controller/volumes/grpc_volume_service_client.h"

#include <grpcpp/grpcpp.h>

#include <chrono>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "minicloud/v1/volume_service.grpc.pb.h"

namespace minicloud::controller {
namespace {

namespace vv1 = minicloud::volume::v1;

constexpr int64_t kGiB = int64_t{1} << 30;

// A daemon that restarts is dialled again within seconds (gRPC's default backoff grows to two
// minutes), so Reconcile finds it soon after it is back.
grpc::ChannelArguments ChannelArgs() {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 500);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 5000);
  return args;
}

class GrpcVolumeServiceClient : public VolumeServiceClient {
 public:
  explicit GrpcVolumeServiceClient(const GrpcVolumeServiceOptions& options)
      : endpoint_(options.endpoint),
        deadline_(options.deadline),
        stub_(vv1::VolumeService::NewStub(grpc::CreateCustomChannel(
            options.endpoint, grpc::InsecureChannelCredentials(), ChannelArgs()))) {}

  absl::Status CreateVolume(const VolumeSpec& spec) override {
    if (spec.encrypted) {
      // The daemon stores plain qcow2 today; saying "encrypted" over clear bytes would be a lie.
      return absl::UnimplementedError(absl::StrCat("create volume ", spec.volume_id,
                                                   ": the volume service at ", endpoint_,
                                                   " cannot encrypt volumes yet"));
    }
    vv1::CreateVolumeRequest req;
    req.set_volume_id(spec.volume_id);
    req.set_size_bytes(static_cast<uint64_t>(spec.size_gib) * kGiB);
    req.set_snapshot_id(spec.snapshot_id);
    vv1::BackendVolume resp;
    grpc::ClientContext ctx;
    SetDeadline(ctx);
    return Map(stub_->CreateVolume(&ctx, req, &resp), "create volume", spec.volume_id);
  }

  absl::Status DeleteVolume(const std::string& volume_id) override {
    vv1::DeleteVolumeRequest req;
    req.set_volume_id(volume_id);
    vv1::DeleteVolumeResponse resp;
    grpc::ClientContext ctx;
    SetDeadline(ctx);
    return Map(stub_->DeleteVolume(&ctx, req, &resp), "delete volume", volume_id);
  }

  absl::Status GrowVolume(const std::string& volume_id, int64_t new_size_gib) override {
    vv1::GrowVolumeRequest req;
    req.set_volume_id(volume_id);
    req.set_size_bytes(static_cast<uint64_t>(new_size_gib) * kGiB);
    vv1::BackendVolume resp;
    grpc::ClientContext ctx;
    SetDeadline(ctx);
    return Map(stub_->GrowVolume(&ctx, req, &resp), "grow volume", volume_id);
  }

  absl::StatusOr<NbdEndpoint> ExportVolume(const std::string& volume_id) override {
    vv1::ExportVolumeRequest req;
    req.set_volume_id(volume_id);
    vv1::NbdExport resp;
    grpc::ClientContext ctx;
    SetDeadline(ctx);
    absl::Status s = Map(stub_->ExportVolume(&ctx, req, &resp), "export volume", volume_id);
    if (!s.ok()) return s;
    return NbdEndpoint{resp.host(), resp.port(), resp.export_name()};
  }

  absl::Status UnexportVolume(const std::string& volume_id) override {
    vv1::UnexportVolumeRequest req;
    req.set_volume_id(volume_id);
    vv1::UnexportVolumeResponse resp;
    grpc::ClientContext ctx;
    SetDeadline(ctx);
    absl::Status s = Map(stub_->UnexportVolume(&ctx, req, &resp), "unexport volume", volume_id);
    // A volume the service no longer holds is not exported either.
    if (s.code() == absl::StatusCode::kNotFound) return absl::OkStatus();
    return s;
  }

 private:
  void SetDeadline(grpc::ClientContext& ctx) const {
    ctx.set_deadline(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(deadline_));
  }

  absl::Status Map(const grpc::Status& status, const char* what,
                   const std::string& volume_id) const {
    if (status.ok()) return absl::OkStatus();
    const std::string context =
        absl::StrCat(what, " ", volume_id, " on the volume service at ", endpoint_, ": ");
    switch (status.error_code()) {
      case grpc::StatusCode::UNAVAILABLE:
      case grpc::StatusCode::DEADLINE_EXCEEDED:
      case grpc::StatusCode::CANCELLED:
        return absl::UnavailableError(absl::StrCat(context, status.error_message()));
      default: {
        absl::Status s = FromGrpcStatus(status);
        return absl::Status(s.code(), absl::StrCat(context, s.message()));
      }
    }
  }

  const std::string endpoint_;
  const absl::Duration deadline_;
  std::unique_ptr<vv1::VolumeService::Stub> stub_;
};

}  // namespace

std::shared_ptr<VolumeServiceClient> MakeGrpcVolumeServiceClient(
    const GrpcVolumeServiceOptions& options) {
  return std::make_shared<GrpcVolumeServiceClient>(options);
}

absl::StatusOr<VolumeServiceFlag> ParseVolumeServiceFlag(const std::string& value) {
  const size_t eq = value.find('=');
  const size_t colon = value.rfind(':');
  int port = 0;
  if (eq == std::string::npos || eq == 0 || colon == std::string::npos || colon < eq + 2 ||
      !absl::SimpleAtoi(value.substr(colon + 1), &port) || port <= 0 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("--volume-service ", value, ": expected <availability-zone>=<host>:<port>"));
  }
  return VolumeServiceFlag{value.substr(0, eq), value.substr(eq + 1)};
}

absl::Status CheckZoneOfRegion(const std::string& zone, const std::string& region) {
  if (zone.size() == region.size() + 1 && zone.compare(0, region.size(), region) == 0 &&
      zone.back() >= 'a' && zone.back() <= 'z') {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat("--volume-service: unknown availability zone '",
                                                 zone, "': zones of region ", region, " are named ",
                                                 region, "a, ", region, "b, ..."));
}

absl::StatusOr<std::string> ProbeVolumeServiceZone(const std::string& endpoint,
                                                   absl::Duration deadline) {
  auto stub = vv1::VolumeService::NewStub(
      grpc::CreateChannel(endpoint, grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(deadline));
  vv1::VolumeServiceStatus status;
  grpc::Status s =
      stub->GetVolumeServiceStatus(&ctx, vv1::GetVolumeServiceStatusRequest(), &status);
  if (!s.ok()) {
    return absl::UnavailableError(
        absl::StrCat("volume service at ", endpoint, ": ", s.error_message()));
  }
  return status.availability_zone();
}

}  // namespace minicloud::controller
