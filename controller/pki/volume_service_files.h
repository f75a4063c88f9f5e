#pragma once

// The files a zone's volume service is given (SECURITY.md, "The volume service"): written by
// `minicloud-controller issue-volume-service-cert` into a directory (made 0700) that the admin
// copies to the volume service's machine; minicloud-volumed reads them with --tls-cert, --tls-key
// and --tls-client-ca.
//   ca.crt      the controller's CA: the only issuer of client certificates volumed accepts
//   server.crt  the service's certificate (CertificateAuthority::IssueVolumeServiceCertificate),
//               then the CA certificate
//   server.key  its private key
// All 0600. Existing files are replaced (a new key each time: the old certificate stays valid
// until it expires, as host certificates do).

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "controller/pki/certificate_authority.h"

namespace minicloud::controller {

inline constexpr char kVolumeServiceCaFile[] = "ca.crt";
inline constexpr char kVolumeServiceCertFile[] = "server.crt";
inline constexpr char kVolumeServiceKeyFile[] = "server.key";

absl::Status WriteVolumeServiceFiles(const CertificateAuthority& ca, const std::string& zone,
                                     const std::vector<std::string>& names, const std::string& dir,
                                     absl::Time now);

}  // namespace minicloud::controller
