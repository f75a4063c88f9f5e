#include "controller/lifecycle/volume_failure.h"

#include "absl/strings/str_cat.h"

namespace minicloud::controller::lifecycle {
namespace {

constexpr char kServerInternal[] = "Server.InternalError";
constexpr char kClientInternal[] = "Client.InternalError";
constexpr char kSnapshotNotFound[] = "Client.InvalidSnapshot.NotFound";
constexpr char kVolumeLimit[] = "Client.VolumeLimitExceeded";

VolumeFailure Final(const char* code) { return {VolumeFailureKind::kFinal, code}; }

}  // namespace

VolumeFailure ClassifyVolumeFailure(const VolumeAttempt& a) {
  switch (a.status.code()) {
    case absl::StatusCode::kOk:
      return {};
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kCancelled:
      if (a.retried_for > a.retry_budget) return Final(kServerInternal);
      return {VolumeFailureKind::kRetry, ""};
    case absl::StatusCode::kNotFound:
      return Final(a.from_snapshot ? kSnapshotNotFound : kServerInternal);
    case absl::StatusCode::kResourceExhausted:
      return Final(kVolumeLimit);
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kUnauthenticated:
      return Final(kClientInternal);
    default:
      return Final(kServerInternal);
  }
}

std::string LaunchVolumeReasonMessage(absl::string_view code, absl::string_view detail) {
  if (code.empty()) code = kServerInternal;
  absl::string_view text = "Internal error on launch";  // the project's Server.InternalError
  if (code == kSnapshotNotFound) {
    text = "The specified snapshot was not found";  // EC2 API reference, StateReason
  } else if (code == kVolumeLimit) {
    text = "Volume limit exceeded";  // EC2 User Guide, "Instance terminates immediately"
  } else if (code == kClientInternal) {
    text = "Client error on launch";  // as EC2 words it (describe-instances StateReason)
  }
  return absl::StrCat(code, ": ", text, detail.empty() ? "" : ": ", detail);
}

}  // namespace minicloud::controller::lifecycle
