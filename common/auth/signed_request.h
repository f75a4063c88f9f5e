#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace minicloud::auth {

// One request as AWS Signature Version 4 sees it: everything a signature may cover, exactly as
// it arrived (nothing decoded, headers in arrival order). The Query API builds it from an HTTP
// request; the gRPC edge builds it from the method path, metadata and serialized message.
struct SignedRequest {
  std::string method;  // "GET", "POST"
  std::string path;    // raw path, e.g. "/"
  std::string query;   // raw query string without the '?'
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

// Who signed a request that verified.
struct Caller {
  std::string access_key_id;
  // Actions the caller may call; nullopt means every action (an account key). Instance-profile
  // credentials carry their profile's list.
  std::optional<std::vector<std::string>> allowed_actions;
};

// Checks a request's signature. Contract:
//  * OK only when the request carries a signature (Authorization header or presigned query) by a
//    known, active key over exactly these bytes, for `service` and the verifier's region, with a
//    timestamp inside the allowed skew (presigned: not expired).
//  * Otherwise an absl::Status made with Ec2Error() whose EC2 code is one of
//    MissingAuthenticationToken, IncompleteSignature, AuthFailure, SignatureDoesNotMatch,
//    RequestExpired, InvalidClientTokenId; the message never contains the secret or the
//    expected signature.
//  * Thread-safe; never blocks on the network.
class RequestVerifier {
 public:
  virtual ~RequestVerifier() = default;
  virtual absl::StatusOr<Caller> Verify(const SignedRequest& request,
                                        absl::string_view service) const = 0;
};

}  // namespace minicloud::auth
