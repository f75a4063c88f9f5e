#include "volume/backend/fake/fake_volume_backend.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace minicloud::volume {

FakeVolumeBackend::FakeVolumeBackend(std::shared_ptr<FakeVolumeState> state, std::string nbd_host,
                                     int nbd_port)
    : state_(state ? std::move(state) : std::make_shared<FakeVolumeState>()),
      nbd_host_(std::move(nbd_host)),
      nbd_port_(nbd_port) {}

void FakeVolumeBackend::FailNext(const std::string& method, absl::Status status) {
  std::lock_guard lock(state_->mu);
  state_->fail_next[method] = std::move(status);
}

absl::Status FakeVolumeBackend::TakeFailure(const std::string& method) {
  auto it = state_->fail_next.find(method);
  if (it == state_->fail_next.end()) return absl::OkStatus();
  absl::Status s = std::move(it->second);
  state_->fail_next.erase(it);
  return s;
}

VolumeInfo FakeVolumeBackend::Info(const std::string& id, const FakeVolumeState::Volume& v) const {
  return VolumeInfo{.volume_id = id,
                    .size_bytes = v.size_bytes,
                    .stored_bytes = 0,
                    .snapshot_id = v.snapshot_id,
                    .exported = v.exported,
                    .encrypted = v.encrypted};
}

NbdEndpoint FakeVolumeBackend::Endpoint(absl::string_view volume_id) const {
  return NbdEndpoint{.host = nbd_host_, .port = nbd_port_, .export_name = std::string(volume_id)};
}

absl::StatusOr<VolumeInfo> FakeVolumeBackend::CreateVolume(const CreateVolumeRequest& r) {
  const std::string what = absl::StrCat("create volume ", r.volume_id);
  MC_RETURN_IF_ERROR(Annotate(CheckBackendId(r.volume_id, "volume id"), what));
  if (!r.snapshot_id.empty()) {
    MC_RETURN_IF_ERROR(Annotate(CheckBackendId(r.snapshot_id, "snapshot id"), what));
  }
  if (r.size_bytes != 0 || r.snapshot_id.empty()) {
    MC_RETURN_IF_ERROR(Annotate(CheckVolumeSize(r.size_bytes), what));
  }
  std::lock_guard lock(state_->mu);
  MC_RETURN_IF_ERROR(TakeFailure("CreateVolume"));
  uint64_t size = r.size_bytes;
  bool encrypted = !r.encryption_key.empty();
  if (!r.snapshot_id.empty()) {
    auto snap = state_->snapshots.find(r.snapshot_id);
    if (snap == state_->snapshots.end()) {
      // An existing volume made from a since-deleted snapshot is still an idempotent repeat.
      auto v = state_->volumes.find(r.volume_id);
      if (v != state_->volumes.end() && v->second.snapshot_id == r.snapshot_id &&
          (r.size_bytes == 0 || r.size_bytes == v->second.size_bytes)) {
        return Info(v->first, v->second);
      }
      return absl::NotFoundError(absl::StrCat(what, ": snapshot ", r.snapshot_id, " not found"));
    }
    if (size == 0) size = snap->second.size_bytes;
    if (encrypted && snap->second.encrypted) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": snapshot ", r.snapshot_id,
                       " is encrypted; a volume made from it keeps its key"));
    }
    // A key with a plain snapshot: an encrypted copy (see the contract).
    encrypted = encrypted || snap->second.encrypted;
    if (size < snap->second.size_bytes) {
      return absl::InvalidArgumentError(absl::StrCat(what, ": size ", size,
                                                     " is smaller than snapshot ", r.snapshot_id,
                                                     " (", snap->second.size_bytes, " bytes)"));
    }
  }
  auto [it, inserted] = state_->volumes.try_emplace(r.volume_id);
  if (!inserted) {
    if (it->second.size_bytes != size || it->second.snapshot_id != r.snapshot_id ||
        it->second.encrypted != encrypted) {
      return absl::AlreadyExistsError(
          absl::StrCat(what, ": a volume with this id exists with other parameters"));
    }
    return Info(it->first, it->second);
  }
  it->second.size_bytes = size;
  it->second.snapshot_id = r.snapshot_id;
  it->second.encrypted = encrypted;
  return Info(it->first, it->second);
}

absl::Status FakeVolumeBackend::DeleteVolume(absl::string_view volume_id) {
  const std::string what = absl::StrCat("delete volume ", volume_id);
  MC_RETURN_IF_ERROR(Annotate(CheckBackendId(volume_id, "volume id"), what));
  std::lock_guard lock(state_->mu);
  MC_RETURN_IF_ERROR(TakeFailure("DeleteVolume"));
  auto it = state_->volumes.find(std::string(volume_id));
  if (it == state_->volumes.end()) return absl::OkStatus();
  if (it->second.exported) {
    return absl::FailedPreconditionError(absl::StrCat(what, ": the volume is exported"));
  }
  state_->volumes.erase(it);
  return absl::OkStatus();
}

absl::StatusOr<VolumeInfo> FakeVolumeBackend::GrowVolume(absl::string_view volume_id,
                                                         uint64_t new_size_bytes) {
  const std::string what = absl::StrCat("grow volume ", volume_id, " to ", new_size_bytes);
  MC_RETURN_IF_ERROR(Annotate(CheckBackendId(volume_id, "volume id"), what));
  MC_RETURN_IF_ERROR(Annotate(CheckVolumeSize(new_size_bytes), what));
  std::lock_guard lock(state_->mu);
  MC_RETURN_IF_ERROR(TakeFailure("GrowVolume"));
  auto it = state_->volumes.find(std::string(volume_id));
  if (it == state_->volumes.end()) {
    return absl::NotFoundError(absl::StrCat(what, ": volume not found"));
  }
  if (new_size_bytes < it->second.size_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": volumes only grow (now ", it->second.size_bytes, " bytes)"));
  }
  it->second.size_bytes = new_size_bytes;
  return Info(it->first, it->second);
}

