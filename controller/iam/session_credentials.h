#pragma once

// Short-lived credentials of instance profiles, as stateless session tokens.
//
// Issue() makes a fresh access key id ("ASIA" + 16 characters of [A-Z2-7], as STS's temporary
// keys look), a 40-character secret, and a session token that carries everything needed to
// check a request later: the key id, the secret, the instance, the profile and its allowed
// actions, the expiration. The token is that payload (SessionTokenPayload) sealed with
// AES-256-GCM under the controller's session key: 1 version byte || 12-byte random nonce ||
// ciphertext || 16-byte tag, base64 (standard alphabet), the version byte also bound as
// associated data. Nothing is stored per session: any controller holding the key opens any
// token it issued, also after a restart.
//
// Open() gives back the payload only for a token sealed under this key and not altered; any
// other input (garbage, truncation, another key, a flipped bit) is InvalidArgument whose message
// never contains key, secret or plaintext. Open() does not judge expiry: the verifier does.
//
// Thread-safe (no mutable state; randomness from OpenSSL's CSPRNG).

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "minicloud/v1/iam.pb.h"

namespace minicloud::controller::iam {

inline constexpr size_t kSessionKeyBytes = 32;
// Instance credentials live this long (EC2's last about six hours; one hour keeps the window
// after a profile is deleted short, and the agent refreshes 15 minutes before the end).
inline constexpr absl::Duration kSessionLifetime = absl::Hours(1);

class SessionSealer {
 public:
  // Reads the 32-byte key at `path`; creates it (0600, atomically, CSPRNG) when absent. A file of
  // another size or readable by group or others is refused.
  static absl::StatusOr<SessionSealer> LoadOrCreate(const std::string& path);
  // A sealer over a given 32-byte key (tests).
  static absl::StatusOr<SessionSealer> FromKey(std::string key);

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
  explicit SessionSealer(std::string key) : key_(std::move(key)) {}
  std::string key_;
};

// True for "ASIA" followed by 16 characters of [A-Z2-7].
bool IsSessionAccessKeyId(absl::string_view id);

}  // namespace minicloud::controller::iam
