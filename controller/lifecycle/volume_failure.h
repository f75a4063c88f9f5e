#pragma once

// What a failed attempt to make an EBS volume means, in one place: retried (the volume stays
// `creating` and the reconcile loop asks again) or final (the volume is `error`, and an instance
// launch waiting for it ends at once with EC2's StateReason). Pure: no I/O, no clock; the caller
// says how long the volume has been retried. The export of a made volume to an instance's host
// follows the same rule (VolumeService::FinishExport): retried, or final, which ends a boot
// that waits for it with the same StateReason codes.
//
// The volume service's contract (controller/volumes/volume_fleet.h): Unavailable means "not
// reached, nothing known to have happened"; every other error is the service's final answer.
// DeadlineExceeded, Aborted and Cancelled (a call cut short, a daemon restarting, a copy across
// zones that ran past its deadline) are retried like Unavailable. A retried failure becomes final
// once the volume has been retried for longer than the retry budget (a zone's volume service gone
// for good), so a launch does not wait for the generic launch timeout.
//
// The StateReason codes are EC2's (EC2 API reference, "StateReason"; the EC2 User Guide's
// troubleshooting page "Instance terminates immediately" lists the EBS causes: the volume limit,
// a snapshot that is missing or corrupt, an encrypted volume whose key cannot be used):
//   Client.InvalidSnapshot.NotFound  the snapshot the volume is made from is not found
//   Client.VolumeLimitExceeded       the service has no room (ResourceExhausted), or the zone has
//                                    no volume service at all
//   Client.InternalError             the request for the volume was refused as invalid
//                                    (InvalidArgument, PermissionDenied, Unauthenticated)
//   Server.InternalError             anything else, and a retry budget spent

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace minicloud::controller::lifecycle {

// How long a volume may be retried before its failure is final. Shorter than the launch timeout
// (ControllerConfig), so that a launch ends with the volume's reason, not the timeout's.
inline constexpr absl::Duration kDefaultVolumeRetryBudget = absl::Minutes(5);

enum class VolumeFailureKind { kNone, kRetry, kFinal };

struct VolumeFailure {
  VolumeFailureKind kind = VolumeFailureKind::kNone;
  std::string reason_code;  // kFinal: EC2's StateReason code for a launch that needed the volume
};

struct VolumeAttempt {
  absl::Status status;         // what making the volume answered
  bool from_snapshot = false;  // the volume is a clone or a copy of a snapshot
  // How long the volume has been retried before this attempt (0: the first failure).
  absl::Duration retried_for = absl::ZeroDuration();
  absl::Duration retry_budget = kDefaultVolumeRetryBudget;
};

// THE rule: kNone for OK, else kRetry or kFinal with the reason code.
VolumeFailure ClassifyVolumeFailure(const VolumeAttempt& attempt);

// EC2's StateReason message of a launch ended by a volume: "<code>: <EC2's text>: <detail>"
// (e.g. "Client.InvalidSnapshot.NotFound: The specified snapshot was not found: ..."). An empty
// code reads as Server.InternalError.
std::string LaunchVolumeReasonMessage(absl::string_view code, absl::string_view detail);

}  // namespace minicloud::controller::lifecycle
