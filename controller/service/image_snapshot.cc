// EBS-backed AMIs' snapshots: the import of an uploaded disk into each zone's volume service
// (ImportImage, and FinishSnapshot's import branch) and the hook that keeps a snapshot an AMI
// uses from being deleted.
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "controller/service/ebs_mapping.h"
#include "controller/service/volume_service.h"

namespace minicloud::controller {
namespace {

// The snapshot's VolumeId for snapshots of AMIs (EC2 API reference, Snapshot.VolumeId: "an
// arbitrary volume ID that should not be used for any purpose").
constexpr char kNoVolumeId[] = "vol-ffffffff";

// The scratch volume an import writes the disk into: derived from the snapshot id, so a retried
// import after a restart finds (or re-creates) the same one.
std::string ScratchVolumeId(const std::string& snapshot_id) {
  absl::string_view suffix = snapshot_id;
  absl::ConsumePrefix(&suffix, "snap-");
  return absl::StrCat("vol-import-", suffix);
}

}  // namespace

const v1::ImageRecord* ImageImportOfLocked(CloudState& state, const std::string& snapshot_id) {
  for (const auto& [id, img] : state.images()) {
    if (img.from_snapshot()) continue;  // its snapshots were taken or copied, not imported
    for (const auto& [zone, snap] : img.zone_snapshots()) {
      if (snap == snapshot_id) return &img;
    }
  }
  return nullptr;
}

std::string ImageUsingSnapshotLocked(CloudState& state, const std::string& snapshot_id) {
  if (const v1::ImageRecord* img = ImageImportOfLocked(state, snapshot_id)) return img->image_id();
  for (const auto& [id, img] : state.images()) {
    for (const v1::BlockDeviceMapping& m : img.block_device_mappings()) {
      if (m.has_ebs() && m.ebs().snapshot_id() == snapshot_id) return id;
    }
  }
  return "";
}

int VolumeService::ImportImage(const std::string& image_id) {
  std::vector<v1::SnapshotRecord> pending;
  {
    auto lock = state_.LockCommitted();
    auto it = state_.images().find(image_id);
    if (it == state_.images().end() || it->second.root_device_type() != kRootDeviceTypeEbs ||
        it->second.from_snapshot()) {
      return 0;
    }
    v1::ImageRecord image = it->second;
    CloudState::Changes changes;
    for (const auto& [zone, client] : fleet_.zones()) {
      if (auto s = image.zone_snapshots().find(zone); s != image.zone_snapshots().end()) {
        auto r = state_.snapshots().find(s->second);
        if (r != state_.snapshots().end() && r->second.state() == v1::SNAPSHOT_STATE_PENDING) {
          pending.push_back(r->second);
        }
        continue;
      }
      v1::SnapshotRecord r;
      r.set_snapshot_id(ids_.Next("snap"));
      r.set_volume_id(kNoVolumeId);
      r.set_availability_zone(zone);
      r.set_volume_size_gib(GibFor(image.virtual_size_bytes()));
      r.set_state(v1::SNAPSHOT_STATE_PENDING);
      r.set_description(absl::StrCat("Created by RegisterImage for ", image_id, " from the disk ",
                                     image.boot().sha256().substr(0, 12)));
      r.set_start_time_ms(absl::ToUnixMillis(clock_.Now()));
      (*image.mutable_zone_snapshots())[zone] = r.snapshot_id();
      changes.snapshots[r.snapshot_id()] = r;
      pending.push_back(std::move(r));
    }
    if (changes.snapshots.empty() && pending.empty()) return 0;
    if (!changes.snapshots.empty()) {
      changes.images[image_id] = image;
      if (auto s = state_.CommitLocked(changes); !s.ok()) return 0;  // does not return
    }
  }
  int completed = 0;
  for (const auto& r : pending) {
    if (FinishSnapshot(r).state() == v1::SNAPSHOT_STATE_COMPLETED) ++completed;
  }
  return completed;
}

absl::StatusOr<SnapshotInfo> VolumeService::RunImageImport(const v1::SnapshotRecord& r,
                                                           const v1::ImageRecord& image) {
  if (image_blobs_ == nullptr || disk_writer_ == nullptr) {
    return absl::UnavailableError("the controller has no image source for EBS imports");
  }
  MC_ASSIGN_OR_RETURN(VolumeServiceClient * client, fleet_.ServiceFor(r.availability_zone()));
  MC_ASSIGN_OR_RETURN(const std::string disk, image_blobs_->PathOf(image.boot().sha256()));
  const std::string scratch = ScratchVolumeId(r.snapshot_id());
  const std::string what = absl::StrCat("import ", image.image_id(), " into ", r.snapshot_id(),
                                        " (", r.availability_zone(), ")");
  VolumeSpec spec{.volume_id = scratch, .size_gib = r.volume_size_gib(), .volume_type = "gp2"};
  MC_RETURN_IF_ERROR(Annotate(client->CreateVolume(spec), what));
  MC_ASSIGN_OR_RETURN(const NbdEndpoint to, client->ExportVolume(scratch));
  absl::Status written = disk_writer_->WriteQcow2(disk, to);
  absl::Status unexported = client->UnexportVolume(scratch);
  MC_RETURN_IF_ERROR(Annotate(written, what));
  MC_RETURN_IF_ERROR(Annotate(unexported, what));
  MC_ASSIGN_OR_RETURN(SnapshotInfo info, client->CreateSnapshot(scratch, r.snapshot_id()));
  // The snapshot keeps the data (the service's contract); a failed drop is only space.
  if (absl::Status s = client->DeleteVolume(scratch); !s.ok()) {
    spdlog::warn("{}: scratch volume {} not deleted: {}", what, scratch, s.message());
  }
  spdlog::info("{}: {} bytes stored", what, info.stored_bytes);
  return info;
}

void VolumeService::FinishLaunchVolumes(const std::vector<std::string>& volume_ids) {
  for (const std::string& id : volume_ids) {
    v1::VolumeRecord v;
    {
      auto lock = state_.LockCommitted();
      auto it = state_.volumes().find(id);
      if (it == state_.volumes().end()) continue;
      v = it->second;
    }
    if (v.state() == v1::VOLUME_STATE_CREATING) v = FinishCreate(v, nullptr);
    if (v.state() != v1::VOLUME_STATE_IN_USE) continue;  // not made yet: Reconcile()
    for (const auto& a : v.attachments()) {
      if (a.state() != v1::ATTACHMENT_STATE_ATTACHING || !a.nbd_host().empty()) continue;
      if (absl::Status s = FinishExport(id, a.instance_id()); !s.ok()) {
        spdlog::warn("export {} for {}: {}", id, a.instance_id(), s.message());
      }
    }
  }
}

}  // namespace minicloud::controller
