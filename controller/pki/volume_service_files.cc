#include "controller/pki/volume_service_files.h"

#include "absl/strings/str_cat.h"
#include "common/file/file_util.h"
#include "common/status_macros.h"

namespace minicloud::controller {

absl::Status WriteVolumeServiceFiles(const CertificateAuthority& ca, const std::string& zone,
                                     const std::vector<std::string>& names, const std::string& dir,
                                     absl::Time now) {
  MC_ASSIGN_OR_RETURN(KeyPair pair, ca.IssueVolumeServiceCertificate(zone, names, now));
  MC_RETURN_IF_ERROR(file::EnsureDirectoryMode(dir, 0700));
  // The key before the certificate that names it, so a crash never pairs a certificate with
  // another key.
  MC_RETURN_IF_ERROR(file::WriteFileAtomic(absl::StrCat(dir, "/", kVolumeServiceKeyFile),
                                           pair.private_key_pem, 0600));
  MC_RETURN_IF_ERROR(file::WriteFileAtomic(absl::StrCat(dir, "/", kVolumeServiceCertFile),
                                           pair.certificate_chain_pem, 0600));
  return file::WriteFileAtomic(absl::StrCat(dir, "/", kVolumeServiceCaFile), ca.ca_pem(), 0600);
}

}  // namespace minicloud::controller
