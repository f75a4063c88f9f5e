// libFuzzer target for the SigV4 verifier (controller/auth/sigv4_verifier.*): any bytes as method,
// path, query, headers and body must yield an absl::Status (or a Caller), never a crash, and:
//  * every refusal carries one of the EC2 codes the RequestVerifier contract lists, and its
//    message never contains the secret key;
//  * with flag bit 0 the input is first signed (header form) by common/auth's signer with the
//    known key at the verifier's clock: when the request is signable (header names are tokens,
//    none of the auth headers or X-Amz-* query parameters is already there) it must verify as
//    that key, and the same request with one body byte changed must be SignatureDoesNotMatch;
//  * with flag bit 1 the signature is made 6 minutes in the past: RequestExpired.
// Bugs each property catches (one line each): the verifier canonicalising a header, path or query
// differently from the signer (a valid request refused); the body hash left out of the
// signature (a changed body accepted); the clock-skew comparison inverted or missing; an error
// message that echoes the secret.
//
// Input layout: byte 0 = flags; then method, path, query and the header block separated by NUL
// bytes (header block: "name:value" lines separated by '\n'); the body is everything after the
// fourth NUL.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/auth/sigv4.h"
#include "common/clock.h"
#include "common/ec2_error.h"
#include "controller/auth/access_key_lookup.h"
#include "controller/auth/sigv4_verifier.h"

namespace auth = minicloud::controller::auth;
namespace sigv4 = minicloud::auth::sigv4;

namespace {

constexpr char kKeyId[] = "AKIAFUZZFUZZFUZZFUZZ";
constexpr char kSecret[] = "fuzzSecretKeyfuzzSecretKeyfuzzSecretKey0";
constexpr char kRegion[] = "home-1";

void Require(bool ok) {
  if (!ok) std::abort();
}

struct World {
  minicloud::FakeClock clock{absl::FromUnixSeconds(1'764'800'000)};
  auth::InMemoryAccessKeys keys;
  std::unique_ptr<minicloud::auth::RequestVerifier> verifier;
  World() {
    keys.Put(kKeyId, auth::AccessKeySecret{kSecret, std::nullopt, std::nullopt});
    keys.Put("AKIATEMPORARYFUZZKEY",
             auth::AccessKeySecret{kSecret, std::vector<std::string>{"DescribeInstances"},
                                   std::string("session-token")});
    verifier = auth::MakeSigV4Verifier(keys, clock, kRegion);
  }
};

World& TheWorld() {
  static World* w = new World;
  return *w;
}

bool IsToken(absl::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-') return false;
  }
  return true;
}

// Whether the signer's output for `r` must verify: what the verifier refuses on purpose is absent.
bool Signable(const minicloud::auth::SignedRequest& r) {
  for (const auto& [name, value] : r.headers) {
    if (!IsToken(name)) return false;
    if (absl::EqualsIgnoreCase(name, "x-amz-content-sha256") ||
        absl::EqualsIgnoreCase(name, "x-amz-security-token")) {
      return false;
    }
  }
  const std::string decoded = sigv4::PercentDecode(r.query);
  return !absl::StrContains(decoded, "X-Amz-");
}

void CheckRefusal(const absl::Status& status) {
  static const std::set<std::string> kCodes = {
      "MissingAuthenticationToken", "IncompleteSignature", "AuthFailure",
      "SignatureDoesNotMatch",      "RequestExpired",      "InvalidClientTokenId"};
  Require(!status.ok());
  Require(kCodes.count(minicloud::Ec2CodeOf(status)) == 1);
  Require(!absl::StrContains(status.message(), kSecret));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  World& w = TheWorld();
  const uint8_t flags = data[0];
  const absl::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::vector<absl::string_view> parts = absl::StrSplit(rest, absl::MaxSplits('\0', 4));
  while (parts.size() < 5) parts.emplace_back();

  minicloud::auth::SignedRequest request;
  request.method = std::string(parts[0]);
  request.path = std::string(parts[1]);
  request.query = std::string(parts[2]);
  for (absl::string_view line : absl::StrSplit(parts[3], '\n', absl::SkipEmpty())) {
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(line, absl::MaxSplits(':', 1));
    request.headers.emplace_back(std::string(kv.first), std::string(kv.second));
  }
  request.body = std::string(parts[4]);

  const bool sign = flags & 1;
  const bool stale = flags & 2;
  const bool signable = sign && Signable(request);
  if (sign) {
    const absl::Time at = w.clock.Now() - (stale ? absl::Minutes(6) : absl::ZeroDuration());
    sigv4::SignRequest(request, {kKeyId, kSecret}, kRegion, "ec2", at);
  }

  auto caller = w.verifier->Verify(request, "ec2");
  if (!caller.ok()) CheckRefusal(caller.status());
  if (!signable) return 0;

  if (stale) {
    Require(!caller.ok() && minicloud::Ec2CodeOf(caller.status()) == "RequestExpired");
    return 0;
  }
  Require(caller.ok());
  Require(caller->access_key_id == kKeyId);
  Require(!caller->allowed_actions.has_value());

  // The same request for another service is refused before any signature is computed.
  auto other = w.verifier->Verify(request, "s3");
  Require(!other.ok() && minicloud::Ec2CodeOf(other.status()) == "AuthFailure");

  minicloud::auth::SignedRequest changed = request;
  if (changed.body.empty()) {
    changed.body = "x";
  } else {
    changed.body[changed.body.size() / 2] ^= 0x01;
  }
  auto refused = w.verifier->Verify(changed, "ec2");
  Require(!refused.ok() && minicloud::Ec2CodeOf(refused.status()) == "SignatureDoesNotMatch");
  return 0;
}
