// QsdVolumeBackend's operations; start, recovery and helpers are in qsd_recovery.cc.

#include "volume/backend/qsd/qsd_volume_backend.h"

#include <sys/stat.h>
#include <sys/statvfs.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/status_macros.h"

namespace minicloud::volume {

VolumeInfo QsdVolumeBackend::InfoLocked(const std::string& id, const VolumeRecord& v) const {
  return VolumeInfo{.volume_id = id,
                    .size_bytes = v.size_bytes,
                    .stored_bytes = StoredBytes(v.top),
                    .snapshot_id = v.snapshot_id,
                    .exported = v.exported,
                    .encrypted = v.crypt_header_bytes != 0};
}

NbdEndpoint QsdVolumeBackend::EndpointLocked(absl::string_view volume_id) const {
  return NbdEndpoint{.host = options_.nbd_advertise_host,
                     .port = nbd_listener_.port,
                     .export_name = std::string(volume_id),
                     .tls = options_.nbd_tls.has_value(),
                     .tls_hostname = options_.nbd_tls ? options_.nbd_tls_hostname : ""};
}

absl::StatusOr<VolumeInfo> QsdVolumeBackend::CreateVolume(const CreateVolumeRequest& r) {
  const std::string what = absl::StrCat("create volume ", r.volume_id);
  MC_RETURN_IF_ERROR(Annotate(CheckBackendId(r.volume_id, "volume id"), what));
  if (!r.snapshot_id.empty()) {
    MC_RETURN_IF_ERROR(Annotate(CheckBackendId(r.snapshot_id, "snapshot id"), what));
  }
  if (r.size_bytes != 0 || r.snapshot_id.empty()) {
    MC_RETURN_IF_ERROR(Annotate(CheckVolumeSize(r.size_bytes), what));
  }
  std::lock_guard lock(mu_);
  MC_RETURN_IF_ERROR(Annotate(EnsureDaemonLocked(), what));
  auto existing = manifest_.volumes.find(r.volume_id);
  if (existing != manifest_.volumes.end()) {
    const VolumeRecord& v = existing->second;
    // A clone of an encrypted snapshot is encrypted without a key in the request.
    const bool same_crypt = (v.crypt_header_bytes != 0) == !r.encryption_key.empty() ||
                            (r.encryption_key.empty() && !r.snapshot_id.empty());
    if (v.snapshot_id == r.snapshot_id && same_crypt &&
        (r.size_bytes == 0 || r.size_bytes == v.size_bytes)) {
      return InfoLocked(existing->first, v);
    }
    return absl::AlreadyExistsError(
        absl::StrCat(what, ": a volume with this id exists with other parameters"));
  }
  uint64_t size = r.size_bytes;
  int64_t backing = 0;
  uint64_t header = 0;
  if (!r.snapshot_id.empty()) {
    auto snap = manifest_.snapshots.find(r.snapshot_id);
    if (snap == manifest_.snapshots.end()) {
      return absl::NotFoundError(absl::StrCat(what, ": snapshot ", r.snapshot_id, " not found"));
    }
    if (size == 0) size = snap->second.size_bytes;
    if (size < snap->second.size_bytes) {
      return absl::InvalidArgumentError(absl::StrCat(what, ": size ", size,
                                                     " is smaller than snapshot ", r.snapshot_id,
                                                     " (", snap->second.size_bytes, " bytes)"));
    }
    if (!r.encryption_key.empty() && snap->second.crypt_header_bytes != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": snapshot ", r.snapshot_id,
                       " is encrypted; a volume made from it keeps its key"));
    }
    backing = snap->second.layer;
    header = snap->second.crypt_header_bytes;
  }
  // An encryption key with a plain snapshot: a new LUKS layer holding an encrypted copy.
  const bool copy_encrypted = !r.encryption_key.empty() && backing != 0;
  const int64_t source = backing;
  const uint64_t source_bytes =
      copy_encrypted ? manifest_.snapshots.at(r.snapshot_id).size_bytes : 0;
  if (copy_encrypted) backing = 0;
  const int64_t n = manifest_.next_layer++;
  MC_ASSIGN_OR_RETURN(const std::string path, LayerPath(n));
  std::vector<std::string> argv = {options_.qemu_img, "create", "-q", "-f", "qcow2"};
  if (backing != 0) {
    MC_ASSIGN_OR_RETURN(const std::string backing_path, LayerPath(backing));
    // -u: the size is given, the backing file need not be opened (the daemon holds it).
    argv.insert(argv.end(), {"-u", "-b", backing_path, "-F", "qcow2"});
  }
  // A new encrypted volume starts empty: writing the LUKS header grows it to header + size.
  const bool format_luks = !r.encryption_key.empty();
  argv.insert(argv.end(), {path, std::to_string(format_luks ? 0 : size + header)});
  auto remove_file = [&] {
    std::error_code ec;
    std::filesystem::remove(path, ec);
  };
  absl::Status s = RunTool(argv);
  if (s.ok() && chmod(path.c_str(), 0600) != 0) s = absl::InternalError("chmod " + path);
  if (s.ok()) s = OpenLayerLocked(n, backing);
  if (s.ok() && format_luks) {
    absl::StatusOr<uint64_t> written =
        copy_encrypted ? CopyEncryptedLocked(n, source, source_bytes, size, r.encryption_key)
                       : FormatLuksLocked(n, size, r.encryption_key);
    s = written.status();
    if (s.ok()) header = *written;
    if (!s.ok()) (void)qsd_->qmp().Execute("blockdev-del", {{"node-name", absl::StrCat("l", n)}});
  }
  if (!s.ok()) {
    remove_file();
    return Annotate(s, what);
  }
  LayerManifest before = manifest_;
  manifest_.layers[n] = {backing, false};
  manifest_.volumes[r.volume_id] = {n, size, r.snapshot_id, false, header};
  s = SaveOrRestoreLocked(std::move(before));
  if (!s.ok()) {
    (void)qsd_->qmp().Execute("blockdev-del", {{"node-name", absl::StrCat("l", n)}});
    remove_file();
    return Annotate(s, what);
  }
  return InfoLocked(r.volume_id, manifest_.volumes[r.volume_id]);
}

