#include "controller/volumes/grpc_volume_service_client.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/crypto/join_token.h"
#include "common/grpc_status.h"
#include "common/status_macros.h"
#include "minicloud/v1/volume_service.grpc.pb.h"

namespace minicloud::controller {
namespace {

namespace vv1 = minicloud::volume::v1;

constexpr int64_t kGiB = int64_t{1} << 30;

// A daemon that restarts is dialled again within seconds (gRPC's default backoff grows to two
// minutes), so Reconcile finds it soon after it is back.
// With TLS, the server name checked is the zone's, not the address's (the header).
std::shared_ptr<grpc::Channel> VolumeServiceChannel(const GrpcVolumeServiceOptions& options) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 500);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 5000);
  if (!options.tls) {
    return grpc::CreateCustomChannel(options.endpoint, grpc::InsecureChannelCredentials(), args);
  }
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = options.tls->ca_pem;
  ssl.pem_cert_chain = options.tls->certificate_chain_pem;
  ssl.pem_private_key = options.tls->private_key_pem;
  args.SetSslTargetNameOverride(crypto::VolumeServiceName(options.zone));
  return grpc::CreateCustomChannel(options.endpoint, grpc::SslCredentials(ssl), args);
}

class GrpcVolumeServiceClient : public VolumeServiceClient {
 public:
  explicit GrpcVolumeServiceClient(const GrpcVolumeServiceOptions& options)
      : endpoint_(options.endpoint),
        deadline_(options.deadline),
        stub_(vv1::VolumeService::NewStub(VolumeServiceChannel(options))) {}

  absl::Status CreateVolume(const VolumeSpec& spec) override {
    if (spec.encrypted && spec.snapshot_id.empty() && spec.encryption_key.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("create volume ", spec.volume_id, ": an encrypted volume needs its key"));
    }
    vv1::CreateVolumeRequest req;
    req.set_volume_id(spec.volume_id);
    req.set_size_bytes(static_cast<uint64_t>(spec.size_gib) * kGiB);
    req.set_snapshot_id(spec.snapshot_id);
    // A key goes with a blank encrypted volume and with one made from a plain snapshot.
    if (spec.encrypted) req.set_encryption_key(spec.encryption_key);
    vv1::BackendVolume resp;
    grpc::ClientContext ctx;
    SetDeadline(ctx);
    MC_RETURN_IF_ERROR(Map(stub_->CreateVolume(&ctx, req, &resp), "create volume", spec.volume_id));
    if (resp.encrypted() != spec.encrypted) {
      // Never call clear bytes encrypted (or the other way round).
      return absl::FailedPreconditionError(absl::StrCat(
          "create volume ", spec.volume_id, ": the volume service at ", endpoint_, " made it ",
          resp.encrypted() ? "encrypted" : "unencrypted", ", not as asked"));
    }
    return absl::OkStatus();
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
    return NbdEndpoint{.host = resp.host(),
                       .port = resp.port(),
                       .export_name = resp.export_name(),
                       .tls = resp.tls(),
                       .tls_hostname = resp.tls_hostname()};
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

  absl::StatusOr<SnapshotInfo> CreateSnapshot(const std::string& volume_id,
                                              const std::string& snapshot_id) override {
    vv1::CreateSnapshotRequest req;
    req.set_volume_id(volume_id);
    req.set_snapshot_id(snapshot_id);
    vv1::BackendSnapshot resp;
    grpc::ClientContext ctx;
    SetDeadline(ctx);
    MC_RETURN_IF_ERROR(Map(stub_->CreateSnapshot(&ctx, req, &resp), "create snapshot",
                           absl::StrCat(snapshot_id, " of ", volume_id)));
    return SnapshotInfo{static_cast<int64_t>(resp.size_bytes()),
                        static_cast<int64_t>(resp.stored_bytes())};
  }

  absl::Status DeleteSnapshot(const std::string& snapshot_id) override {
    vv1::DeleteSnapshotRequest req;
    req.set_snapshot_id(snapshot_id);
    vv1::DeleteSnapshotResponse resp;
    grpc::ClientContext ctx;
    SetDeadline(ctx);
    return Map(stub_->DeleteSnapshot(&ctx, req, &resp), "delete snapshot", snapshot_id);
  }

  // The daemon has no copy call; a copy is composed of the contract's own idempotent steps: a
  // copy-on-write clone of the source (no data copied), a snapshot of that clone under the new
  // id (it stores only what the clone changed: nothing), and the clone deleted again (a
  // volume's deletion keeps its snapshots). Repeating the three after a lost answer is safe.
  absl::StatusOr<SnapshotInfo> CopySnapshot(const std::string& source_snapshot_id,
                                            const std::string& new_snapshot_id) override {
    const std::string scratch = absl::StrCat("copy-", new_snapshot_id);
    {
      vv1::CreateVolumeRequest req;
      req.set_volume_id(scratch);
      req.set_snapshot_id(source_snapshot_id);
      vv1::BackendVolume resp;
      grpc::ClientContext ctx;
      SetDeadline(ctx);
      MC_RETURN_IF_ERROR(Map(stub_->CreateVolume(&ctx, req, &resp), "copy snapshot",
                             absl::StrCat(source_snapshot_id, " to ", new_snapshot_id)));
    }
    absl::StatusOr<SnapshotInfo> made = CreateSnapshot(scratch, new_snapshot_id);
    MC_RETURN_IF_ERROR(DeleteVolume(scratch));
    return made;
  }

  VolumeServiceState GetState() override {
    vv1::VolumeServiceStatus resp;
    grpc::ClientContext ctx;
    // A status line must not wait as long as a volume operation may.
    ctx.set_deadline(std::chrono::system_clock::now() +
                     absl::ToChronoMilliseconds(std::min(deadline_, absl::Seconds(2))));
    grpc::Status s =
        stub_->GetVolumeServiceStatus(&ctx, vv1::GetVolumeServiceStatusRequest(), &resp);
    VolumeServiceState out;
    if (!s.ok()) {
      out.detail = absl::StrCat("not reachable at ", endpoint_, ": ", s.error_message());
      return out;
    }
    out.reachable = true;
    out.healthy = resp.healthy();
    out.backend = resp.backend();
    out.detail = resp.detail();
    out.volumes = resp.volumes();
    out.snapshots = resp.snapshots();
    out.exports = resp.exports();
    out.free_bytes = resp.free_bytes();
    return out;
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

absl::StatusOr<std::string> ProbeVolumeServiceZone(const GrpcVolumeServiceOptions& options) {
  const std::string& endpoint = options.endpoint;
  auto stub = vv1::VolumeService::NewStub(VolumeServiceChannel(options));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(options.deadline));
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
