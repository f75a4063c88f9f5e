#pragma once

// Encrypted EBS disks as QMP commands. Pure (no libvirt headers, no I/O), like ebs_disk.h: the
// libvirt adapter sends these over the guest's QEMU monitor (virDomainQemuMonitorCommand) and
// parses the replies with the functions below.
//
// Why QMP and not a libvirt <disk> with <encryption>: libvirt would need the key as a libvirt
// secret, and the agent runs libvirt's embedded QEMU driver (qemu:///embed?root=DIR), whose
// secret driver (secret:///embed) in libvirt 9.0 (Debian 12) crashes the process on the first
// ephemeral secret: secretDefineXML ends with "if any ephemeral secret exists, call
// driver->inhibitCallback(true, ...)", and the embedded driver is initialised with a NULL
// inhibit callback (a jump to address 0; gdb on a 20-line program that opens
// secret:///embed?root=... and defines an ephemeral secret). A non-ephemeral secret does not
// crash, but libvirt then writes the value to DIR/etc/secrets/UUID.base64: the key on disk.
//
// So an encrypted disk never appears in libvirt's domain XML (BuildDomainXml skips it,
// BuildEbsDiskXml refuses it). Plugging it is, in order:
//   object-add      secret  mcx-key-<target>   the key, base64, over the monitor socket only
//   object-add      tls-creds-x509 mcx-tls-<target>  NBD over TLS only: the host's NBD client
//                                              certificate (agent/runtime/nbd_client_tls.h)
//   blockdev-add    nbd     mcx-nbd-<target>   the volume service's export (LUKS ciphertext;
//                                              tls-creds, tls-hostname when over TLS;
//                                              reconnect-delay kNbdReconnectDelaySeconds)
//   blockdev-add    luks    mcx-luks-<target>  QEMU's LUKS driver on top, opened with the key
//   object-del      mcx-key-<target>           the passphrase is dropped at once: the opened
//                                              LUKS node keeps only the derived master key
//   device_add      virtio-blk-pci mcx-<target>-<export> (serial = EbsSerial, like the libvirt
//                   element; bootindex 0 for the root; a PCI slot picked from the top of pci.0)
//   block_set_io_throttle  the volume type's limits (same values as the <iotune> element)
// Unplugging: device_del (the guest must release it, as for any hot-unplug), then, once the
// device is gone, blockdev-del luks, blockdev-del nbd (and object-del of a key left over by an
// interrupted plug).
// The device id carries the target and the export, so the disks are found again from the running
// QEMU alone (qom-list /machine/peripheral): an agent that restarts re-adopts them.
// Node names are at most 31 characters in QEMU: "mcx-luks-" + a target of at most 4 is 13.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "agent/hypervisor/hypervisor.h"

namespace minicloud::hypervisor {

// How long QEMU's NBD client holds an encrypted disk's requests while it reconnects to the volume
// service (its `reconnect-delay`): room for a restart of volumed or of its qemu-storage-daemon;
// requests of a volume service away for longer fail then.
inline constexpr int kNbdReconnectDelaySeconds = 60;

// A virtio target an encrypted disk can have: "vd" and one or two lowercase letters.
bool IsCryptTarget(std::string_view target_dev);

// The QOM id of the virtio-blk device of an encrypted disk: "mcx-<target>-<export>".
std::string CryptDeviceId(const EbsDisk& disk);

// The commands that plug `disk` (validated first: ValidateEbsDisk, and luks_key set) into the
// running QEMU at `pci_slot` of pci.0 (1-31), in order. The first one carries the key: callers
// must never log a command.
// `firmware_boot` false: the guest's kernel is loaded directly (QEMU's loader holds boot index
// 0), so a boot disk gets no boot index.
// A disk with nbd_tls first gets a tls-creds-x509 client object mcx-tls-<target> over
// `nbd_tls_dir` (QEMU's client credentials directory; InvalidArgument when empty), and its NBD
// node tls-creds and tls-hostname.
absl::StatusOr<std::vector<std::string>> CryptPlugCommands(const EbsDisk& disk, int pci_slot,
                                                           bool firmware_boot = true,
                                                           const std::string& nbd_tls_dir = "");

// device_del of the device with this id.
std::string CryptUnplugCommand(std::string_view device_id);

// What is left of a plug at `target_dev` once its device is gone (or was never added): the LUKS
// node, the NBD node, the key object, the TLS object; each may already be absent.
std::vector<std::string> CryptReleaseCommands(std::string_view target_dev);

// A reply of QEMU's monitor: the "return" value as JSON text, or the "error" as a Status
// (NotFound for DeviceNotFound, FailedPrecondition otherwise) whose message is QEMU's class and
// desc. InvalidArgument for text that is no QMP reply.
absl::StatusOr<std::string> QmpReturn(std::string_view reply);

// The disk a device id names (the inverse of CryptDeviceId); nullopt for any other id.
std::optional<AttachedEbsDisk> ParseCryptDeviceId(std::string_view device_id);

// The encrypted disks among the children of /machine/peripheral (the "return" of qom-list):
// every child whose name parses as a CryptDeviceId.
std::vector<AttachedEbsDisk> CryptDisksInQomList(std::string_view qom_list_return);

// The highest free slot of PCI bus 0 in [8, 31] (the "return" of query-pci). libvirt allocates
// its own devices' slots from the bottom, so taking them from the top keeps both apart.
// ResourceExhausted when none is free.
absl::StatusOr<int> FreePciSlot(std::string_view query_pci_return);

}  // namespace minicloud::hypervisor