absl::Status QsdVolumeBackend::DeleteVolume(absl::string_view volume_id) {
  const std::string what = absl::StrCat("delete volume ", volume_id);
  MC_RETURN_IF_ERROR(Annotate(CheckBackendId(volume_id, "volume id"), what));
  std::lock_guard lock(mu_);
  MC_RETURN_IF_ERROR(Annotate(EnsureDaemonLocked(), what));
  auto it = manifest_.volumes.find(std::string(volume_id));
  if (it == manifest_.volumes.end()) return absl::OkStatus();
  if (it->second.exported) {
    return absl::FailedPreconditionError(
        absl::StrCat(what, ": the volume is exported (unexport it first)"));
  }
  LayerManifest before = manifest_;
  manifest_.volumes.erase(it);
  MC_RETURN_IF_ERROR(Annotate(SaveOrRestoreLocked(std::move(before)), what));
  CollectGarbageLocked();
  return Annotate(SaveLocked(), what);
}

absl::StatusOr<VolumeInfo> QsdVolumeBackend::GrowVolume(absl::string_view volume_id,
                                                        uint64_t new_size) {
  const std::string what = absl::StrCat("grow volume ", volume_id, " to ", new_size);
  MC_RETURN_IF_ERROR(Annotate(CheckBackendId(volume_id, "volume id"), what));
  MC_RETURN_IF_ERROR(Annotate(CheckVolumeSize(new_size), what));
  std::lock_guard lock(mu_);
  MC_RETURN_IF_ERROR(Annotate(EnsureDaemonLocked(), what));
  auto it = manifest_.volumes.find(std::string(volume_id));
  if (it == manifest_.volumes.end()) {
    return absl::NotFoundError(absl::StrCat(what, ": volume not found"));
  }
  VolumeRecord& v = it->second;
  if (new_size < v.size_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": volumes only grow (now ", v.size_bytes, " bytes)"));
  }
  if (new_size == v.size_bytes) return InfoLocked(it->first, v);
  // An NBD export forbids resizing its node, so an exported volume is withdrawn for the resize
  // and offered again under the same name.
  if (v.exported) MC_RETURN_IF_ERROR(Annotate(RemoveExportLocked(volume_id), what));
  absl::Status s = qsd_->qmp()
                       .Execute("block_resize", {{"node-name", absl::StrCat("l", v.top)},
                                                 {"size", new_size + v.crypt_header_bytes}})
                       .status();
  if (s.ok()) {
    LayerManifest before = manifest_;
    v.size_bytes = new_size;
    s = SaveOrRestoreLocked(std::move(before));  // lost: recovery takes the file's size
  }
  VolumeRecord& after = manifest_.volumes[std::string(volume_id)];
  if (after.exported) {
    absl::Status e = AddExportLocked(volume_id, after.top);
    if (!e.ok()) spdlog::error("{}: re-export failed: {}", what, e.ToString());
    if (s.ok()) s = e;
  }
  if (!s.ok()) return Annotate(s, what);
  return InfoLocked(std::string(volume_id), after);
}

