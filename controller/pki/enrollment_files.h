#pragma once

// What the controller remembers about joining, as files under its <state>/pki (0700):
//   join-tokens      one line per valid join token: SHA-256 of its secret (lowercase hex)
//   hosts/<host-id>  the SHA-256 of the public key the host joined with (its binding)
// Files, not store records, so the admin subcommands (`minicloud-controller join-token`,
// `forget-host`) work while the controller runs: every check reads them again.
// Writers replace whole files atomically (0600); two admins adding tokens at the same instant
// may lose one of the two (the command prints it; run it again).

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "controller/pki/certificate_authority.h"

namespace minicloud::controller {

// A new join token for `ca` (its text, as the agent takes it); its secret's hash is added to
// join-tokens.
absl::StatusOr<std::string> CreateJoinToken(const std::string& pki_dir,
                                            const CertificateAuthority& ca);
// OK when `secret` is one of the recorded tokens' (constant-time per comparison);
// PermissionDenied otherwise.
absl::Status CheckJoinSecret(const std::string& pki_dir, absl::string_view secret);

// The key hash bound to `host_id`, or nullopt when the host has not joined.
absl::StatusOr<std::optional<std::string>> BoundHostKey(const std::string& pki_dir,
                                                        const std::string& host_id);
absl::Status BindHostKey(const std::string& pki_dir, const std::string& host_id,
                         const std::string& key_sha256);
// Removes the binding: the host's certificate is no longer accepted and its id may join again
// with another key. NotFound when there was none.
absl::Status ForgetHost(const std::string& pki_dir, const std::string& host_id);

}  // namespace minicloud::controller
