#pragma once

#include <memory>
#include <string>

#include "absl/time/time.h"
#include "common/auth/signed_request.h"
#include "common/clock.h"
#include "controller/auth/access_key_lookup.h"

namespace minicloud::controller::auth {

using minicloud::auth::Caller;
using minicloud::auth::RequestVerifier;
using minicloud::auth::SignedRequest;

// The largest difference between a request's X-Amz-Date and the controller's clock, as EC2.
inline constexpr absl::Duration kMaxClockSkew = absl::Minutes(5);
// The longest X-Amz-Expires of a presigned request (seven days, as AWS).
inline constexpr absl::Duration kMaxPresignedExpiry = absl::Hours(24 * 7);

// AWS Signature Version 4 (AWS4-HMAC-SHA256) verification of the header form (Authorization,
// X-Amz-Date) and of the presigned query form (X-Amz-Algorithm, X-Amz-Credential, X-Amz-Date,
// X-Amz-Expires, X-Amz-SignedHeaders, X-Amz-Signature), keeping auth::RequestVerifier's
// contract. The credential scope must name `region` and the service passed to Verify. Errors
// (all kUnauthenticated, EC2 code as payload), checked in this order:
//   no signature at all                               → MissingAuthenticationToken
//   malformed header / missing parts / both forms     → IncompleteSignature
//   X-Amz-Date missing or not ISO-8601 basic          → IncompleteSignature
//   scope: wrong service or region                    → AuthFailure
//   scope: wrong terminator or date ≠ X-Amz-Date's    → SignatureDoesNotMatch
//   presigned X-Amz-Expires not in 1..604800          → AuthFailure
//   unknown (or deleted) access key, wrong token      → AuthFailure
//   |now - X-Amz-Date| > 5 min, presigned expired     → RequestExpired
//   signature (compared in constant time) differs, or
//   x-amz-content-sha256 is not the body's hash       → SignatureDoesNotMatch
// The body is always covered by its SHA-256 (EC2 has no unsigned payloads). A request with a
// Host header must sign it.
std::unique_ptr<RequestVerifier> MakeSigV4Verifier(const AccessKeyLookup& keys, const Clock& clock,
                                                   std::string region);

}  // namespace minicloud::controller::auth