absl::StatusOr<VolumeInfo> QsdVolumeBackend::GetVolume(absl::string_view volume_id) {
  MC_RETURN_IF_ERROR(CheckBackendId(volume_id, "volume id"));
  std::lock_guard lock(mu_);
  auto it = manifest_.volumes.find(std::string(volume_id));
  if (it == manifest_.volumes.end()) {
    return absl::NotFoundError(absl::StrCat("volume ", volume_id, " not found"));
  }
  return InfoLocked(it->first, it->second);
}

absl::StatusOr<std::vector<VolumeInfo>> QsdVolumeBackend::ListVolumes() {
  std::lock_guard lock(mu_);
  std::vector<VolumeInfo> out;
  for (const auto& [id, v] : manifest_.volumes) out.push_back(InfoLocked(id, v));
  return out;
}

absl::StatusOr<SnapshotInfo> QsdVolumeBackend::CreateSnapshot(absl::string_view volume_id,
                                                              absl::string_view snapshot_id) {
  const std::string what = absl::StrCat("create snapshot ", snapshot_id, " of ", volume_id);
  MC_RETURN_IF_ERROR(Annotate(CheckBackendId(volume_id, "volume id"), what));
  MC_RETURN_IF_ERROR(Annotate(CheckBackendId(snapshot_id, "snapshot id"), what));
  std::lock_guard lock(mu_);
  MC_RETURN_IF_ERROR(Annotate(EnsureDaemonLocked(), what));
  const std::string snap_id(snapshot_id);
  auto existing = manifest_.snapshots.find(snap_id);
  if (existing != manifest_.snapshots.end()) {
    const SnapshotRecord& s = existing->second;
    if (s.volume_id != volume_id) {
      return absl::AlreadyExistsError(
          absl::StrCat(what, ": the snapshot exists, of volume ", s.volume_id));
    }
    return SnapshotInfo{snap_id, s.volume_id, s.size_bytes, StoredBytes(s.layer),
                        s.crypt_header_bytes != 0};
  }
  auto vit = manifest_.volumes.find(std::string(volume_id));
  if (vit == manifest_.volumes.end()) {
    return absl::NotFoundError(absl::StrCat(what, ": volume not found"));
  }
  const int64_t frozen = vit->second.top;
  const int64_t n = manifest_.next_layer++;
  MC_ASSIGN_OR_RETURN(const std::string path, LayerPath(n));
  // Written ahead: if we crash from here on, the next start keeps the snapshot when layer n's
  // file opens, and undoes it otherwise.
  LayerManifest before = manifest_;
  manifest_.layers[n] = {frozen, true};
  vit->second.top = n;
  manifest_.snapshots[snap_id] = {std::string(volume_id), frozen, vit->second.size_bytes,
                                  vit->second.crypt_header_bytes};
  MC_RETURN_IF_ERROR(Annotate(SaveOrRestoreLocked(before), what));
  // The new top: an empty overlay over the frozen layer's file, opened on its own, then put
  // above the frozen layer in one drained step (blockdev-snapshot), which also moves an export
  // onto it. (blockdev-snapshot-sync would drop a new node that nothing but the volume uses.)
  MC_ASSIGN_OR_RETURN(const std::string frozen_path, LayerPath(frozen));
  const uint64_t size = vit->second.size_bytes + vit->second.crypt_header_bytes;
  absl::Status s = RunTool({options_.qemu_img, "create", "-q", "-f", "qcow2", "-u", "-b",
                            frozen_path, "-F", "qcow2", path, std::to_string(size)});
  if (s.ok() && chmod(path.c_str(), 0600) != 0) s = absl::InternalError("chmod " + path);
  bool opened = false;
  if (s.ok()) {
    s = OpenLayerLocked(n, 0);
    opened = s.ok();
  }
  if (s.ok()) {
    s = qsd_->qmp()
            .Execute("blockdev-snapshot",
                     {{"node", absl::StrCat("l", frozen)}, {"overlay", absl::StrCat("l", n)}})
            .status();
  }
  if (!s.ok() && opened) {
    (void)qsd_->qmp().Execute("blockdev-del", {{"node-name", absl::StrCat("l", n)}});
  }
  if (!s.ok()) {
    manifest_ = std::move(before);
    std::error_code ec;
    std::filesystem::remove(path, ec);
    absl::Status saved = SaveLocked();
    if (!saved.ok()) spdlog::error("{}: undo not saved: {}", what, saved.ToString());
    return Annotate(s, what);
  }
  manifest_.layers[n].pending = false;
  absl::Status saved = SaveLocked();  // lost: the next start sees the file and keeps it
  if (!saved.ok()) spdlog::warn("{}: {}", what, saved.ToString());
  const SnapshotRecord& made = manifest_.snapshots[snap_id];
  return SnapshotInfo{snap_id, std::string(volume_id), made.size_bytes, StoredBytes(frozen),
                      made.crypt_header_bytes != 0};
}

