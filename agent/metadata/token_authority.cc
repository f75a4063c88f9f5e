#include "agent/metadata/token_authority.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <cstdint>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/crypto/openssl.h"

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

struct TokenAuthority::KeyedMac {
  crypto::MacPtr mac;
  crypto::MacCtxPtr ctx;  // initialised with the key; only ever duplicated
};

absl::StatusOr<TokenAuthority> TokenAuthority::FromKey(absl::string_view key) {
  auto keyed = std::make_shared<KeyedMac>();
  keyed->mac.reset(EVP_MAC_fetch(nullptr, OSSL_MAC_NAME_HMAC, nullptr));
  if (keyed->mac == nullptr) return crypto::OpenSslError("token key: no HMAC in OpenSSL");
  keyed->ctx.reset(EVP_MAC_CTX_new(keyed->mac.get()));
  char digest[] = OSSL_DIGEST_NAME_SHA2_256;
  const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                               OSSL_PARAM_END};
  if (keyed->ctx == nullptr ||
      EVP_MAC_init(keyed->ctx.get(), reinterpret_cast<const unsigned char*>(key.data()), key.size(),
                   params) != 1) {
    return crypto::OpenSslError("token key: HMAC-SHA256 initialisation");
  }
  return TokenAuthority(std::move(keyed));
}

absl::StatusOr<TokenAuthority> TokenAuthority::WithKey(std::string key) {
  if (key.size() < kKeyBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("token key must be at least ", kKeyBytes, " bytes, got ", key.size()));
  }
  return FromKey(key);
}

absl::StatusOr<TokenAuthority> TokenAuthority::WithRandomKey() {
  std::string key(kKeyBytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(key.data()), static_cast<int>(key.size())) != 1) {
    return absl::InternalError("token key: RAND_bytes failed");
  }
  absl::StatusOr<TokenAuthority> authority = FromKey(key);
  OPENSSL_cleanse(key.data(), key.size());
  return authority;
}

bool TokenAuthority::Mac(absl::string_view data, unsigned char (&out)[kMacBytes]) const {
  const crypto::MacCtxPtr ctx(EVP_MAC_CTX_dup(mac_->ctx.get()));
  if (ctx == nullptr) return false;
  size_t out_len = 0;
  return EVP_MAC_update(ctx.get(), reinterpret_cast<const unsigned char*>(data.data()),
                        data.size()) == 1 &&
         EVP_MAC_final(ctx.get(), out, &out_len, sizeof(out)) == 1 && out_len == kMacBytes;
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
  unsigned char mac[kMacBytes];
  if (!Mac(raw, mac)) return absl::InternalError("token: HMAC-SHA256 failed");
  raw.append(reinterpret_cast<const char*>(mac), kMacBytes);
  return absl::WebSafeBase64Escape(raw);
}

TokenCheck TokenAuthority::Validate(absl::string_view token, absl::string_view instance_id,
                                    absl::Time now, ProvenToken* proven) const {
  if (proven != nullptr && !proven->token.empty() && proven->token == token &&
      proven->instance_id == instance_id) {
    return now < proven->expiry ? TokenCheck::kOk : TokenCheck::kExpired;
  }
  absl::Time expiry;
  const TokenCheck check = Check(token, instance_id, now, &expiry);
  if (proven != nullptr && check == TokenCheck::kOk) {
    proven->token.assign(token.data(), token.size());
    proven->instance_id.assign(instance_id.data(), instance_id.size());
    proven->expiry = expiry;
  }
  return check;
}

TokenCheck TokenAuthority::Validate(absl::string_view token, absl::string_view instance_id,
                                    absl::Time now) const {
  absl::Time expiry;
  return Check(token, instance_id, now, &expiry);
}

TokenCheck TokenAuthority::Check(absl::string_view token, absl::string_view instance_id,
                                 absl::Time now, absl::Time* expiry_out) const {
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
  unsigned char expected[kMacBytes];
  if (!Mac(signed_part, expected) ||
      CRYPTO_memcmp(expected, raw.data() + signed_part.size(), kMacBytes) != 0) {
    return TokenCheck::kInvalid;
  }
  const absl::string_view bound_id(raw.data() + kHeaderBytes, id_len);
  if (bound_id != instance_id) return TokenCheck::kWrongInstance;

  uint64_t expiry = 0;
  for (int i = 1; i <= 8; ++i) expiry = (expiry << 8) | static_cast<uint8_t>(raw[i]);
  *expiry_out = absl::FromUnixMillis(static_cast<int64_t>(expiry));
  if (now >= *expiry_out) return TokenCheck::kExpired;
  return TokenCheck::kOk;
}

}  // namespace minicloud::metadata
