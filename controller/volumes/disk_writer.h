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
  // service: a new volume, reading as zeros, at least as large). Zero areas are skipped; the
  // data flows through the controller. Idempotent.
  virtual absl::Status CopyExport(const NbdEndpoint& from, const NbdEndpoint& to) = 0;
};

// `qemu-img convert -n --target-is-zero -f qcow2 <file> --target-image-opts <nbd options>`
// (QemuImgConvertArgs). An export over TLS is opened with the controller's NBD client
// certificate from `tls_dir` (common/storage/nbd_tls.h; the controller writes it to <state>/nbd-tls
// at each start), checking the server's certificate against the export's tls_hostname; without a
// `tls_dir` such an export is FailedPrecondition.
class QemuImgDiskWriter : public DiskWriter {
 public:
  explicit QemuImgDiskWriter(std::string qemu_img = "qemu-img", std::string tls_dir = "")
      : qemu_img_(std::move(qemu_img)), tls_dir_(std::move(tls_dir)) {}
  absl::Status WriteQcow2(const std::string& qcow2_path, const NbdEndpoint& to) override;
  // `qemu-img convert -n --target-is-zero --image-opts <from> --target-image-opts <to>`.
  absl::Status CopyExport(const NbdEndpoint& from, const NbdEndpoint& to) override;

 private:
  std::string qemu_img_;
  std::string tls_dir_;
};

// The argv of `qemu-img convert` into export `to`, from the qcow2 file `qcow2_path` or (when
// `from` is set) from another export: a tls-creds-x509 object (client, `tls_dir`) when either
// export is over TLS, and each export as NBD blockdev options. FailedPrecondition when an export
// is over TLS and `tls_dir` is empty. Pure.
absl::StatusOr<std::vector<std::string>> QemuImgConvertArgs(const std::string& qemu_img,
                                                            const std::string& tls_dir,
                                                            const std::string& qcow2_path,
                                                            const NbdEndpoint* from,
                                                            const NbdEndpoint& to);

// "nbd://host:port/export" (an IPv6 host in brackets), as qemu-img takes it.
std::string NbdUri(const NbdEndpoint& e);

}  // namespace minicloud::controller