absl::Status QsdVolumeBackend::DeleteSnapshot(absl::string_view snapshot_id) {
  const std::string what = absl::StrCat("delete snapshot ", snapshot_id);
  MC_RETURN_IF_ERROR(Annotate(CheckBackendId(snapshot_id, "snapshot id"), what));
  std::lock_guard lock(mu_);
  MC_RETURN_IF_ERROR(Annotate(EnsureDaemonLocked(), what));
  auto it = manifest_.snapshots.find(std::string(snapshot_id));
  if (it == manifest_.snapshots.end()) return absl::OkStatus();
  LayerManifest before = manifest_;
  manifest_.snapshots.erase(it);
  MC_RETURN_IF_ERROR(Annotate(SaveOrRestoreLocked(std::move(before)), what));
  CollectGarbageLocked();
  return Annotate(SaveLocked(), what);
}

absl::StatusOr<std::vector<SnapshotInfo>> QsdVolumeBackend::ListSnapshots() {
  std::lock_guard lock(mu_);
  std::vector<SnapshotInfo> out;
  for (const auto& [id, s] : manifest_.snapshots) {
    out.push_back({id, s.volume_id, s.size_bytes, StoredBytes(s.layer), s.crypt_header_bytes != 0});
  }
  return out;
}

absl::StatusOr<NbdEndpoint> QsdVolumeBackend::Export(absl::string_view volume_id) {
  const std::string what = absl::StrCat("export volume ", volume_id);
  MC_RETURN_IF_ERROR(Annotate(CheckBackendId(volume_id, "volume id"), what));
  std::lock_guard lock(mu_);
  MC_RETURN_IF_ERROR(Annotate(EnsureDaemonLocked(), what));
  auto it = manifest_.volumes.find(std::string(volume_id));
  if (it == manifest_.volumes.end()) {
    return absl::NotFoundError(absl::StrCat(what, ": volume not found"));
  }
  if (it->second.exported) return EndpointLocked(volume_id);
  MC_RETURN_IF_ERROR(Annotate(AddExportLocked(volume_id, it->second.top), what));
  LayerManifest before = manifest_;
  it->second.exported = true;
  absl::Status s = SaveOrRestoreLocked(std::move(before));
  if (!s.ok()) {
    (void)RemoveExportLocked(volume_id);
    return Annotate(s, what);
  }
  return EndpointLocked(volume_id);
}

absl::Status QsdVolumeBackend::Unexport(absl::string_view volume_id) {
  const std::string what = absl::StrCat("unexport volume ", volume_id);
  MC_RETURN_IF_ERROR(Annotate(CheckBackendId(volume_id, "volume id"), what));
  std::lock_guard lock(mu_);
  MC_RETURN_IF_ERROR(Annotate(EnsureDaemonLocked(), what));
  auto it = manifest_.volumes.find(std::string(volume_id));
  if (it == manifest_.volumes.end() || !it->second.exported) return absl::OkStatus();
  MC_RETURN_IF_ERROR(Annotate(RemoveExportLocked(volume_id), what));
  LayerManifest before = manifest_;
  it->second.exported = false;
  return Annotate(SaveOrRestoreLocked(std::move(before)), what);
}

BackendHealth QsdVolumeBackend::Health() {
  std::lock_guard lock(mu_);
  BackendHealth h{.backend = "qsd"};
  absl::Status s = EnsureDaemonLocked();
  if (s.ok()) s = qsd_->qmp().Execute("query-version").status();
  if (absl::IsUnavailable(s)) {  // it died just now: restart it once
    s = EnsureDaemonLocked();
    if (s.ok()) s = qsd_->qmp().Execute("query-version").status();
  }
  h.healthy = s.ok();
  h.detail = s.ok() ? absl::StrCat("qemu-storage-daemon pid ", qsd_->pid(), ", NBD",
                                   options_.nbd_tls ? " over TLS" : "", " on ",
                                   options_.nbd_listen_host, ":", nbd_listener_.port)
                    : std::string(s.message());
  h.volumes = static_cast<int64_t>(manifest_.volumes.size());
  h.snapshots = static_cast<int64_t>(manifest_.snapshots.size());
  for (const auto& [id, v] : manifest_.volumes) h.exports += v.exported ? 1 : 0;
  struct statvfs fs {};
  if (statvfs(options_.state_dir.c_str(), &fs) == 0) {
    h.free_bytes = static_cast<int64_t>(fs.f_bavail) * static_cast<int64_t>(fs.f_frsize);
  }
  return h;
}

}  // namespace minicloud::volume
