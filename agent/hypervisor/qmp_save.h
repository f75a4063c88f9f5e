#pragma once

// Hibernation of a guest with EBS disks, as QMP commands and a file format. Pure (no
// libvirt headers, no I/O), like ebs_qmp.h; the libvirt adapter (libvirt/libvirt_save.cc)
// sends the commands and writes and reads the file.
//
// Why not libvirt's save image: EBS disks are plugged over QMP (ebs_qmp.h), so they
// are not in the domain XML that libvirt's image carries, and a QEMU started from that XML
// would meet their device state in the migration stream with no device to load it into. So the
// agent saves such a guest itself, the way libvirt does underneath:
//   save:    pause; write the header below; hand QEMU the file (getfd); `migrate` to "fd:NAME";
//            wait for query-migrate "completed"; destroy the domain.
//   restore: start the domain paused with `-incoming defer` (BuildIncomingDomainXml); plug the
//            EBS disks at the PCI slots they had (the stream names devices by their bus
//            address); hand QEMU the file positioned after the header; `migrate-incoming`; wait
//            for "completed"; resume. Block nodes added while QEMU waits for the stream are
//            opened inactive and activated when it completes, as for a migration.
//
// The file: a header of exactly kQmpSaveHeaderBytes, then QEMU's migration stream.
//   "MINICLOUD-QMP-SAVE 1\n" {"ebs_slots":{"vda":31,...}} "\n", padded with spaces.
// No key is in it: the LUKS nodes hold keys only in QEMU's memory, and the RAM image goes to a
// saved-state volume that is itself encrypted (agent/runtime/hibernation.h).

#include <cstddef>
#include <map>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace minicloud::hypervisor {

inline constexpr size_t kQmpSaveHeaderBytes = 4096;

struct QmpSaveHeader {
  // The PCI slot on pci.0 of each EBS disk's device, by virtio target ("vda" -> 31).
  std::map<std::string, int> ebs_slots;
  bool operator==(const QmpSaveHeader&) const = default;
};

// Exactly kQmpSaveHeaderBytes. InvalidArgument for a target or slot no plug could have made.
absl::StatusOr<std::string> EncodeQmpSaveHeader(const QmpSaveHeader& header);

// The header at the start of a saved-state file (`head`: its first kQmpSaveHeaderBytes or
// more). NotFound when the file is not one of ours (e.g. libvirt's save image, which starts
// with "LibvirtQemudSave"); InvalidArgument when it is ours but malformed.
absl::StatusOr<QmpSaveHeader> DecodeQmpSaveHeader(std::string_view head);

// The slots of the EBS disks' devices (ids as EbsDeviceId) in the "return" of
// query-pci, by target.
absl::StatusOr<std::map<std::string, int>> EbsDiskSlots(std::string_view query_pci_return);

// getfd: QEMU takes the descriptor sent with this command under `fdname`.
std::string GetFdCommand(std::string_view fdname);
// No bandwidth cap on the way to the file (QEMU's default is 32 MiB/s, sized for networks).
std::string UnlimitedMigrationSpeedCommand();
std::string MigrateToFdCommand(std::string_view fdname);
std::string MigrateIncomingFromFdCommand(std::string_view fdname);
std::string MigrateCancelCommand();
std::string QueryMigrateCommand();

// The "return" of query-migrate: true once "completed", false while on the way ("setup",
// "active", "device", ...). FailedPrecondition with QEMU's error-desc when "failed" or
// "cancelled"; InvalidArgument when it is no status at all.
absl::StatusOr<bool> MigrationCompleted(std::string_view query_migrate_return);

}  // namespace minicloud::hypervisor
