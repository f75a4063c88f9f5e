#pragma once

// Secrets the controller must keep readable to itself (access keys' secrets: SigV4 needs them,
// so they cannot be hashed) sealed under one master key with AES-256-GCM.
//
// Contract:
// - LoadOrCreateMasterKey(path): reads the 32-byte key at `path`; when the file does not exist,
//   creates it (mode 0600, exact, written atomically) with 32 bytes from OpenSSL's CSPRNG. A file
//   of another size, or readable by group or others, is an error: nothing is created over it.
// - Seal(plaintext, aad): 12 random nonce bytes || ciphertext || 16-byte tag. Open() gives back
//   the plaintext only when the key, the bytes and `aad` are all the same (else an error that
//   never contains key or plaintext). Thread-safe.

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace minicloud::controller::auth {

inline constexpr size_t kMasterKeyBytes = 32;

class SecretBox {
 public:
  static absl::StatusOr<SecretBox> LoadOrCreate(const std::string& path);
  // A box over a given 32-byte key (tests).
  static absl::StatusOr<SecretBox> FromKey(std::string key);

  absl::StatusOr<std::string> Seal(absl::string_view plaintext, absl::string_view aad) const;
  absl::StatusOr<std::string> Open(absl::string_view sealed, absl::string_view aad) const;

 private:
  explicit SecretBox(std::string key) : key_(std::move(key)) {}
  std::string key_;
};

// `n` bytes from OpenSSL's CSPRNG (RAND_bytes).
absl::StatusOr<std::string> RandomBytes(size_t n);

}  // namespace minicloud::controller::auth
