#include "common/storage/nbd_tls.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/crypto/join_token.h"
#include "common/file/file_util.h"
#include "common/status_macros.h"

namespace minicloud::storage {

absl::Status WriteQemuTlsDir(const std::string& dir, QemuTlsEndpoint endpoint,
                             const QemuTlsFiles& files, mode_t dir_mode, mode_t file_mode) {
  if (files.ca_pem.empty() || files.certificate_pem.empty() || files.key_pem.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("NBD TLS credentials for ", dir, ": a CA, a certificate and a key"));
  }
  // QEMU's option syntax would split the directory at the comma.
  if (absl::StrContains(dir, ',')) {
    return absl::InvalidArgumentError(absl::StrCat("NBD TLS directory has a ',': ", dir));
  }
  MC_RETURN_IF_ERROR(file::EnsureDirectoryMode(dir, dir_mode));
  const std::string side = endpoint == QemuTlsEndpoint::kServer ? "server" : "client";
  MC_RETURN_IF_ERROR(file::WriteFileAtomic(dir + "/ca-cert.pem", files.ca_pem, file_mode));
  MC_RETURN_IF_ERROR(file::WriteFileAtomic(absl::StrCat(dir, "/", side, "-cert.pem"),
                                           files.certificate_pem, file_mode));
  return file::WriteFileAtomic(absl::StrCat(dir, "/", side, "-key.pem"), files.key_pem, file_mode);
}

std::string QemuTlsObjectArg(const std::string& id, const std::string& dir,
                             QemuTlsEndpoint endpoint) {
  return absl::StrCat("tls-creds-x509,id=", id, ",dir=", dir, ",endpoint=",
                      endpoint == QemuTlsEndpoint::kServer ? "server,verify-peer=on" : "client");
}

std::string NbdBlockdevOpts(const NbdClientTarget& t) {
  std::string opts = absl::StrCat("driver=nbd,server.type=inet,server.host=", t.host,
                                  ",server.port=", t.port, ",export=", t.export_name);
  if (!t.tls_creds.empty()) {
    absl::StrAppend(&opts, ",tls-creds=", t.tls_creds);
    if (!t.tls_hostname.empty()) absl::StrAppend(&opts, ",tls-hostname=", t.tls_hostname);
  }
  return opts;
}

std::vector<QemuAuthzRule> NbdServerClientRules() {
  return {{.match = absl::StrCat("CN=", crypto::kControllerClientName), .glob = false},
          {.match = absl::StrCat("CN=", crypto::NbdClientName("h-"), "*"), .glob = true}};
}

}  // namespace minicloud::storage
