#pragma once

// NBD over TLS the way QEMU does it (tls-creds-x509), in one place for every party: the volume
// service's qemu-storage-daemon (server, verify-peer: a client certificate from the CA is
// required), the controller's qemu-img and each host's QEMU and qemu-img (clients).
//
// QEMU reads its credentials from a directory (QEMU's "TLS setup for network services"):
//   ca-cert.pem                       the CA both sides trust
//   server-cert.pem, server-key.pem   endpoint=server
//   client-cert.pem, client-key.pem   endpoint=client
// A client checks the server's certificate against `tls-hostname` (QEMU 7.0 and later), else
// against the address it dialled.

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace minicloud::storage {

enum class QemuTlsEndpoint { kServer, kClient };

struct QemuTlsFiles {
  std::string ca_pem;
  std::string certificate_pem;  // the leaf (a chain after it is fine)
  std::string key_pem;
};

// Makes `dir` (mode `dir_mode`, fixed if it exists) hold ca-cert.pem and the endpoint's
// certificate and key, each written atomically with `file_mode`. InvalidArgument when a part is
// empty or `dir` holds a ','.
absl::Status WriteQemuTlsDir(const std::string& dir, QemuTlsEndpoint endpoint,
                             const QemuTlsFiles& files, mode_t dir_mode = 0700,
                             mode_t file_mode = 0600);

// The --object argument of qemu-img, qemu-io and qemu-storage-daemon:
// "tls-creds-x509,id=ID,dir=DIR,endpoint=client" (server: ",verify-peer=on" as well).
std::string QemuTlsObjectArg(const std::string& id, const std::string& dir,
                             QemuTlsEndpoint endpoint);

// One NBD export as a QEMU client opens it.
struct NbdClientTarget {
  std::string host;  // DNS name or address (IPv6 without brackets)
  int port = 0;
  std::string export_name;
  std::string tls_creds;     // id of a tls-creds-x509 object (endpoint=client); empty: plain
  std::string tls_hostname;  // the name the server's certificate must carry; empty: `host`
};

// The blockdev options of `t`, as --image-opts and -drive take them:
// "driver=nbd,server.type=inet,server.host=H,server.port=P,export=E[,tls-creds=C
// [,tls-hostname=N]]". tls_hostname is used only with tls_creds.
std::string NbdBlockdevOpts(const NbdClientTarget& t);

// Who may open a volume service's NBD exports: rules of QEMU's authz-list object (policy deny)
// on the client certificate's distinguished name, which is "CN=<name>" (the CA's certificates
// carry only a common name). Allowed: the controller's client certificate (its qemu-img) and
// hosts' NBD client certificates (crypto::NbdClientName). Refused: everything else the CA
// signs, hosts' identity certificates above all, so a key that speaks gRPC for a host cannot
// read a volume. (QEMU's NBD server takes one authz object for all exports: any host's NBD
// client certificate opens any export.)
struct QemuAuthzRule {
  std::string match;
  bool glob = false;  // QEMU's "glob" format (fnmatch), else "exact"
};
std::vector<QemuAuthzRule> NbdServerClientRules();

}  // namespace minicloud::storage
