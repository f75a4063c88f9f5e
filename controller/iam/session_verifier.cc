#include "controller/iam/session_verifier.h"

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "common/auth/sigv4.h"
#include "common/ec2_error.h"
#include "controller/auth/sigv4_verifier.h"

namespace minicloud::controller::iam {
namespace {

using minicloud::auth::Caller;
using minicloud::auth::SignedRequest;

absl::Status AuthFailure() {
  return Ec2Error(absl::StatusCode::kUnauthenticated, "AuthFailure",
                  "AWS was not able to validate the provided access credentials.");
}

class SessionAwareVerifier final : public minicloud::auth::RequestVerifier {
 public:
  SessionAwareVerifier(const RequestVerifier& account, const SessionSealer& sealer,
                       const Clock& clock, std::string region, SessionCheck still_valid)
      : account_(account),
        sealer_(sealer),
        clock_(clock),
        region_(std::move(region)),
        still_valid_(std::move(still_valid)) {}

  absl::StatusOr<Caller> Verify(const SignedRequest& request,
                                absl::string_view service) const override {
    const std::string token = SecurityTokenOf(request);
    if (token.empty()) return account_.Verify(request, service);
    auto payload = sealer_.Open(token);
    if (!payload.ok()) return AuthFailure();
    // The one key of this session, checked by the same SigV4 verifier as every account key.
    auth::InMemoryAccessKeys one;
    auth::AccessKeySecret secret;
    secret.secret_access_key = payload->secret_access_key();
    secret.allowed_actions = std::vector<std::string>(payload->allowed_actions().begin(),
                                                      payload->allowed_actions().end());
    secret.session_token = token;
    one.Put(payload->access_key_id(), std::move(secret));
    auto caller = auth::MakeSigV4Verifier(one, clock_, region_)->Verify(request, service);
    if (!caller.ok()) return caller.status();
    if (clock_.Now() >= absl::FromUnixMillis(payload->expiration_ms())) {
      return Ec2Error(absl::StatusCode::kUnauthenticated, "RequestExpired",
                      "Request has expired: the security token included in the request expired "
                      "(instance credentials are refreshed at IMDS before they expire).");
    }
    if (still_valid_) {
      if (absl::Status s = still_valid_(*payload); !s.ok()) return AuthFailure();
    }
    return caller;
  }

 private:
  const RequestVerifier& account_;
  const SessionSealer& sealer_;
  const Clock& clock_;
  const std::string region_;
  const SessionCheck still_valid_;
};

}  // namespace

std::string SecurityTokenOf(const SignedRequest& request) {
  for (const auto& [name, value] : request.headers) {
    if (absl::EqualsIgnoreCase(name, "x-amz-security-token")) return value;
  }
  for (absl::string_view part : absl::StrSplit(request.query, '&', absl::SkipEmpty())) {
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(part, absl::MaxSplits('=', 1));
    if (kv.first == "X-Amz-Security-Token") {
      return minicloud::auth::sigv4::PercentDecode(kv.second);
    }
  }
  return "";
}

std::unique_ptr<minicloud::auth::RequestVerifier> MakeSessionAwareVerifier(
    const minicloud::auth::RequestVerifier& account_verifier, const SessionSealer& sealer,
    const Clock& clock, std::string region, SessionCheck still_valid) {
  return std::make_unique<SessionAwareVerifier>(account_verifier, sealer, clock, std::move(region),
                                                std::move(still_valid));
}

}  // namespace minicloud::controller::iam
