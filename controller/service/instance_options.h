#pragma once

// EC2 instance options that are fixed in minicloud: what every instance is, in one place. The
// Query API accepts a request that asks for exactly this (SDKs and Terraform send the defaults
// explicitly) and answers these values when asked; anything else is refused, never ignored.
//
//   CPU credits              "unlimited": a guest's vCPUs are never throttled, which is EC2's
//                            unlimited burstable mode; "standard" (credit-limited) is not offered.
//   shutdown behaviour       "stop": a guest that powers itself off becomes `stopped`; "terminate"
//                            is not implemented.
//   termination/stop guard   none: DisableApiTermination and DisableApiStop are false.
//   EBS optimisation         false: no EBS (the root disk is a local overlay).
//   detailed monitoring      disabled (no CloudWatch).

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/ec2_error.h"

namespace minicloud::controller {

inline constexpr char kCpuCredits[] = "unlimited";
inline constexpr char kShutdownBehavior[] = "stop";
inline constexpr bool kDisableApiTermination = false;
inline constexpr bool kDisableApiStop = false;
inline constexpr bool kEbsOptimized = false;
inline constexpr bool kMonitoringEnabled = false;

// OK when `value` is minicloud's fixed value of option `name` (a parameter name, for the
// message); otherwise EC2's UnsupportedOperation naming what minicloud does instead.
inline absl::Status CheckFixedOption(absl::string_view name, absl::string_view value,
                                     absl::string_view fixed) {
  if (value == fixed) return absl::OkStatus();
  return Ec2Error(absl::StatusCode::kInvalidArgument, "UnsupportedOperation",
                  absl::StrCat("minicloud does not support ", name, "=", value.substr(0, 64),
                               ": every instance has ", name, "=", fixed));
}
inline absl::Status CheckFixedFlag(absl::string_view name, bool value, bool fixed) {
  return CheckFixedOption(name, absl::string_view(value ? "true" : "false"),
                          absl::string_view(fixed ? "true" : "false"));
}

}  // namespace minicloud::controller
