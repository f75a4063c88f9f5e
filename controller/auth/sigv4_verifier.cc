#include "controller/auth/sigv4_verifier.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/auth/sigv4.h"
#include "common/ec2_error.h"

namespace minicloud::controller::auth {
namespace {

namespace sigv4 = minicloud::auth::sigv4;

absl::Status AuthError(absl::string_view ec2_code, absl::string_view message) {
  return Ec2Error(absl::StatusCode::kUnauthenticated, ec2_code, message);
}

// The parts of a signature, whichever form carried them.
struct Parsed {
  bool presigned = false;
  std::string credential;  // "AKID/date/region/service/aws4_request"
  std::string signed_headers;
  std::string signature;
  std::string amz_date;
  std::string expires;         // presigned only
  std::string security_token;  // header or query; empty when absent
};

std::vector<std::pair<std::string, std::string>> QueryParams(absl::string_view raw_query) {
  std::vector<std::pair<std::string, std::string>> out;
  if (raw_query.empty()) return out;
  for (absl::string_view part : absl::StrSplit(raw_query, '&')) {
    if (part.empty()) continue;
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(part, absl::MaxSplits('=', 1));
    out.emplace_back(sigv4::PercentDecode(kv.first), sigv4::PercentDecode(kv.second));
  }
  return out;
}

const std::string* FindParam(const std::vector<std::pair<std::string, std::string>>& params,
                             absl::string_view name) {
  for (const auto& [n, v] : params) {
    if (n == name) return &v;
  }
  return nullptr;
}

// Values of every header named `name` (case-insensitive), in arrival order.
std::vector<std::string> HeaderValues(const SignedRequest& request, absl::string_view name) {
  std::vector<std::string> out;
  for (const auto& [n, v] : request.headers) {
    if (absl::EqualsIgnoreCase(n, name)) out.push_back(v);
  }
  return out;
}

absl::StatusOr<Parsed> ParseAuthorizationHeader(absl::string_view value) {
  value = absl::StripAsciiWhitespace(value);
  if (!absl::StartsWith(value, sigv4::kAlgorithm) ||
      (value.size() > sigv4::kAlgorithm.size() &&
       !absl::ascii_isspace(static_cast<unsigned char>(value[sigv4::kAlgorithm.size()])))) {
    return AuthError("IncompleteSignature", absl::StrCat("Authorization header requires the ",
                                                         sigv4::kAlgorithm, " algorithm."));
  }
  Parsed parsed;
  absl::string_view rest = value.substr(sigv4::kAlgorithm.size());
  for (absl::string_view part : absl::StrSplit(rest, ',', absl::SkipWhitespace())) {
    part = absl::StripAsciiWhitespace(part);
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(part, absl::MaxSplits('=', 1));
    if (kv.first == "Credential") {
      parsed.credential = std::string(kv.second);
    } else if (kv.first == "SignedHeaders") {
      parsed.signed_headers = std::string(kv.second);
    } else if (kv.first == "Signature") {
      parsed.signature = std::string(kv.second);
    } else {
      return AuthError(
          "IncompleteSignature",
          absl::StrCat("Authorization header has an unknown part '", kv.first.substr(0, 64), "'."));
    }
  }
  std::vector<std::string> missing;
  if (parsed.credential.empty()) missing.push_back("'Credential'");
  if (parsed.signed_headers.empty()) missing.push_back("'SignedHeaders'");
  if (parsed.signature.empty()) missing.push_back("'Signature'");
  if (!missing.empty()) {
    return AuthError("IncompleteSignature",
                     absl::StrCat("Authorization header requires ", absl::StrJoin(missing, ", "),
                                  " parameter(s)."));
  }
  return parsed;
}

absl::StatusOr<Parsed> Parse(const SignedRequest& request) {
  const std::vector<std::string> authorization = HeaderValues(request, "authorization");
  const auto params = QueryParams(request.query);
  const bool query_form = FindParam(params, "X-Amz-Algorithm") != nullptr ||
                          FindParam(params, "X-Amz-Signature") != nullptr ||
                          FindParam(params, "X-Amz-Credential") != nullptr;
  if (authorization.empty() && !query_form) {
    return AuthError("MissingAuthenticationToken", "Request is missing Authentication Token");
  }
  if (!authorization.empty() && query_form) {
    return AuthError("IncompleteSignature",
                     "Only one authentication mechanism allowed: the Authorization header or "
                     "the X-Amz-* query parameters.");
  }
  if (authorization.size() > 1) {
    return AuthError("IncompleteSignature", "The request has more than one Authorization header.");
  }
  Parsed parsed;
  if (!authorization.empty()) {
    auto header = ParseAuthorizationHeader(authorization.front());
    if (!header.ok()) return header.status();
    parsed = *std::move(header);
    std::vector<std::string> dates = HeaderValues(request, "x-amz-date");
    if (dates.size() != 1) {
      return AuthError("IncompleteSignature",
                       "Authorization header requires exactly one 'X-Amz-Date' header.");
    }
    parsed.amz_date = dates.front();
    std::vector<std::string> tokens = HeaderValues(request, "x-amz-security-token");
    if (!tokens.empty()) parsed.security_token = tokens.front();
    return parsed;
  }
  parsed.presigned = true;
  std::vector<std::string> missing;
  auto take = [&](absl::string_view name, std::string& into) {
    const std::string* v = FindParam(params, name);
    if (v == nullptr || v->empty()) {
      missing.push_back(std::string(name));
    } else {
      into = *v;
    }
  };
  std::string algorithm;
  take("X-Amz-Algorithm", algorithm);
  take("X-Amz-Credential", parsed.credential);
  take("X-Amz-Date", parsed.amz_date);
  take("X-Amz-Expires", parsed.expires);
  take("X-Amz-SignedHeaders", parsed.signed_headers);
  take("X-Amz-Signature", parsed.signature);
  if (!missing.empty()) {
    return AuthError(
        "IncompleteSignature",
        absl::StrCat("AWS query-string parameters missing: ", absl::StrJoin(missing, ", "), "."));
  }
  if (algorithm != sigv4::kAlgorithm) {
    return AuthError("IncompleteSignature",
                     absl::StrCat("X-Amz-Algorithm only supports ", sigv4::kAlgorithm, "."));
  }
  if (const std::string* token = FindParam(params, "X-Amz-Security-Token")) {
    parsed.security_token = *token;
  }
  return parsed;
}

// "YYYYMMDDTHHMMSSZ" exactly (absl's %Y would take any number of digits).
bool ParseAmzDate(absl::string_view s, absl::Time* out) {
  if (s.size() != 16 || s[8] != 'T' || s[15] != 'Z') return false;
  auto num = [&](size_t pos, size_t len, int* v) {
    *v = 0;
    for (size_t i = pos; i < pos + len; ++i) {
      if (!absl::ascii_isdigit(static_cast<unsigned char>(s[i]))) return false;
      *v = *v * 10 + (s[i] - '0');
    }
    return true;
  };
  int y, mo, d, h, mi, se;
  if (!num(0, 4, &y) || !num(4, 2, &mo) || !num(6, 2, &d) || !num(9, 2, &h) || !num(11, 2, &mi) ||
      !num(13, 2, &se)) {
    return false;
  }
  const absl::CivilSecond civil(y, mo, d, h, mi, se);
  // CivilSecond normalizes (month 13 → next year): a date that moved was not a real one.
  if (civil.year() != y || civil.month() != mo || civil.day() != d || civil.hour() != h ||
      civil.minute() != mi || civil.second() != se) {
    return false;
  }
  *out = absl::FromCivil(civil, absl::UTCTimeZone());
  return true;
}

bool ConstantTimeEquals(absl::string_view a, absl::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

class SigV4Verifier final : public RequestVerifier {
 public:
  SigV4Verifier(const AccessKeyLookup& keys, const Clock& clock, std::string region)
      : keys_(keys), clock_(clock), region_(std::move(region)) {}

  absl::StatusOr<Caller> Verify(const SignedRequest& request,
                                absl::string_view service) const override {
    auto parsed_or = Parse(request);
    if (!parsed_or.ok()) return parsed_or.status();
    const Parsed& parsed = *parsed_or;

    absl::Time signed_at;
    if (!ParseAmzDate(parsed.amz_date, &signed_at)) {
      return AuthError("IncompleteSignature",
                       "X-Amz-Date must be in ISO-8601 basic format (YYYYMMDD'T'HHMMSS'Z').");
    }

    // Credential: <access key id>/<date>/<region>/<service>/aws4_request.
    std::vector<std::string> scope = absl::StrSplit(parsed.credential, '/');
    if (scope.size() != 5 || scope[0].empty()) {
      return AuthError("IncompleteSignature",
                       "Credential must have the form <key id>/<date>/<region>/<service>/"
                       "aws4_request.");
    }
    const std::string& key_id = scope[0];
    if (scope[3] != service) {
      return AuthError(
          "AuthFailure",
          absl::StrCat("Credential should be scoped to correct service: '", service, "'."));
    }
    if (scope[2] != region_) {
      return AuthError("AuthFailure",
                       absl::StrCat("Credential should be scoped to a valid region, not '",
                                    scope[2].substr(0, 64), "'."));
    }
    if (scope[4] != sigv4::kTerminator) {
      return AuthError("SignatureDoesNotMatch",
                       absl::StrCat("Credential should be scoped with a valid terminator: '",
                                    sigv4::kTerminator, "'."));
    }
    if (scope[1] != parsed.amz_date.substr(0, 8)) {
      return AuthError(
          "SignatureDoesNotMatch",
          absl::StrCat("Date in Credential scope does not match YYYYMMDD from "
                       "ISO-8601 version of date from HTTP: '",
                       scope[1].substr(0, 16), "' != '", parsed.amz_date.substr(0, 8), "'."));
    }

    absl::Duration expires;
    if (parsed.presigned) {
      int64_t seconds = 0;
      if (!absl::SimpleAtoi(parsed.expires, &seconds) || seconds < 1 ||
          absl::Seconds(seconds) > kMaxPresignedExpiry) {
        return AuthError("AuthFailure",
                         "X-Amz-Expires must be a number of seconds from 1 to 604800.");
      }
      expires = absl::Seconds(seconds);
    }

    auto secret = keys_.Lookup(key_id);
    if (!secret.ok()) {
      if (absl::IsNotFound(secret.status())) {
        return AuthError("AuthFailure",
                         "AWS was not able to validate the provided access "
                         "credentials.");
      }
      return secret.status();
    }
    if (secret->session_token.has_value() != !parsed.security_token.empty() ||
        (secret->session_token.has_value() &&
         !ConstantTimeEquals(*secret->session_token, parsed.security_token))) {
      return AuthError("AuthFailure",
                       "AWS was not able to validate the provided access credentials.");
    }

    const absl::Time now = clock_.Now();
    if (parsed.presigned) {
      if (signed_at - now > kMaxClockSkew || now > signed_at + expires) {
        return AuthError("RequestExpired",
                         absl::StrCat("Request has expired or is not yet valid (X-Amz-Date ",
                                      parsed.amz_date, ", X-Amz-Expires ", parsed.expires, ")."));
      }
    } else if (absl::AbsDuration(now - signed_at) > kMaxClockSkew) {
      return AuthError(
          "RequestExpired",
          absl::StrCat("Request has expired: X-Amz-Date ", parsed.amz_date,
                       " is more than 5 minutes from the server time ",
                       absl::FormatTime(sigv4::kAmzDateFormat, now, absl::UTCTimeZone()), "."));
    }

    std::vector<std::string> signed_names = absl::StrSplit(parsed.signed_headers, ';');
    for (const std::string& name : signed_names) {
      if (name.empty() || name != absl::AsciiStrToLower(name)) {
        return AuthError("IncompleteSignature",
                         "SignedHeaders must be lower-case header names separated by ';'.");
      }
    }
    if (!HeaderValues(request, "host").empty() &&
        std::find(signed_names.begin(), signed_names.end(), "host") == signed_names.end()) {
      return AuthError("IncompleteSignature", "The Host header must be signed.");
    }

    const std::string body_hash = sigv4::Sha256Hex(request.body);
    for (const std::string& declared : HeaderValues(request, "x-amz-content-sha256")) {
      if (!ConstantTimeEquals(absl::AsciiStrToLower(sigv4::TrimAll(declared)), body_hash)) {
        return AuthError("SignatureDoesNotMatch",
                         "The x-amz-content-sha256 header is not the SHA-256 of the body.");
      }
    }

    const std::string canonical = sigv4::CanonicalRequest(
        request.method, request.path,
        sigv4::CanonicalQueryString(request.query, parsed.presigned ? "X-Amz-Signature" : ""),
        sigv4::CanonicalHeaders(request.headers, signed_names), parsed.signed_headers, body_hash);
    const std::string expected = sigv4::Signature(
        sigv4::DeriveSigningKey(secret->secret_access_key, scope[1], region_, service),
        sigv4::StringToSign(parsed.amz_date, sigv4::CredentialScope(scope[1], region_, service),
                            canonical));
    if (!ConstantTimeEquals(expected, absl::AsciiStrToLower(parsed.signature))) {
      return AuthError("SignatureDoesNotMatch",
                       "The request signature we calculated does not match the signature you "
                       "provided. Check your AWS Secret Access Key and signing method.");
    }
    return Caller{key_id, secret->allowed_actions};
  }

 private:
  const AccessKeyLookup& keys_;
  const Clock& clock_;
  const std::string region_;
};

}  // namespace

std::unique_ptr<RequestVerifier> MakeSigV4Verifier(const AccessKeyLookup& keys, const Clock& clock,
                                                   std::string region) {
  return std::make_unique<SigV4Verifier>(keys, clock, std::move(region));
}

}  // namespace minicloud::controller::auth
