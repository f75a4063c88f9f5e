#include "common/crypto/join_token.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/crypto/openssl.h"

namespace minicloud::crypto {
namespace {

constexpr absl::string_view kPrefix = "mcjoin1";

bool IsHex64(absl::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<JoinToken> NewJoinToken(absl::string_view ca_sha256) {
  if (!IsHex64(ca_sha256)) return absl::InvalidArgumentError("CA hash is not SHA-256 hex");
  unsigned char secret[32];
  if (RAND_bytes(secret, sizeof(secret)) != 1) return OpenSslError("join token secret");
  return JoinToken{.secret = absl::BytesToHexString(
                       absl::string_view(reinterpret_cast<const char*>(secret), sizeof(secret))),
                   .ca_sha256 = std::string(ca_sha256)};
}

std::string FormatJoinToken(const JoinToken& token) {
  return absl::StrCat(kPrefix, ".", token.secret, ".", token.ca_sha256);
}

absl::StatusOr<JoinToken> ParseJoinToken(absl::string_view text) {
  text = absl::StripAsciiWhitespace(text);
  std::vector<absl::string_view> parts = absl::StrSplit(text, '.');
  if (parts.size() != 3 || parts[0] != kPrefix) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a join token (expected ", kPrefix, ".<secret>.<ca-sha256>)"));
  }
  if (!IsHex64(parts[1])) {
    return absl::InvalidArgumentError("join token secret is not 64 lowercase hex digits");
  }
  if (!IsHex64(parts[2])) {
    return absl::InvalidArgumentError("join token CA hash is not 64 lowercase hex digits");
  }
  return JoinToken{.secret = std::string(parts[1]), .ca_sha256 = std::string(parts[2])};
}

std::string JoinSecretHash(absl::string_view secret) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(secret.data(), secret.size(), md, &len, EVP_sha256(), nullptr);
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(md), len));
}

bool SameSecretHash(absl::string_view a, absl::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace minicloud::crypto
