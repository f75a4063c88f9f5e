#pragma once

// The one mapping from an absl::Status (with its EC2 code, common/ec2_error.h) to what the Query
// API puts on the wire: EC2's error code, the HTTP status EC2 answers it with, and the message.

#include <string>

#include "absl/status/status.h"

namespace minicloud::query {

struct WireError {
  int http_status = 400;
  std::string code;
  std::string message;
};

// `status` must not be OK. Server-side failures (HTTP 5xx other than capacity and throttling)
// keep their detail out of the message: it goes to the log, the caller reads "An internal error
// has occurred".
WireError ToWireError(const absl::Status& status);

// The HTTP status EC2 answers `ec2_code` with, given the status's canonical code.
int HttpStatusFor(absl::string_view ec2_code, absl::StatusCode code);

}  // namespace minicloud::query
