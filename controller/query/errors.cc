#include "controller/query/errors.h"

#include "common/ec2_error.h"

namespace minicloud::query {

int HttpStatusFor(absl::string_view ec2_code, absl::StatusCode code) {
  // EC2's documented statuses for the codes that are not plain 400s (Amazon EC2 API Reference,
  // "Error codes": client errors are 4xx, server errors 5xx; DryRunOperation is 412).
  if (ec2_code == "DryRunOperation") return 412;
  if (ec2_code == "RequestExpired" || ec2_code == "IncompleteSignature") return 400;
  if (ec2_code == "AuthFailure" || ec2_code == "MissingAuthenticationToken") return 401;
  if (ec2_code == "SignatureDoesNotMatch" || ec2_code == "InvalidClientTokenId" ||
      ec2_code == "UnauthorizedOperation" || ec2_code == "OptInRequired") {
    return 403;
  }
  if (ec2_code == "InsufficientInstanceCapacity" || ec2_code == "InsufficientHostCapacity" ||
      ec2_code == "InternalError" || ec2_code == "InternalFailure") {
    return 500;
  }
  if (ec2_code == "Unavailable" || ec2_code == "RequestLimitExceeded" ||
      ec2_code == "ServiceUnavailable") {
    return 503;
  }
  switch (code) {
    case absl::StatusCode::kUnauthenticated:
      return 401;
    case absl::StatusCode::kPermissionDenied:
      return 403;
    case absl::StatusCode::kUnavailable:
      return 503;
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kUnknown:
    case absl::StatusCode::kDataLoss:
    case absl::StatusCode::kUnimplemented:
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kCancelled:
      return 500;
    default:
      return 400;
  }
}

WireError ToWireError(const absl::Status& status) {
  WireError e;
  e.code = Ec2CodeOf(status);
  if (e.code.empty()) e.code = "InternalError";
  e.http_status = HttpStatusFor(e.code, status.code());
  // A status with no EC2 code that maps to a server error is an internal failure: its message
  // may name files or internal state.
  const bool tagged = status.GetPayload(kEc2CodePayloadUrl).has_value();
  if (e.http_status >= 500 && (!tagged || e.code == "InternalError")) {
    e.code = e.http_status == 503 ? e.code : "InternalError";
    e.message = "An internal error has occurred";
  } else {
    e.message = std::string(status.message());
  }
  return e;
}

}  // namespace minicloud::query
