#include "agent/metadata/token_authority.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <cstdint>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace minicloud::metadata {
namespace {

constexpr uint8_t kVersion = 0x01;
constexpr size_t kMacBytes = 32;
constexpr size_t kHeaderBytes = 1 + 8 + 1;
// base64url of header + 255-byte id + MAC is 399 characters; anything longer is not ours.
constexpr size_t kMaxTokenChars = 400;

}  // namespace

absl::string_view TokenCheckName(TokenCheck c) {
  switch (c) {
    case TokenCheck::kOk:
      return "ok";
    case TokenCheck::kExpired:
      return "expired";
    case TokenCheck::kInvalid:
      return "invalid";
    case TokenCheck::kWrongInstance:
      return "wrong-instance";
  }
  return "unknown";
}

absl::StatusOr<TokenAuthority> TokenAuthority::WithKey(std::string key) {
  if (key.size() < kKeyBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("token key must be at least ", kKeyBytes, " bytes, got ", key.size()));
  }
  return TokenAuthority(std::move(key));
}

absl::StatusOr<TokenAuthority> TokenAuthority::WithRandomKey() {
  std::string key(kKeyBytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(key.data()), static_cast<int>(key.size())) != 1) {
    return absl::InternalError("token key: RAND_bytes failed");
  }
  return TokenAuthority(std::move(key));
}

std::string TokenAuthority::Mac(absl::string_view data) const {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int out_len = 0;
  if (HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(), out,
           &out_len) == nullptr ||
      out_len != kMacBytes) {
    return std::string();  // never matches a real MAC
  }
  return std::string(reinterpret_cast<const char*>(out), out_len);
}

absl::StatusOr<std::string> TokenAuthority::Issue(absl::string_view instance_id, absl::Duration ttl,
                                                  absl::Time now) const {
  if (ttl < absl::Seconds(kMinTtlSeconds) || ttl > absl::Seconds(kMaxTtlSeconds)) {
    return absl::InvalidArgumentError(
        absl::StrCat("token ttl ", absl::FormatDuration(ttl), " outside 1..21600 s"));
  }
  if (instance_id.empty() || instance_id.size() > 255) {
    return absl::InvalidArgumentError("token: instance id must be 1..255 bytes");
  }
  const int64_t expiry_ms = absl::ToUnixMillis(now + ttl);
  std::string raw;
  raw.reserve(kHeaderBytes + instance_id.size() + kMacBytes);
  raw.push_back(static_cast<char>(kVersion));
  for (int shift = 56; shift >= 0; shift -= 8) {
    raw.push_back(static_cast<char>((static_cast<uint64_t>(expiry_ms) >> shift) & 0xff));
  }
  raw.push_back(static_cast<char>(instance_id.size()));
  raw.append(instance_id.data(), instance_id.size());
  std::string mac = Mac(raw);
  if (mac.size() != kMacBytes) return absl::InternalError("token: HMAC-SHA256 failed");
  raw += mac;
  return absl::WebSafeBase64Escape(raw);
}

TokenCheck TokenAuthority::Validate(absl::string_view token, absl::string_view instance_id,
                                    absl::Time now) const {
  if (token.empty() || token.size() > kMaxTokenChars) return TokenCheck::kInvalid;
  std::string raw;
  if (!absl::WebSafeBase64Unescape(token, &raw)) return TokenCheck::kInvalid;
  // Re-encoding must give the same text: rejects padding, stray characters and non-canonical
  // trailing bits, so one token has exactly one spelling.
  if (absl::WebSafeBase64Escape(raw) != token) return TokenCheck::kInvalid;
  if (raw.size() < kHeaderBytes + 1 + kMacBytes) return TokenCheck::kInvalid;
  if (static_cast<uint8_t>(raw[0]) != kVersion) return TokenCheck::kInvalid;
  const size_t id_len = static_cast<uint8_t>(raw[9]);
  if (raw.size() != kHeaderBytes + id_len + kMacBytes) return TokenCheck::kInvalid;

  const absl::string_view signed_part(raw.data(), kHeaderBytes + id_len);
  const std::string expected = Mac(signed_part);
  if (expected.size() != kMacBytes ||
      CRYPTO_memcmp(expected.data(), raw.data() + signed_part.size(), kMacBytes) != 0) {
    return TokenCheck::kInvalid;
  }
  const absl::string_view bound_id(raw.data() + kHeaderBytes, id_len);
  if (bound_id != instance_id) return TokenCheck::kWrongInstance;

  uint64_t expiry = 0;
  for (int i = 1; i <= 8; ++i) expiry = (expiry << 8) | static_cast<uint8_t>(raw[i]);
  if (now >= absl::FromUnixMillis(static_cast<int64_t>(expiry))) return TokenCheck::kExpired;
  return TokenCheck::kOk;
}

}  // namespace minicloud::metadata
