#pragma once

// AWS Signature Version 4, the pieces both sides need: the canonical request exactly as AWS
// specifies it (docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html), the signing
// key derivation, and a signer for the header form. Pure: no clock, no I/O (the caller passes the
// time). The controller's verifier (controller/auth/) and the CLI's signer both build on these,
// so the two sides cannot canonicalise differently.

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/auth/signed_request.h"

namespace minicloud::auth::sigv4 {

inline constexpr absl::string_view kAlgorithm = "AWS4-HMAC-SHA256";
inline constexpr absl::string_view kTerminator = "aws4_request";
// X-Amz-Date's format ("20150830T123600Z").
inline constexpr absl::string_view kAmzDateFormat = "%Y%m%dT%H%M%SZ";

// AWS's UriEncode: every byte except A-Z a-z 0-9 '-' '_' '.' '~' (and '/' when keep_slash) as
// %XY with upper-case hex.
std::string UriEncode(absl::string_view s, bool keep_slash);
// %XY sequences decoded; a '%' not followed by two hex digits and '+' are kept as they are.
std::string PercentDecode(absl::string_view s);

// The canonical URI of a raw (as sent, already percent-encoded once) path for every service but
// S3: dot segments and empty segments removed, "" → "/", then UriEncode with '/' kept, so the
// path ends up encoded twice as AWS specifies.
std::string CanonicalUri(absl::string_view raw_path);

// The canonical query string of a raw query: each name and value decoded then UriEncoded, pairs
// sorted by name then value, "name=value" joined with '&'; a parameter without '=' has an empty
// value. Parameters named `drop` (case-sensitive; e.g. "X-Amz-Signature") are left out.
std::string CanonicalQueryString(absl::string_view raw_query, absl::string_view drop = "");

// Leading and trailing whitespace removed, inner runs of whitespace collapsed to one space.
std::string TrimAll(absl::string_view value);

// The CanonicalHeaders block for `signed_names` (lower-case, in the order given): one
// "name:value\n" per name, the values of a header sent several times trimmed and joined with ','.
// A name not present in `headers` (compared case-insensitively) gets an empty value.
std::string CanonicalHeaders(const std::vector<std::pair<std::string, std::string>>& headers,
                             const std::vector<std::string>& signed_names);

std::string CanonicalRequest(absl::string_view method, absl::string_view raw_path,
                             absl::string_view canonical_query, absl::string_view canonical_headers,
                             absl::string_view signed_headers, absl::string_view payload_hash);

// "<date>/<region>/<service>/aws4_request".
std::string CredentialScope(absl::string_view date8, absl::string_view region,
                            absl::string_view service);
std::string StringToSign(absl::string_view amz_date, absl::string_view scope,
                         absl::string_view canonical_request);

std::string Sha256Hex(absl::string_view data);
std::string HmacSha256(absl::string_view key, absl::string_view data);  // raw 32 bytes
std::string Hex(absl::string_view bytes);                               // lower-case
std::string DeriveSigningKey(absl::string_view secret, absl::string_view date8,
                             absl::string_view region, absl::string_view service);
// Lower-case hex HMAC-SHA256(signing_key, string_to_sign).
std::string Signature(absl::string_view signing_key, absl::string_view string_to_sign);

// Signs `request` in the header form at `now`: adds an "x-amz-date" header and then an
// "authorization" header over every header present (names lower-cased, sorted) and the SHA-256
// of the body. An existing authorization / x-amz-date header is replaced.
struct SigningCredentials {
  std::string access_key_id;
  std::string secret_access_key;
};
void SignRequest(SignedRequest& request, const SigningCredentials& credentials,
                 absl::string_view region, absl::string_view service, absl::Time now);

}  // namespace minicloud::auth::sigv4
