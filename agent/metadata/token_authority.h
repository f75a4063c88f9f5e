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
// Thread-safe: all methods are const. The keyed HMAC state is computed once and only read
// (copied per MAC) afterwards, so a check costs two SHA-256 blocks, not a key schedule and an
// algorithm lookup per request.

#include <memory>
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

// The last token one client connection proved, so that a keep-alive connection reusing its token
// (what the AWS SDKs and IMDSv2 clients do) is checked by comparing bytes instead of recomputing
// the MAC. Owned by the caller (one per connection, never shared); holds at most one token.
struct ProvenToken {
  std::string token;        // exact text as received; empty = nothing proved yet
  std::string instance_id;  // the instance it is bound to
  absl::Time expiry;        // first instant at which it is no longer valid
};

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
  // Same answer as Validate. When `proven` already holds exactly this token for this instance,
  // only the expiry is checked; a token that validates kOk is remembered in `proven`.
  TokenCheck Validate(absl::string_view token, absl::string_view instance_id, absl::Time now,
                      ProvenToken* proven) const;

 private:
  struct KeyedMac;  // OpenSSL HMAC-SHA256 context with the key already applied
  explicit TokenAuthority(std::shared_ptr<const KeyedMac> mac) : mac_(std::move(mac)) {}
  static absl::StatusOr<TokenAuthority> FromKey(absl::string_view key);
  // HMAC-SHA256(key, data) into `out`; false only when OpenSSL fails.
  bool Mac(absl::string_view data, unsigned char (&out)[32]) const;
  // Validate's checks; on authentic tokens bound to `instance_id`, sets *expiry.
  TokenCheck Check(absl::string_view token, absl::string_view instance_id, absl::Time now,
                   absl::Time* expiry) const;

  std::shared_ptr<const KeyedMac> mac_;
};

}  // namespace minicloud::metadata
