#pragma once

// EBS disks as QMP commands. Pure (no libvirt headers, no I/O), like ebs_disk.h: the libvirt
// adapter sends these over the guest's QEMU monitor (virDomainQemuMonitorCommand) and parses the
// replies with the functions below.
//
// Why QMP and not a libvirt <disk type='network'>:
// - Reconnect. QEMU's NBD client without `reconnect-delay` fails every request after a dropped
//   connection, for good (measured with QEMU 7.2 against a restarted qemu-storage-daemon), and
//   the connection drops whenever the volume service or its daemon restarts and whenever a grow
//   re-creates the export. libvirt 9.0's NBD <source> has no reconnect setting (its domain
//   schema, checked), so a libvirt element cannot ride over either; a blockdev-add can.
// - Online grow. A grown volume reaches the guest by block_resize on the disk's top node once
//   the client has reconnected to the larger export (ResizeCommand); the node names must be
//   known, and libvirt names its own nodes.
// - Encryption. libvirt would need the key as a libvirt secret, and the agent runs libvirt's
//   embedded QEMU driver (qemu:///embed?root=DIR), whose secret driver (secret:///embed) in
//   libvirt 9.0 (Debian 12) crashes the process on the first ephemeral secret: secretDefineXML
//   ends with "if any ephemeral secret exists, call driver->inhibitCallback(true, ...)", and the
//   embedded driver is initialised with a NULL inhibit callback (a jump to address 0; gdb on a
//   20-line program that opens secret:///embed?root=... and defines an ephemeral secret). A
//   non-ephemeral secret does not crash, but libvirt then writes the value to
//   DIR/etc/secrets/UUID.base64: the key on disk.
//
// So no EBS disk appears in libvirt's domain XML (BuildDomainXml leaves them out); the adapter
// plugs them into the domain started paused, before its first instruction, and hot-plugs them
// later the same way. Plugging is, in order:
//   object-add      secret  mcx-key-<target>   encrypted only: the key, base64, over the monitor
//                                              socket only
//   object-add      tls-creds-x509 mcx-tls-<target>  NBD over TLS only: the host's NBD client
//                                              certificate (agent/runtime/nbd_client_tls.h)
//   blockdev-add    nbd     mcx-nbd-<target>   the volume service's export (tls-creds,
//                                              tls-hostname when over TLS; reconnect-delay
//                                              kNbdReconnectDelaySeconds)
//   blockdev-add    luks    mcx-luks-<target>  encrypted only: QEMU's LUKS driver on top, opened
//                                              with the key
//   object-del      mcx-key-<target>           encrypted only: the passphrase is dropped at once:
//                                              the opened LUKS node keeps only the master key
//   device_add      virtio-blk-pci mcx-<target>-<export> on the top node (luks or nbd); serial
//                   = EbsSerial; bootindex 0 for the root; a PCI slot picked from the top of
//                   pci.0
//   block_set_io_throttle  the volume type's limits (EBS limits reads and writes together: only
//                   the total bps/iops family)
// Choices carried over from the libvirt element the plain disks were before: raw over NBD (the
// volume service owns the image format), cache.direct (no host page cache between the guest and
// the network: a guest flush is an NBD flush), discard=unmap (TRIM reaches the volume service).
// Unplugging: device_del (the guest must release it, as for any hot-unplug), then, once the
// device is gone, blockdev-del luks, blockdev-del nbd (and object-del of a key left over by an
// interrupted plug).
// The device id carries the target and the export, so the disks are found again from the running
// QEMU alone (qom-list /machine/peripheral): an agent that restarts re-adopts them.
// Node names are at most 31 characters in QEMU: "mcx-luks-" + a target of at most 4 is 13.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "agent/hypervisor/hypervisor.h"

