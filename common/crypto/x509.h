#pragma once

// X.509 for the controller's certificate authority and the agents' client certificates: EC P-256
// keys, PKCS#10 requests, certificates signed with ECDSA-SHA256, and the checks both sides make.
//
// Contract:
// - Every function is pure apart from the OpenSSL objects it is given; nothing touches files.
// - Parse* refuse anything but exactly one PEM object of the expected kind, with InvalidArgument.
// - IssueCertificate signs `spec` for `subject_key` with `issuer_key`; with issuer == nullptr the
//   certificate is self-signed (its own issuer). Serial numbers are 128 random bits.
// - VerifyCertificate checks the signature chain to `ca` (the only trusted certificate), the
//   validity period at `now` and, when `purpose` is set, the extended key usage (kHost: both
//   serverAuth and clientAuth);
//   PermissionDenied with OpenSSL's reason otherwise.
// - Hashes are lowercase hex SHA-256: of the certificate's DER (the CA hash a join token pins) and
//   of the public key's SubjectPublicKeyInfo DER (what a host id is bound to).

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/crypto/openssl.h"

namespace minicloud::crypto {

// kHost: a host's certificate, both a client (to the controller's agent listener) and a server
// (the agent's own port, which the controller dials); it names the host id as common name and DNS
// entry. kClient alone is the controller's identity towards agents.
enum class KeyUsage { kCa, kServer, kClient, kHost };

struct CertificateSpec {
  std::string common_name;
  std::vector<std::string> dns_names = {};  // subjectAltName DNS entries
  std::vector<std::string> ip_addresses = {};
  KeyUsage usage = KeyUsage::kClient;
  absl::Time not_before;
  absl::Time not_after;
};

absl::StatusOr<PkeyPtr> GenerateEcKey();
absl::StatusOr<std::string> PrivateKeyPem(EVP_PKEY* key);
absl::StatusOr<PkeyPtr> ParsePrivateKeyPem(absl::string_view pem);
absl::StatusOr<std::string> CertificatePem(X509* cert);
absl::StatusOr<X509Ptr> ParseCertificatePem(absl::string_view pem);

// A PKCS#10 request for `key` naming `common_name`, as PEM.
absl::StatusOr<std::string> MakeCsrPem(EVP_PKEY* key, absl::string_view common_name);
// The public key of a PEM request whose self-signature verifies (proof the requester holds the
// private key). The names in the request are ignored: the issuer decides them.
absl::StatusOr<PkeyPtr> CsrPublicKey(absl::string_view csr_pem);

absl::StatusOr<X509Ptr> IssueCertificate(const CertificateSpec& spec, EVP_PKEY* subject_key,
                                         X509* issuer, EVP_PKEY* issuer_key);

absl::Status VerifyCertificate(X509* cert, X509* ca, absl::Time now,
                               std::optional<KeyUsage> purpose = std::nullopt);

// The subject's common name; NotFound when it has none.
absl::StatusOr<std::string> CommonName(X509* cert);
absl::StatusOr<std::string> CertificateSha256Hex(X509* cert);
absl::StatusOr<std::string> PublicKeySha256Hex(EVP_PKEY* key);
absl::StatusOr<std::string> CertificateKeySha256Hex(X509* cert);

}  // namespace minicloud::crypto
