#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "agent/runtime/controller_link.h"
#include "common/grpc_status.h"
#include "common/status_macros.h"
#include "minicloud/v1/host.grpc.pb.h"

namespace minicloud::agent {
namespace {

constexpr auto kCallDeadline = std::chrono::seconds(10);

class GrpcControllerLink final : public ControllerLink {
 public:
  explicit GrpcControllerLink(const std::string& endpoint)
      : endpoint_(endpoint),
        stub_(v1::HostService::NewStub(
            grpc::CreateChannel(endpoint, grpc::InsecureChannelCredentials()))) {}

  absl::StatusOr<v1::RegisterHostResponse> Register(const v1::RegisterHostRequest& req) override {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + kCallDeadline);
    v1::RegisterHostResponse resp;
    MC_RETURN_IF_ERROR(Wrap(stub_->RegisterHost(&ctx, req, &resp), "register"));
    return resp;
  }

  absl::Status Report(const v1::ReportStatusRequest& req) override {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + kCallDeadline);
    v1::ReportStatusResponse resp;
    return Wrap(stub_->ReportStatus(&ctx, req, &resp), "report status");
  }

  absl::StatusOr<v1::DesiredState> Watch(const v1::WatchDesiredRequest& req) override {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + kCallDeadline +
                     std::chrono::milliseconds(req.max_wait_ms()));
    v1::DesiredState resp;
    MC_RETURN_IF_ERROR(Wrap(stub_->WatchDesired(&ctx, req, &resp), "watch desired state"));
    return resp;
  }

  absl::Status FetchBlob(const v1::FetchBlobRequest& req,
                         const std::function<absl::Status(absl::string_view)>& sink) override {
    grpc::ClientContext ctx;
    auto reader = stub_->FetchBlob(&ctx, req);
    v1::BlobChunk chunk;
    while (reader->Read(&chunk)) {
      if (auto s = sink(chunk.data()); !s.ok()) {
        ctx.TryCancel();
        reader->Finish();
        return s;
      }
    }
    return Wrap(reader->Finish(), absl::StrCat("fetch blob ", req.sha256()));
  }

  absl::StatusOr<v1::InstanceCredentials> GetInstanceCredentials(
      const v1::GetInstanceCredentialsRequest& req) override {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + kCallDeadline);
    v1::InstanceCredentials resp;
    MC_RETURN_IF_ERROR(Wrap(stub_->GetInstanceCredentials(&ctx, req, &resp),
                            absl::StrCat("instance credentials of ", req.instance_id())));
    return resp;
  }

 private:
  absl::Status Wrap(const grpc::Status& s, absl::string_view what) {
    if (s.ok()) return absl::OkStatus();
    return Annotate(FromGrpcStatus(s), absl::StrCat(what, " via controller ", endpoint_));
  }

  std::string endpoint_;
  std::unique_ptr<v1::HostService::Stub> stub_;
};

}  // namespace

std::unique_ptr<ControllerLink> MakeGrpcControllerLink(const std::string& endpoint) {
  return std::make_unique<GrpcControllerLink>(endpoint);
}

}  // namespace minicloud::agent