absl::StatusOr<VolumeInfo> FakeVolumeBackend::GetVolume(absl::string_view volume_id) {
  MC_RETURN_IF_ERROR(CheckBackendId(volume_id, "volume id"));
  std::lock_guard lock(state_->mu);
  auto it = state_->volumes.find(std::string(volume_id));
  if (it == state_->volumes.end()) {
    return absl::NotFoundError(absl::StrCat("volume ", volume_id, " not found"));
  }
  return Info(it->first, it->second);
}

absl::StatusOr<std::vector<VolumeInfo>> FakeVolumeBackend::ListVolumes() {
  std::lock_guard lock(state_->mu);
  MC_RETURN_IF_ERROR(TakeFailure("ListVolumes"));
  std::vector<VolumeInfo> out;
  for (const auto& [id, v] : state_->volumes) out.push_back(Info(id, v));
  return out;
}

absl::StatusOr<SnapshotInfo> FakeVolumeBackend::CreateSnapshot(absl::string_view volume_id,
                                                               absl::string_view snapshot_id) {
  const std::string what = absl::StrCat("create snapshot ", snapshot_id, " of ", volume_id);
  MC_RETURN_IF_ERROR(Annotate(CheckBackendId(volume_id, "volume id"), what));
  MC_RETURN_IF_ERROR(Annotate(CheckBackendId(snapshot_id, "snapshot id"), what));
  std::lock_guard lock(state_->mu);
  MC_RETURN_IF_ERROR(TakeFailure("CreateSnapshot"));
  auto existing = state_->snapshots.find(std::string(snapshot_id));
  if (existing != state_->snapshots.end()) {
    if (existing->second.volume_id != volume_id) {
      return absl::AlreadyExistsError(
          absl::StrCat(what, ": the snapshot exists, of volume ", existing->second.volume_id));
    }
    return SnapshotInfo{std::string(snapshot_id), existing->second.volume_id,
                        existing->second.size_bytes, 0, existing->second.encrypted};
  }
  auto v = state_->volumes.find(std::string(volume_id));
  if (v == state_->volumes.end()) {
    return absl::NotFoundError(absl::StrCat(what, ": volume not found"));
  }
  state_->snapshots[std::string(snapshot_id)] = {std::string(volume_id), v->second.size_bytes,
                                                 v->second.encrypted};
  return SnapshotInfo{std::string(snapshot_id), std::string(volume_id), v->second.size_bytes, 0,
                      v->second.encrypted};
}

absl::Status FakeVolumeBackend::DeleteSnapshot(absl::string_view snapshot_id) {
  MC_RETURN_IF_ERROR(Annotate(CheckBackendId(snapshot_id, "snapshot id"),
                              absl::StrCat("delete snapshot ", snapshot_id)));
  std::lock_guard lock(state_->mu);
  MC_RETURN_IF_ERROR(TakeFailure("DeleteSnapshot"));
  state_->snapshots.erase(std::string(snapshot_id));
  return absl::OkStatus();
}

absl::StatusOr<std::vector<SnapshotInfo>> FakeVolumeBackend::ListSnapshots() {
  std::lock_guard lock(state_->mu);
  MC_RETURN_IF_ERROR(TakeFailure("ListSnapshots"));
  std::vector<SnapshotInfo> out;
  for (const auto& [id, s] : state_->snapshots) {
    out.push_back({id, s.volume_id, s.size_bytes, 0, s.encrypted});
  }
  return out;
}

absl::StatusOr<NbdEndpoint> FakeVolumeBackend::Export(absl::string_view volume_id) {
  const std::string what = absl::StrCat("export volume ", volume_id);
  MC_RETURN_IF_ERROR(Annotate(CheckBackendId(volume_id, "volume id"), what));
  std::lock_guard lock(state_->mu);
  MC_RETURN_IF_ERROR(TakeFailure("Export"));
  auto it = state_->volumes.find(std::string(volume_id));
  if (it == state_->volumes.end()) {
    return absl::NotFoundError(absl::StrCat(what, ": volume not found"));
  }
  it->second.exported = true;
  return Endpoint(volume_id);
}

absl::Status FakeVolumeBackend::Unexport(absl::string_view volume_id) {
  MC_RETURN_IF_ERROR(Annotate(CheckBackendId(volume_id, "volume id"),
                              absl::StrCat("unexport volume ", volume_id)));
  std::lock_guard lock(state_->mu);
  MC_RETURN_IF_ERROR(TakeFailure("Unexport"));
  auto it = state_->volumes.find(std::string(volume_id));
  if (it != state_->volumes.end()) it->second.exported = false;
  return absl::OkStatus();
}

BackendHealth FakeVolumeBackend::Health() {
  std::lock_guard lock(state_->mu);
  BackendHealth h{.healthy = true, .backend = "fake", .detail = "in memory"};
  h.volumes = static_cast<int64_t>(state_->volumes.size());
  h.snapshots = static_cast<int64_t>(state_->snapshots.size());
  for (const auto& [id, v] : state_->volumes) h.exports += v.exported ? 1 : 0;
  return h;
}

}  // namespace minicloud::volume
