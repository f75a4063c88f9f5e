#pragma once

// The controller's certificate authority (SECURITY.md, "Controller and agents"): it signs the
// controller's server certificate (the agent listener), its client certificate (the controller
// dialling agents' own ports and volume services), each host's certificate (client towards the
// agent listener, server on the agent's port) and each zone's volume service certificate.
//
// Files under the given directory (the controller's <state>/pki, 0700):
//   ca.key  the CA's EC P-256 private key (0600), never leaves the controller
//   ca.crt  the CA certificate; a join token pins its SHA-256
// Both are created together on first use and reused afterwards; a directory with one but not the
// other is an error (nothing is overwritten).
//
// Thread-safe after OpenOrCreate (issuing only reads the CA).

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/crypto/join_token.h"
#include "common/crypto/openssl.h"

namespace minicloud::controller {

using crypto::kControllerClientName;  // common/crypto/join_token.h
using crypto::kControllerServerName;

inline constexpr absl::Duration kCaLifetime = absl::Hours(24 * 365 * 20);
// Neither kind of certificate is renewed yet: both last long (SECURITY.md, known gaps).
inline constexpr absl::Duration kHostCertificateLifetime = absl::Hours(24 * 365 * 10);
inline constexpr absl::Duration kServerCertificateLifetime = absl::Hours(24 * 365 * 10);

struct KeyPair {
  std::string certificate_chain_pem;  // the leaf certificate, then the CA certificate
  std::string private_key_pem;
};
using ServerKeyPair = KeyPair;

class CertificateAuthority {
 public:
  static absl::StatusOr<std::unique_ptr<CertificateAuthority>> OpenOrCreate(const std::string& dir,
                                                                            absl::Time now);

  const std::string& ca_pem() const { return ca_pem_; }
  // SHA-256 of the CA certificate's DER, lowercase hex.
  const std::string& ca_sha256() const { return ca_sha256_; }
  X509* ca_certificate() const { return ca_.get(); }

  // A fresh key and certificate for the agent listener, valid for kControllerServerName and
  // `names` (IP addresses become IP entries, the rest DNS entries). Kept in memory only: the
  // controller issues a new one at each start.
  absl::StatusOr<ServerKeyPair> IssueServerCertificate(const std::vector<std::string>& names,
                                                       absl::Time now) const;

  // A fresh key and client certificate naming kControllerClientName (extended key usage
  // clientAuth only): what the controller shows agents when it calls their port. Kept in memory
  // only, issued at each start.
  absl::StatusOr<KeyPair> IssueControllerClientCertificate(absl::Time now) const;

  // A fresh key and server certificate for the volume service of availability zone `zone`
  // (SECURITY.md, "The volume service"): common name crypto::VolumeServiceName(zone), DNS entries
  // that name and `names` (IP addresses become IP entries; what NBD clients dial), extended key
  // usage serverAuth only. InvalidArgument when `zone` is not a DNS label (lowercase letters,
  // digits, '-') or a name is the controller's or a host id.
  absl::StatusOr<KeyPair> IssueVolumeServiceCertificate(const std::string& zone,
                                                        const std::vector<std::string>& names,
                                                        absl::Time now) const;

  // The certificate of host `host_id` for `key`, as PEM: `host_id` as common name and as its one
  // DNS entry, extended key usage clientAuth (calls to the agent listener) and serverAuth (the
  // agent's own port, where the controller checks the host id as the server name).
  // InvalidArgument when `host_id` is not a host id.
  absl::StatusOr<std::string> IssueHostCertificate(EVP_PKEY* key, const std::string& host_id,
                                                   absl::Time now) const;

  // The NBD client certificate of host `host_id` for `key` (a key of its own, not the host's
  // identity key: QEMU's account reads it), as PEM: common name crypto::NbdClientName(host_id),
  // no DNS entry, extended key usage clientAuth only. It opens volume services' NBD exports
  // and nothing else: the controller's host check refuses the name (not a host id), and a
  // volume service's VolumeService takes only the controller's name. InvalidArgument when
  // `host_id` is not a host id.
  absl::StatusOr<std::string> IssueNbdClientCertificate(EVP_PKEY* key, const std::string& host_id,
                                                        absl::Time now) const;

 private:
  CertificateAuthority(crypto::PkeyPtr key, crypto::X509Ptr ca, std::string ca_pem,
                       std::string ca_sha256)
      : key_(std::move(key)),
        ca_(std::move(ca)),
        ca_pem_(std::move(ca_pem)),
        ca_sha256_(std::move(ca_sha256)) {}

  crypto::PkeyPtr key_;
  crypto::X509Ptr ca_;
  std::string ca_pem_;
  std::string ca_sha256_;
};

}  // namespace minicloud::controller
