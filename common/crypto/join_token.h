#pragma once

// The join token an agent presents once to get its certificate (like kubeadm's bootstrap token
// plus discovery hash, in one string):
//
//   mcjoin1.<secret: 64 lowercase hex>.<SHA-256 of the CA certificate's DER: 64 lowercase hex>
//
// The secret proves the agent was let in by whoever holds the token; the CA hash lets the agent
// check the controller before it sends the secret. The controller keeps only SHA-256 of each
// secret (JoinSecretHash) and compares in constant time (SameSecretHash).

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace minicloud::crypto {

// The name every agent checks the controller's server certificate for. Agents dial addresses that
// change with the deployment; what they trust is the pinned CA, so this one fixed name is in every
// server certificate of the agent listener, next to its configured addresses.
inline constexpr char kControllerServerName[] = "minicloud-controller";
// The common name of the controller's client certificate, the only certificate an agent's own
// port accepts (the controller dialling it). Host certificates name a host id ("h-" + hex), which
// can never be this name, and the CA refuses to issue a host certificate for anything else.
inline constexpr char kControllerClientName[] = "minicloud-controller-client";
// The name the controller checks the server certificate of zone `zone`'s volume service for
// (its common name and first DNS entry; the CA issues it only through
// CertificateAuthority::IssueVolumeServiceCertificate). Like an agent's host id, it binds the
// certificate to what the controller expects there, whatever address the service has: the
// service of another zone, an agent or the controller itself cannot answer for the zone.
inline std::string VolumeServiceName(absl::string_view zone) {
  return absl::StrCat("minicloud-volumed.", zone);
}

// The common name of host `host_id`'s NBD client certificate (what its QEMU shows a volume
// service's NBD port; CertificateAuthority::IssueNbdClientCertificate). Not a host id, so the
// controller refuses it on every HostService call, and clientAuth only.
inline std::string NbdClientName(absl::string_view host_id) {
  return absl::StrCat("nbd-client.", host_id);
}

struct JoinToken {
  std::string secret;     // 64 lowercase hex
  std::string ca_sha256;  // 64 lowercase hex
};

// A fresh token for the CA whose certificate hash is `ca_sha256` (32 random bytes of secret).
absl::StatusOr<JoinToken> NewJoinToken(absl::string_view ca_sha256);
std::string FormatJoinToken(const JoinToken& token);
// Leading and trailing whitespace is ignored (a token read from a file); anything else that is
// not exactly the format above is InvalidArgument, naming the part that is wrong but never
// echoing the secret.
absl::StatusOr<JoinToken> ParseJoinToken(absl::string_view text);

// SHA-256 of the secret, lowercase hex: what the controller stores.
std::string JoinSecretHash(absl::string_view secret);
// Constant-time comparison of two hashes of equal length (false when the lengths differ).
bool SameSecretHash(absl::string_view a, absl::string_view b);

}  // namespace minicloud::crypto
