#pragma once

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace minicloud {

// Converts between absl::Status (inside the daemons) and grpc::Status (on the wire). The EC2
// error code rides in the grpc error details string so clients can show it.
grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace minicloud
