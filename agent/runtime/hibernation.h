#pragma once

// Hibernation on the host: the guest's RAM goes to the instance's hibernation volume on the
// zone's volume service, never to this host's disk.
//
// Save: the hypervisor writes the domain's state into a file in `scratch_dir` (tmpfs: the
// agent's runtime directory under /run, 0700), qemu-img streams it into the volume's NBD export
// (through QEMU's LUKS driver when the volume is encrypted: the key reaches qemu-img in a 0600
// file of the same tmpfs directory for the length of the call, never on a command line), and
// the file is deleted. Restore is the same
// way back: the volume's first `bytes` bytes into a scratch file, the hypervisor restores the
// domain from it, the file is deleted. The hypervisor cannot write the image straight into the
// export: libvirt's save needs a seekable regular file (libvirt_save.cc).
//
// Failure: a save that cannot reach the volume restores the guest from the scratch file, so it
// keeps running (the caller then shuts it down as a plain stop, as EC2 does when hibernation
// fails). Scratch files never outlive a call.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/hypervisor/hypervisor.h"
#include "minicloud/v1/host.pb.h"

namespace minicloud::agent {

struct HibernationIo {
  std::string scratch_dir;  // tmpfs; created 0700 when missing
  std::string qemu_img = "qemu-img";
  // The host's NBD client credentials (nbd_client_tls.h), for a disk with nbd_tls.
  std::string nbd_tls_dir = {};
};

// qemu-img's --image-opts for the hibernation volume: raw NBD, or LUKS over NBD with the secret
// object "hibernation-key"; `size_bytes` > 0 (a multiple of 512) cuts the image to that many
// bytes (reading back). A disk with nbd_tls names the tls-creds-x509 object "hibernation-tls"
// and the server name to check.
std::string HibernationImageOpts(const v1::DesiredEbsDisk& disk, int64_t size_bytes);

// qemu-img's --object arguments for `disk` besides the key: the TLS client credentials in
// `nbd_tls_dir` when the disk is over TLS (FailedPrecondition without a directory), else none.
absl::StatusOr<std::vector<std::string>> HibernationTlsObjects(const v1::DesiredEbsDisk& disk,
                                                               const std::string& nbd_tls_dir);
std::string HibernationImageOpts(const v1::DesiredEbsDisk& disk, int64_t size_bytes);

// Saves the running domain `instance_id` onto `disk`; returns the image's length.
absl::StatusOr<int64_t> SaveToVolume(hypervisor::Hypervisor& hv, const std::string& instance_id,
                                     const v1::DesiredEbsDisk& disk, const HibernationIo& io);

// Starts `spec`'s domain from the image of `bytes` bytes on `disk`.
absl::Status RestoreFromVolume(hypervisor::Hypervisor& hv, const hypervisor::DomainSpec& spec,
                               const v1::DesiredEbsDisk& disk, int64_t bytes,
                               const HibernationIo& io);

// The host's note that an instance's last stop saved its RAM: "<boot> <bytes>\n" in
// `instance_dir`/hibernated (0600), written once the image is on the volume and before the host
// reports the stop, so an agent restarted in between still reports the hibernation (else the
// controller takes it for a plain stop and the next start boots cold). `boot` is the boot count
// that was saved: a note of another boot is stale. Removed when the instance starts or stops
// again.
absl::Status WriteHibernatedNote(const std::string& instance_dir, int boot, int64_t bytes);
// The saved image's length for `boot`; 0 when there is no note, it is of another boot, or it is
// not one (a note is never trusted beyond its shape).
int64_t ReadHibernatedNote(const std::string& instance_dir, int boot);
void RemoveHibernatedNote(const std::string& instance_dir);

}  // namespace minicloud::agent