namespace minicloud::hypervisor {

// How long QEMU's NBD client holds an EBS disk's requests while it reconnects to the volume
// service (its `reconnect-delay`): room for a restart of volumed or of its qemu-storage-daemon;
// requests of a volume service away for longer fail then.
inline constexpr int kNbdReconnectDelaySeconds = 60;

// A virtio target an EBS disk can have: "vd" and one or two lowercase letters.
bool IsEbsTarget(std::string_view target_dev);

// The QOM id of the virtio-blk device of an EBS disk: "mcx-<target>-<export>".
std::string EbsDeviceId(const EbsDisk& disk);

// The commands that plug `disk` (validated first: ValidateEbsDisk) into the
// running QEMU at `pci_slot` of pci.0 (1-31), in order. For an encrypted disk the first one
// carries the key: callers must never log a command.
// `firmware_boot` false: the guest's kernel is loaded directly (QEMU's loader holds boot index
// 0), so a boot disk gets no boot index.
// A disk with nbd_tls first gets a tls-creds-x509 client object mcx-tls-<target> over
// `nbd_tls_dir` (QEMU's client credentials directory; InvalidArgument when empty), and its NBD
// node tls-creds and tls-hostname.
absl::StatusOr<std::vector<std::string>> EbsPlugCommands(const EbsDisk& disk, int pci_slot,
                                                         bool firmware_boot = true,
                                                         const std::string& nbd_tls_dir = "");

// block_set_io_throttle of `disk`'s device (its target and export name it) to disk.iotune: a
// volume type's limits at the plug, or new ones after modify-volume changed its type or IOPS.
std::string ThrottleCommand(const EbsDisk& disk);

// device_del of the device with this id.
std::string EbsUnplugCommand(std::string_view device_id);

// What is left of a plug at `target_dev` once its device is gone (or was never added): the LUKS
// node, the NBD node, the key object, the TLS object; each may already be absent.
std::vector<std::string> EbsReleaseCommands(std::string_view target_dev);

// A reply of QEMU's monitor: the "return" value as JSON text, or the "error" as a Status
// (NotFound for DeviceNotFound, FailedPrecondition otherwise) whose message is QEMU's class and
// desc. InvalidArgument for text that is no QMP reply.
absl::StatusOr<std::string> QmpReturn(std::string_view reply);

// The disk a device id names (the inverse of EbsDeviceId); nullopt for any other id.
std::optional<AttachedEbsDisk> ParseEbsDeviceId(std::string_view device_id);

// The EBS disks among the children of /machine/peripheral (the "return" of qom-list):
// every child whose name parses as a EbsDeviceId.
std::vector<AttachedEbsDisk> EbsDisksInQomList(std::string_view qom_list_return);

// An EBS disk as QEMU holds it now (from query-block): its target, the node its device reads
// (mcx-luks-<target> for an encrypted disk, else mcx-nbd-<target>) and that node's size, which
// is what the guest sees.
struct EbsDiskSize {
  std::string target_dev;
  std::string node_name;
  int64_t bytes = 0;
};
// The EBS disks in the "return" of query-block: every block backend whose qdev is an
// EbsDeviceId's virtio backend. Entries that are not, or lack a size, are left out.
std::vector<EbsDiskSize> EbsDiskSizesInQueryBlock(std::string_view query_block_return);

// Growing a disk the guest has, after the volume service re-created its export larger. QEMU's
// NBD client learns an export's size only when it connects, and (with reconnect-delay) it
// reconnects to a re-created export lazily, on its next request. So, in order:
//   NbdReconnectCommand: one 512-byte read of the NBD node through HMP's qemu-io (QMP has no
//     read); the read waits for the reconnect, after which the node knows the new size;
//   GrowCommand: block_resize of the device's node to `bytes`; QEMU resizes the LUKS payload
//     (or checks the NBD size, which it cannot change), and virtio-blk tells the guest (a
//     config change interrupt; Linux logs "new size" and updates /sys/block/vdX/size).
// block_resize of an NBD node beyond the export's size fails ("Cannot grow NBD nodes"): the
// export has not grown yet. The read runs on the monitor: with the volume service away it holds
// the monitor up to kNbdReconnectDelaySeconds (the caller only grows after the service grew the
// volume, so it is there).
std::string NbdReconnectCommand(std::string_view target_dev);
std::string GrowCommand(std::string_view node_name, int64_t bytes);

// The highest free slot of PCI bus 0 in [8, 31] (the "return" of query-pci). libvirt allocates
// its own devices' slots from the bottom, so taking them from the top keeps both apart.
// ResourceExhausted when none is free.
absl::StatusOr<int> FreePciSlot(std::string_view query_pci_return);

}  // namespace minicloud::hypervisor
