#pragma once

// IMDSv2 session tokens. Stateless: a token carries its instance id and expiry, authenticated with
// HMAC-SHA256 under a per-process key, so any number of tokens can exist without server memory
// (EC2: "There is no practical limit on the number of concurrent tokens"). Restarting the agent
// draws a new key; outstanding tokens then fail with 401 and clients PUT a new one, which is what
// cloud-init and the AWS SDKs do on 401.
//
// Wire form: base64url (no padding) of
//   0x01 | expiry (unix milliseconds, int64 big-endian) | id length (1 byte) | instance id |
//   HMAC-SHA256(key, all preceding bytes)
//
// Thread-safe: all methods are const and touch no shared mutable state.

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace minicloud::metadata {

enum class TokenCheck {
  kOk,
  kExpired,        // authentic, bound to this instance, but now >= expiry
  kInvalid,        // not a token we issued (garbage, truncated, tampered, other key)
  kWrongInstance,  // authentic, issued to another instance
};

absl::string_view TokenCheckName(TokenCheck c);

class TokenAuthority {
 public:
  // EC2 bounds for X-aws-ec2-metadata-token-ttl-seconds.
  static constexpr int kMinTtlSeconds = 1;
  static constexpr int kMaxTtlSeconds = 21600;
  static constexpr size_t kKeyBytes = 32;

  // `key` must be at least kKeyBytes bytes (tests inject a fixed one).
  static absl::StatusOr<TokenAuthority> WithKey(std::string key);
  // A fresh key from OpenSSL's CSPRNG.
  static absl::StatusOr<TokenAuthority> WithRandomKey();

  // A token for `instance_id` valid on [now, now + ttl). InvalidArgument when ttl is outside
  // 1..21600 s or the instance id is empty or longer than 255 bytes.
  absl::StatusOr<std::string> Issue(absl::string_view instance_id, absl::Duration ttl,
                                    absl::Time now) const;

  // Checks authenticity first, then the binding, then expiry.
  TokenCheck Validate(absl::string_view token, absl::string_view instance_id, absl::Time now) const;

 private:
  explicit TokenAuthority(std::string key) : key_(std::move(key)) {}
  std::string Mac(absl::string_view data) const;

  std::string key_;
};

}  // namespace minicloud::metadata
