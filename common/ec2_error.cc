#include "common/ec2_error.h"

#include "absl/strings/cord.h"
#include "absl/strings/match.h"

namespace minicloud {

absl::Status Ec2Error(absl::StatusCode code, absl::string_view ec2_code,
                      absl::string_view message) {
  absl::Status s(code, message);
  s.SetPayload(kEc2CodePayloadUrl, absl::Cord(ec2_code));
  return s;
}

absl::Status InvalidParameterValue(absl::string_view message) {
  return Ec2Error(absl::StatusCode::kInvalidArgument, "InvalidParameterValue", message);
}

absl::Status MissingParameter(absl::string_view message) {
  return Ec2Error(absl::StatusCode::kInvalidArgument, "MissingParameter", message);
}

std::string Ec2CodeOf(const absl::Status& status) {
  if (auto p = status.GetPayload(kEc2CodePayloadUrl)) return std::string(*p);
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return "";
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      return "InvalidParameterValue";
    case absl::StatusCode::kNotFound:
      return "InvalidParameterValue";
    case absl::StatusCode::kFailedPrecondition:
      return "IncorrectState";
    case absl::StatusCode::kResourceExhausted:
      return "InsufficientInstanceCapacity";
    case absl::StatusCode::kUnavailable:
      return "Unavailable";
    case absl::StatusCode::kPermissionDenied:
      return "UnauthorizedOperation";
    case absl::StatusCode::kUnauthenticated:
      return "AuthFailure";
    case absl::StatusCode::kAlreadyExists:
      return "InvalidParameterValue";
    default:
      return "InternalError";
  }
}

absl::StatusCode CanonicalCodeForEc2(absl::string_view ec2_code) {
  if (absl::EndsWith(ec2_code, ".NotFound") || absl::EndsWith(ec2_code, ".Unknown") ||
      ec2_code == "NoSuchEntity")
    return absl::StatusCode::kNotFound;
  if (absl::StartsWith(ec2_code, "Insufficient")) return absl::StatusCode::kResourceExhausted;
  if (absl::StartsWith(ec2_code, "Incorrect") || ec2_code == "OperationNotPermitted")
    return absl::StatusCode::kFailedPrecondition;
  if (ec2_code == "AuthFailure" || ec2_code == "SignatureDoesNotMatch" ||
      ec2_code == "RequestExpired" || ec2_code == "IncompleteSignature" ||
      ec2_code == "MissingAuthenticationToken" || ec2_code == "InvalidClientTokenId") {
    return absl::StatusCode::kUnauthenticated;
  }
  if (ec2_code == "InternalError") return absl::StatusCode::kInternal;
  if (ec2_code == "Unavailable") return absl::StatusCode::kUnavailable;
  return absl::StatusCode::kInvalidArgument;
}

}  // namespace minicloud
