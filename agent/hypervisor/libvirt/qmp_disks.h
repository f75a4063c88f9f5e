#pragma once

// EBS disks of a running domain, over its QEMU monitor (virDomainQemuMonitorCommand of
// libvirt-qemu; the commands and why: ebs_qmp.h). Internal to the libvirt adapter; callers
// hold the instance's IdLock.
//
// An encrypted disk's key travels: controller -> agent (mutually authenticated gRPC) -> this
// process's memory -> the QEMU monitor socket (a UNIX socket under the embed root's run/ directory,
// only the agent and QEMU's account can connect) -> QEMU, which drops the passphrase right after
// opening the LUKS node. It is never in a command line, a file, the domain XML or a log line: no
// command text is ever logged or put into an error (libvirt logs monitor traffic only at debug
// level, which the agent never configures; SECURITY.md).

#include <libvirt/libvirt.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "agent/hypervisor/ebs_qmp.h"
#include "agent/hypervisor/hypervisor.h"

namespace minicloud::hypervisor::libvirt_internal {

// One QMP command over the domain's monitor; the "return" value as JSON text. `step` names the
// command in errors (the command text itself may hold a key and is never put into a message).
// With `fd` >= 0 the descriptor goes along (getfd takes it; libvirt dups it, the caller keeps
// and closes its own).
absl::StatusOr<std::string> Qmp(virDomainPtr dom, const std::string& command,
                                absl::string_view context, absl::string_view step, int fd = -1);

// Plugs `disk` into the running QEMU. Leftover nodes of an earlier plug at the
// same target (no device) are released first. On failure whatever was added is removed again
// and the error names the step, never the key. A boot disk gets bootindex 0: the caller must
// reset the machine (ResetMachine) before the guest's firmware runs; with `firmware_boot` false
// (a kernel loaded directly) it gets none. The device goes to `pci_slot` of pci.0, or with 0 to
// the highest free one (FreePciSlot). `nbd_tls_dir`: QEMU's NBD client credentials, for a disk
// with nbd_tls.
absl::Status PlugEbsDisk(virDomainPtr dom, const EbsDisk& disk, const std::string& nbd_tls_dir,
                         absl::string_view context, bool firmware_boot = true, int pci_slot = 0);

// The EBS disks the running QEMU has (its peripheral devices named by EbsDeviceId). None
// on a driver without a QEMU monitor (libvirt's test driver).
absl::StatusOr<std::vector<AttachedEbsDisk>> QmpEbsDisks(virDomainPtr dom,
                                                         absl::string_view context);

// The sizes of the EBS disks the running QEMU has (query-block). None on a driver without a QEMU
// monitor.
absl::StatusOr<std::vector<EbsDiskSize>> QmpEbsDiskSizes(virDomainPtr dom,
                                                         absl::string_view context);

// Asks the guest to release the disk at `disk.target_dev` (device_del) and waits a few seconds
// for it; once the device is gone its nodes are released. Success when it was asked (or is
// already gone).
absl::Status UnplugEbsDisk(virDomainPtr dom, const AttachedEbsDisk& disk,
                           absl::string_view context);

// Releases the nodes of targets that have no device among `devices` (QmpEbsDisks, just read):
// an unplug the guest finished after UnplugEbsDisk stopped waiting. Errors are logged.
void ReleaseUnpluggedEbsNodes(virDomainPtr dom, const std::vector<AttachedEbsDisk>& devices,
                              absl::string_view context);

// system_reset: QEMU rebuilds the firmware's boot order (fw_cfg "bootorder") at reset, so a
// boot disk plugged while the domain was paused before its first instruction is booted from.
absl::Status ResetMachine(virDomainPtr dom, absl::string_view context);

}  // namespace minicloud::hypervisor::libvirt_internal
