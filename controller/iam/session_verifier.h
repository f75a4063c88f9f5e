#pragma once

// The verifier of the controller's APIs: account keys and instance-profile sessions, one door.
//
// A request without a security token (no X-Amz-Security-Token header, no X-Amz-Security-Token
// query parameter) goes to the account verifier unchanged. A request with one is checked by
// the same SigV4 verifier (controller/auth/sigv4_verifier.h) over the one key the token carries:
//   token not sealed by this controller, or altered           → AuthFailure
//   key id of the signature is not the token's                → AuthFailure
//   signature, scope, skew: exactly as for account keys       → the SigV4 verifier's codes
//   now ≥ the token's expiration                              → RequestExpired (EC2 answers
//                                                               expired session credentials so)
//   `still_valid` refuses (profile deleted, instance gone)    → AuthFailure
// and the caller carries the profile's allowed actions (auth::Caller::allowed_actions), which
// iam::Authorize() then applies.

#include <functional>
#include <memory>
#include <string>

#include "common/auth/signed_request.h"
#include "common/clock.h"
#include "controller/iam/session_credentials.h"

namespace minicloud::controller::iam {

// Whether the profile and instance a token names still stand; OK when they do. Null: always.
using SessionCheck = std::function<absl::Status(const v1::SessionTokenPayload&)>;

std::unique_ptr<minicloud::auth::RequestVerifier> MakeSessionAwareVerifier(
    const minicloud::auth::RequestVerifier& account_verifier, const SessionSealer& sealer,
    const Clock& clock, std::string region, SessionCheck still_valid = nullptr);

// The request's security token (header, or query parameter of the presigned form), "" if none.
std::string SecurityTokenOf(const minicloud::auth::SignedRequest& request);

}  // namespace minicloud::controller::iam
