#include "common/grpc_status.h"

#include "common/ec2_error.h"

namespace minicloud {

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()),
                      Ec2CodeOf(status));
}

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  auto code = static_cast<absl::StatusCode>(status.error_code());
  if (!status.error_details().empty()) {
    return Ec2Error(code, status.error_details(), status.error_message());
  }
  return absl::Status(code, status.error_message());
}

}  // namespace minicloud
