#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "minicloud/v1/host.pb.h"

namespace minicloud::agent {

// The agent's calls to the controller. Implementation: gRPC (MakeGrpcControllerLink); the
// integration tests wire the controller's service in directly.
//
// Contract:
// - Register, Report and Watch are bounded in time (Watch by the long-poll the request asks
//   for, plus a margin); an unreachable controller is Unavailable or DeadlineExceeded.
//   FetchBlob has no overall deadline (an AMI may take long): it ends with the stream, or when
//   the sink returns an error (the call is cancelled and that error returned).
// - Errors carry the controller's address; the controller's own status codes come back
//   unchanged.
// - Register with the host id of an earlier registration keeps that id, and a report replaces
//   the previous one, so the agent simply retries them. Watch only reads.
// - Nothing here retries or caches: the agent's loops decide.
// - CancelWatches ends a Watch in flight at once (Cancelled) and every later Watch too: the
//   agent's stop does not wait out a long-poll.
// - Thread-safe.
class ControllerLink {
 public:
  virtual ~ControllerLink() = default;
  // Registers (or re-registers) this host; the response carries its host id.
  virtual absl::StatusOr<v1::RegisterHostResponse> Register(const v1::RegisterHostRequest& req) = 0;
  // Observed state of the host's instances.
  virtual absl::Status Report(const v1::ReportStatusRequest& req) = 0;
  // Long-poll: returns the host's desired state once its generation differs from
  // req.known_generation(), or after req.max_wait_ms() (then unchanged).
  virtual absl::StatusOr<v1::DesiredState> Watch(const v1::WatchDesiredRequest& req) = 0;
  // Cancels the Watch in flight and refuses later ones (Cancelled). Idempotent. Links whose
  // Watch does not block need not do anything.
  virtual void CancelWatches() {}
  // Streams the blob req.sha256() from req.offset() (req.host_id() names this host); `sink`
  // receives each chunk in order and may abort by returning an error.
  virtual absl::Status FetchBlob(const v1::FetchBlobRequest& req,
                                 const std::function<absl::Status(absl::string_view)>& sink) = 0;
  using GuestCloudFormationDone =
      std::function<void(absl::StatusOr<v1::GuestCloudFormationResponse>)>;
  // A guest's CloudFormation request, without blocking the caller: `done` runs exactly once, on
  // a thread of the link (or inside this call when the call cannot be started), within the
  // bound of Report. The metadata server calls this from its io thread.
  virtual void GuestCloudFormation(v1::GuestCloudFormationRequest req,
                                   GuestCloudFormationDone done) {
    done(absl::UnimplementedError(
        absl::StrCat("CloudFormation request of ", req.instance_id(), ": not on this link")));
  }
  // Fresh short-lived credentials of an instance's profile (bounded like Report).
  virtual absl::StatusOr<v1::InstanceCredentials> GetInstanceCredentials(
      const v1::GetInstanceCredentialsRequest& req) {
    return absl::UnimplementedError(
        absl::StrCat("instance credentials of ", req.instance_id(), ": not on this link"));
  }
};

struct ControllerLinkOptions {
  std::string endpoint;    // the controller's agent listener, host:port
  std::string state_dir;   // where the agent's key and certificate live (controller_tls.h)
  std::string join_token;  // used only while the agent has no certificate yet
};

// gRPC over mutual TLS. The first call joins the controller when the state directory holds no
// certificate yet (with options.join_token and the host id in <state_dir>/host-id, if any); a
// failed join is returned by that call and tried again by the next. Register fills in the host
// id the certificate names when the request has none.
std::unique_ptr<ControllerLink> MakeGrpcControllerLink(const ControllerLinkOptions& options);

}  // namespace minicloud::agent
