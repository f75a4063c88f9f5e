#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace minicloud {

// An EC2 error code ("InvalidAMIID.NotFound", ...) travels inside an absl::Status as a payload,
// next to the canonical code, until an edge (gRPC, HTTP, Query API) renders it.
inline constexpr absl::string_view kEc2CodePayloadUrl = "minicloud/ec2-error-code";

absl::Status Ec2Error(absl::StatusCode code, absl::string_view ec2_code, absl::string_view message);

// Shorthands for the errors EC2 returns most.
absl::Status InvalidParameterValue(absl::string_view message);
absl::Status MissingParameter(absl::string_view message);

// The EC2 code carried by `status`, or a default derived from its canonical code
// ("InternalError", "InvalidParameterValue", ...).
std::string Ec2CodeOf(const absl::Status& status);

// Canonical code expected for a given EC2 error code (used when decoding errors off the wire).
absl::StatusCode CanonicalCodeForEc2(absl::string_view ec2_code);

}  // namespace minicloud
