#pragma once

// How an uploaded AMI disk becomes the content of a volume on a zone's volume service: the
// controller writes the qcow2's guest-visible bytes into the volume's NBD export (over the
// network, as hosts read it), then the volume service snapshots it (VolumeService imports an
// EBS-backed AMI's disk this way, once per zone). A seam so that tests over the fake volume
// service need no NBD server.

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "controller/volumes/volume_fleet.h"

namespace minicloud::controller {

class DiskWriter {
 public:
  virtual ~DiskWriter() = default;
  // Writes the guest-visible content of the qcow2 file at `qcow2_path` into the export, which
  // reads as zeros before (a new volume) and is at least the disk's virtual size. Zero areas are
  // skipped. Idempotent: writing again gives the same content.
  virtual absl::Status WriteQcow2(const std::string& qcow2_path, const NbdEndpoint& to) = 0;
  // Copies the guest-visible bytes of export `from` into export `to` (another zone's volume
  // service: a new volume, at least as large). With `to_key` empty, bytes as they are (a plain
  // volume, or an encrypted one's whole LUKS container, header included), zero areas skipped: the
  // target reads as zeros. With `to_key`, `from` is plain data written through LUKS with that
  // passphrase into `to`, which its service formatted with it; written in full (a new LUKS
  // volume does not read as zeros), in the controller, so only ciphertext crosses the network.
  // Idempotent.
  virtual absl::Status CopyExport(const NbdEndpoint& from, const NbdEndpoint& to,
                                  const std::string& to_key) = 0;
};

// `qemu-img convert -n --target-is-zero -f qcow2 -O raw <file> nbd://host:port/export`
// (QemuImgConvertArgs). An export over TLS is opened with the controller's NBD client
// certificate from `tls_dir` (common/storage/nbd_tls.h; the controller writes it to
// <state>/nbd-tls at each start), checking the server's certificate against the export's
// tls_hostname; without a `tls_dir` such an export is FailedPrecondition.
class QemuImgDiskWriter : public DiskWriter {
 public:
  explicit QemuImgDiskWriter(std::string qemu_img = "qemu-img", std::string tls_dir = "")
      : qemu_img_(std::move(qemu_img)), tls_dir_(std::move(tls_dir)) {}
  absl::Status WriteQcow2(const std::string& qcow2_path, const NbdEndpoint& to) override;
  // `qemu-img convert -n --target-is-zero -f raw -O raw nbd://<from> nbd://<to>`; with `to_key`
  // the target through `--target-image-opts driver=luks,file.driver=nbd,...`, the key in a
  // secret object read from a file (0600, in a 0700 directory, removed afterwards: never on the
  // command line).
  absl::Status CopyExport(const NbdEndpoint& from, const NbdEndpoint& to,
                          const std::string& to_key) override;

 private:
  std::string qemu_img_;
  std::string tls_dir_;
};

// The argv of `qemu-img convert` into export `to`, from the qcow2 file `qcow2_path` or (when
// `from` is set) from another export; with `to_key_file`, written through LUKS with the secret
// in that file (then not --target-is-zero). A plain export is named by its nbd:// URI; one over
// TLS by its NBD blockdev options (--image-opts / --target-image-opts) with a tls-creds-x509
// client object over `tls_dir`. FailedPrecondition when an export is over TLS and `tls_dir` is
// empty; InvalidArgument as LuksOverNbdOptions. Pure.
absl::StatusOr<std::vector<std::string>> QemuImgConvertArgs(
    const std::string& qemu_img, const std::string& tls_dir, const std::string& qcow2_path,
    const NbdEndpoint* from, const NbdEndpoint& to, const std::string& to_key_file = "");

// "nbd://host:port/export" (an IPv6 host in brackets), as qemu-img takes it.
std::string NbdUri(const NbdEndpoint& e);

// QEMU's image options for export `e` read through LUKS with the secret object `secret_id`:
// "driver=luks,key-secret=<id>,file.driver=nbd,file.server.type=inet,..." (over TLS: and
// file.tls-creds=`tls_creds`, file.tls-hostname). InvalidArgument when a field holds a ','
// (QEMU's option separator).
absl::StatusOr<std::string> LuksOverNbdOptions(const NbdEndpoint& e, const std::string& secret_id,
                                               const std::string& tls_creds = "");

}  // namespace minicloud::controller
