#pragma once

// qemu-io on an NBD export the way the controller and the hosts open it
// (common/storage/nbd_tls.h): over TLS with a client certificate when the export says so, plain
// otherwise. For tests of the volume service's exports.

#include <catch2/catch.hpp>
#include <cstdio>
#include <string>

#include "common/storage/nbd_tls.h"
#include "controller/volumes/grpc_volume_service_client.h"
#include "minicloud/v1/volume_service.pb.h"

namespace minicloud::testing {

// One export and the client credentials to open it with.
struct NbdTarget {
  storage::NbdClientTarget target;
  std::string tls_dir;  // QEMU's client credentials directory; empty: none
};

// The export as ExportVolume answered, opened with the credentials in `tls_dir` when it is over
// TLS (a plain export is opened plain whatever `tls_dir` is).
inline NbdTarget TargetOf(const volume::v1::NbdExport& e, const std::string& tls_dir) {
  return {.target = {.host = e.host(),
                     .port = e.port(),
                     .export_name = e.export_name(),
                     .tls_creds = e.tls() ? "nbdtls0" : "",
                     .tls_hostname = e.tls_hostname()},
          .tls_dir = tls_dir};
}

// Writes the controller's side of `tls` (CA, client certificate, key) as QEMU client credentials
// into `dir` and returns it.
inline std::string WriteNbdClientDir(const controller::VolumeServiceTls& tls,
                                     const std::string& dir) {
  REQUIRE(storage::WriteQemuTlsDir(dir, storage::QemuTlsEndpoint::kClient,
                                   {.ca_pem = tls.ca_pem,
                                    .certificate_pem = tls.certificate_chain_pem,
                                    .key_pem = tls.private_key_pem})
              .ok());
  return dir;
}

// qemu-io `command` on `t`; true when it exits 0. `layer` puts a format over the NBD node (its
// options then go under "file.": "driver=luks,key-secret=k0"), `objects` adds --object
// arguments ("--object secret,id=k0,data=...").
inline bool QemuIo(const NbdTarget& t, const std::string& command, const std::string& layer = "",
                   const std::string& objects = "") {
  std::string opts = storage::NbdBlockdevOpts(t.target);
  if (!layer.empty()) {
    std::string nested = layer;
    size_t start = 0;
    while (start <= opts.size()) {
      const size_t comma = opts.find(',', start);
      const size_t end = comma == std::string::npos ? opts.size() : comma;
      nested += ",file." + opts.substr(start, end - start);
      start = end + 1;
    }
    opts = nested;
  }
  std::string cmd = "qemu-io " + objects;
  if (!t.tls_dir.empty() && !t.target.tls_creds.empty()) {
    cmd += " --object '" +
           storage::QemuTlsObjectArg(t.target.tls_creds, t.tls_dir,
                                     storage::QemuTlsEndpoint::kClient) +
           "'";
  }
  cmd += " --image-opts '" + opts + "' -c '" + command + "' 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  std::string text;
  char buf[512];
  while (p != nullptr && fgets(buf, sizeof buf, p) != nullptr) text += buf;
  const int status = p == nullptr ? -1 : pclose(p);
  UNSCOPED_INFO("qemu-io " << opts << ": " << text);
  return status == 0;
}

}  // namespace minicloud::testing
