#pragma once

// Short-lived credentials of instance profiles, as stateless session tokens.
//
// Issue() makes a fresh access key id ("ASIA" + 16 characters of [A-Z2-7], as STS's temporary
// keys look), a 40-character secret, and a session token that carries everything needed to
// check a request later: the key id, the secret, the instance, the profile and its allowed
// actions, the expiration. The token is that payload (SessionTokenPayload) sealed by the
// controller's SecretBox (AES-256-GCM under <state>/master.key, controller/auth/secret_box.h, the
// box that also seals access keys' secrets): 1 version byte || the box's nonce, ciphertext and tag,
// base64 (standard alphabet). The associated data, kSessionTokenAad, names the version and the
// purpose, so nothing else the box seals (an access key's secret, bound to its key id) opens as a
// token. Nothing is stored per session: a controller with the same master key opens any token it
// issued, also after a restart.
//
// Open() gives back the payload only for a token sealed under this key and not altered; any
// other input (garbage, truncation, another key, a flipped bit) is InvalidArgument whose message
// never contains key, secret or plaintext. Open() does not judge expiry: the verifier does.
//
// Thread-safe (no mutable state; randomness from OpenSSL's CSPRNG, through the box).

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "controller/auth/secret_box.h"
#include "minicloud/v1/iam.pb.h"

namespace minicloud::controller::iam {

// What a token's seal is bound to besides the key (never an access key id, which the box binds
// access keys' secrets to).
inline constexpr char kSessionTokenAad[] = "minicloud session token v1";
// Instance credentials live this long (EC2's last about six hours; one hour keeps the window
// after a profile is deleted short, and the agent refreshes 15 minutes before the end).
inline constexpr absl::Duration kSessionLifetime = absl::Hours(1);

class SessionSealer {
 public:
  // Seals under `box`: the controller's one master key (main.cc), a given key in tests.
  explicit SessionSealer(auth::SecretBox box) : box_(std::move(box)) {}

  // `claims`: everything but the key id, the secret and the times, which Issue() fills in
  // (issued = now, expiration = now + lifetime). Returns the payload as issued and the token.
  struct Issued {
    v1::SessionTokenPayload payload;
    std::string token;
  };
  absl::StatusOr<Issued> Issue(v1::SessionTokenPayload claims, absl::Time now,
                               absl::Duration lifetime = kSessionLifetime) const;

  absl::StatusOr<v1::SessionTokenPayload> Open(absl::string_view token) const;

 private:
  auth::SecretBox box_;
};

// True for "ASIA" followed by 16 characters of [A-Z2-7].
bool IsSessionAccessKeyId(absl::string_view id);

}  // namespace minicloud::controller::iam
