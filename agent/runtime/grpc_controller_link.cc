#include <grpcpp/grpcpp.h>

#include <mutex>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "agent/runtime/controller_link.h"
#include "agent/runtime/controller_tls.h"
#include "common/grpc_status.h"
#include "common/status_macros.h"
#include "minicloud/v1/host.grpc.pb.h"

namespace minicloud::agent {
namespace {

constexpr auto kCallDeadline = std::chrono::seconds(10);

class GrpcControllerLink final : public ControllerLink {
 public:
  explicit GrpcControllerLink(const ControllerLinkOptions& options)
      : options_(options), endpoint_(options.endpoint) {}

  absl::StatusOr<v1::RegisterHostResponse> Register(const v1::RegisterHostRequest& req) override {
    MC_ASSIGN_OR_RETURN(v1::HostService::Stub * stub, Connect());
    v1::RegisterHostRequest named = req;
    if (named.host_id().empty()) named.set_host_id(host_id());
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + kCallDeadline);
    v1::RegisterHostResponse resp;
    MC_RETURN_IF_ERROR(Wrap(stub->RegisterHost(&ctx, named, &resp), "register"));
    return resp;
  }

  absl::Status Report(const v1::ReportStatusRequest& req) override {
    MC_ASSIGN_OR_RETURN(v1::HostService::Stub * stub, Connect());
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + kCallDeadline);
    v1::ReportStatusResponse resp;
    return Wrap(stub->ReportStatus(&ctx, req, &resp), "report status");
  }

  absl::StatusOr<v1::DesiredState> Watch(const v1::WatchDesiredRequest& req) override {
    MC_ASSIGN_OR_RETURN(v1::HostService::Stub * stub, Connect());
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + kCallDeadline +
                     std::chrono::milliseconds(req.max_wait_ms()));
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (watches_cancelled_) return absl::CancelledError("watch desired state: the agent stops");
      watches_.insert(&ctx);
    }
    v1::DesiredState resp;
    const grpc::Status s = stub->WatchDesired(&ctx, req, &resp);
    {
      std::lock_guard<std::mutex> lock(mu_);
      watches_.erase(&ctx);
    }
    MC_RETURN_IF_ERROR(Wrap(s, "watch desired state"));
    return resp;
  }

  void CancelWatches() override {
    std::lock_guard<std::mutex> lock(mu_);
    watches_cancelled_ = true;
    for (grpc::ClientContext* ctx : watches_) ctx->TryCancel();
  }

  absl::Status FetchBlob(const v1::FetchBlobRequest& req,
                         const std::function<absl::Status(absl::string_view)>& sink) override {
    MC_ASSIGN_OR_RETURN(v1::HostService::Stub * stub, Connect());
    grpc::ClientContext ctx;
    auto reader = stub->FetchBlob(&ctx, req);
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

  void GuestCloudFormation(v1::GuestCloudFormationRequest req,
                           GuestCloudFormationDone done) override {
    v1::HostService::Stub* stub = ConnectedStub();
    if (stub == nullptr) {
      done(absl::UnavailableError(absl::StrCat("not connected to controller ", endpoint_,
                                               " yet (the host has not registered)")));
      return;
    }
    // gRPC's callback API: nothing waits for the answer; the call's state lives until `finish`.
    struct Call {
      grpc::ClientContext ctx;
      v1::GuestCloudFormationRequest req;
      v1::GuestCloudFormationResponse resp;
    };
    auto call = std::make_shared<Call>();
    call->req = std::move(req);
    call->ctx.set_deadline(std::chrono::system_clock::now() + kCallDeadline);
    auto finish = [call, done = std::move(done), endpoint = endpoint_](grpc::Status s) {
      if (!s.ok()) {
        done(Annotate(FromGrpcStatus(s),
                      absl::StrCat("CloudFormation request of ", call->req.instance_id(),
                                   " via controller ", endpoint)));
        return;
      }
      done(std::move(call->resp));
    };
    stub->async()->GuestCloudFormation(&call->ctx, &call->req, &call->resp, std::move(finish));
  }

 private:
  // The stub when a call has connected already; null before (joining could block).
  v1::HostService::Stub* ConnectedStub() {
    std::lock_guard<std::mutex> lock(mu_);
    return stub_.get();
  }

  std::string host_id() {
    std::lock_guard<std::mutex> lock(mu_);
    return host_id_;
  }

  // The stub over mutual TLS, joining first when the agent has no certificate yet.
  absl::StatusOr<v1::HostService::Stub*> Connect() {
    std::lock_guard<std::mutex> lock(mu_);
    if (stub_) return stub_.get();
    MC_ASSIGN_OR_RETURN(HostCredentials creds,
                        LoadOrJoin(endpoint_, options_.state_dir, options_.join_token));
    host_id_ = creds.host_id;
    stub_ = v1::HostService::NewStub(ControllerChannel(endpoint_, creds));
    return stub_.get();
  }

  absl::Status Wrap(const grpc::Status& s, absl::string_view what) {
    if (s.ok()) return absl::OkStatus();
    return Annotate(FromGrpcStatus(s), absl::StrCat(what, " via controller ", endpoint_));
  }

  const ControllerLinkOptions options_;
  const std::string endpoint_;
  std::mutex mu_;
  std::string host_id_;
  std::unique_ptr<v1::HostService::Stub> stub_;
  // Watches in flight, cancelled by CancelWatches (which also refuses later ones).
  absl::flat_hash_set<grpc::ClientContext*> watches_;
  bool watches_cancelled_ = false;
};

}  // namespace

std::unique_ptr<ControllerLink> MakeGrpcControllerLink(const ControllerLinkOptions& options) {
  return std::make_unique<GrpcControllerLink>(options);
}

}  // namespace minicloud::agent
