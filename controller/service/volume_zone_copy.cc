// Volumes from a snapshot of another availability zone. EC2's snapshots are regional: a volume
// can be made from one in any zone of the region. Here a snapshot's data lives on its zone's
// volume service, where a clone is copy-on-write; a volume in another zone is a full copy, made
// by the reconcile loop (the volume stays `creating` meanwhile): a copy-on-write clone of the
// snapshot on the source zone's service (a scratch volume) and the new, blank volume on the
// target zone's service are both exported over NBD, the controller copies one into the other
// (DiskWriter::CopyExport), then the scratch volume is dropped. Every step is idempotent, so a
// restart of the controller or of either service in between is followed by the same steps
// again. An encrypted snapshot's volume is a copy of its LUKS container (same key, never decrypted
// here); a plain snapshot's encrypted copy is written through LUKS by the controller's qemu-img,
// so only ciphertext crosses the network.
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/ec2_error.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "controller/service/volume_service.h"

namespace minicloud::controller {
namespace {

// The scratch clone a copy reads from, named after the volume it makes, so that a copy asked
// again after a restart finds (or makes again) the same one.
std::string CopySourceVolumeId(const std::string& volume_id) {
  absl::string_view suffix = volume_id;
  absl::ConsumePrefix(&suffix, "vol-");
  return absl::StrCat("vol-zcopy-", suffix);
}

}  // namespace

absl::Status VolumeService::CheckZoneCopyLocked(const v1::SnapshotRecord& snap,
                                                const std::string& zone, bool encrypt) const {
  if ((snap.encrypted() || encrypt) && keys_ == nullptr) {
    return Ec2Error(
        absl::StatusCode::kFailedPrecondition, "UnsupportedOperation",
        absl::StrCat("Snapshot '", snap.snapshot_id(), "' is kept in ", snap.availability_zone(),
                     ": an encrypted volume from it can only be created there, not in ",
                     QuoteForMessage(zone, 64), " (this controller has no key store)"));
  }
  if (disk_writer_ == nullptr) {
    return Ec2Error(
        absl::StatusCode::kFailedPrecondition, "UnsupportedOperation",
        absl::StrCat("Snapshot '", snap.snapshot_id(), "' is kept in ", snap.availability_zone(),
                     "; this controller cannot copy it to ", QuoteForMessage(zone, 64)));
  }
  return absl::OkStatus();
}

absl::Status VolumeService::CopyAcrossZones(const v1::VolumeRecord& r,
                                            const v1::SnapshotRecord& snap) {
  if (disk_writer_ == nullptr) {
    return absl::UnavailableError("the controller has no disk writer for copies across zones");
  }
  const std::string what = absl::StrCat("copy ", snap.snapshot_id(), " (", snap.availability_zone(),
                                        ") into ", r.volume_id(), " (", r.availability_zone(), ")");
  absl::StatusOr<VolumeServiceClient*> source_service = fleet_.ServiceFor(snap.availability_zone());
  if (!source_service.ok()) {
    // The zone that keeps the snapshot has no volume service (any more): nothing to copy from.
    // Not the target zone's capacity (ResourceExhausted would say so).
    return absl::FailedPreconditionError(
        absl::StrCat(what, ": ", snap.availability_zone(), " has no volume service"));
  }
  VolumeServiceClient* from = *source_service;
  MC_ASSIGN_OR_RETURN(VolumeServiceClient * to, fleet_.ServiceFor(r.availability_zone()));
  // An encrypted volume from an encrypted snapshot keeps the snapshot's key (SetEncryptionLocked):
  // its LUKS container, header included, is copied as it is (sparse; the target's service
  // formats it with the same key first, then the copy replaces its header with the source's,
  // which both zones' services make alike). A plain snapshot into an encrypted volume: the
  // controller writes the data through LUKS with the volume's key, in clear only in this process
  // and in qemu-img's.
  std::string to_key;
  if (r.encrypted()) {
    if (keys_ == nullptr) return absl::FailedPreconditionError("no key store for encrypted copies");
    if (snap.encrypted() && r.data_key_id() != snap.data_key_id()) {
      return absl::FailedPreconditionError(
          absl::StrCat(what, ": the volume's key is not the snapshot's"));
    }
    MC_ASSIGN_OR_RETURN(to_key, keys_->Open(r.sealed_data_key(), r.data_key_id()));
  }
  const bool through_luks = r.encrypted() && !snap.encrypted();
  const std::string scratch = CopySourceVolumeId(r.volume_id());
  MC_RETURN_IF_ERROR(Annotate(from->CreateVolume({.volume_id = scratch,
                                                  .size_gib = snap.volume_size_gib(),
                                                  .volume_type = "gp2",
                                                  .snapshot_id = snap.snapshot_id(),
                                                  .encrypted = snap.encrypted()}),
                              what));
  // The new volume is blank on its service (LUKS-formatted when encrypted): the copy fills it.
  MC_RETURN_IF_ERROR(Annotate(to->CreateVolume({.volume_id = r.volume_id(),
                                                .size_gib = r.size_gib(),
                                                .volume_type = r.volume_type(),
                                                .encrypted = r.encrypted(),
                                                .encryption_key = to_key}),
                              what));
  MC_ASSIGN_OR_RETURN(const NbdEndpoint source, from->ExportVolume(scratch));
  absl::StatusOr<NbdEndpoint> target = to->ExportVolume(r.volume_id());
  absl::Status copied = target.ok()
                            ? disk_writer_->CopyExport(source, *target, through_luks ? to_key : "")
                            : target.status();
  if (absl::Status s = to->UnexportVolume(r.volume_id()); !s.ok() && copied.ok()) copied = s;
  if (absl::Status s = from->UnexportVolume(scratch); !s.ok()) {
    spdlog::warn("{}: scratch volume {} not unexported: {}", what, scratch, s.message());
  }
  MC_RETURN_IF_ERROR(Annotate(copied, what));
  // The copy is whole; a failed drop of the scratch clone is only space on the source.
  if (absl::Status s = from->DeleteVolume(scratch); !s.ok()) {
    spdlog::warn("{}: scratch volume {} not deleted: {}", what, scratch, s.message());
  }
  spdlog::info("{}: done", what);
  return absl::OkStatus();
}

}  // namespace minicloud::controller
