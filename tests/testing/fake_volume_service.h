#pragma once

// An in-memory volume service (controller/volumes/volume_fleet.h) for fast tests: keeps sizes
// by volume id, follows the VolumeServiceClient contract, and fails on request.

#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "controller/volumes/volume_fleet.h"

namespace minicloud::testing {

class FakeVolumeService : public controller::VolumeServiceClient {
 public:
  absl::Status CreateVolume(const controller::VolumeSpec& spec) override {
    std::lock_guard<std::mutex> lock(mu);
    ++creates;
    if (auto s = Take(fail_next_create); !s.ok()) return s;
    if (!spec.snapshot_id.empty()) {
      auto snap = snapshots.find(spec.snapshot_id);
      if (snap == snapshots.end()) return absl::NotFoundError("no such snapshot");
      if (spec.size_gib < snap->second.size_gib) return absl::InvalidArgumentError("smaller");
      cloned_from[spec.volume_id] = spec.snapshot_id;
    }
    auto it = sizes.find(spec.volume_id);
    if (it != sizes.end()) {
      if (it->second != spec.size_gib) return absl::AlreadyExistsError("other size");
      return absl::OkStatus();
    }
    sizes[spec.volume_id] = spec.size_gib;
    if (spec.encrypted && !spec.encryption_key.empty()) keys[spec.volume_id] = spec.encryption_key;
    return absl::OkStatus();
  }
  absl::Status DeleteVolume(const std::string& volume_id) override {
    std::lock_guard<std::mutex> lock(mu);
    ++deletes;
    if (auto s = Take(fail_next_delete); !s.ok()) return s;
    sizes.erase(volume_id);
    return absl::OkStatus();
  }
  absl::Status GrowVolume(const std::string& volume_id, int64_t new_size_gib) override {
    std::lock_guard<std::mutex> lock(mu);
    ++grows;
    if (auto s = Take(fail_next_grow); !s.ok()) return s;
    auto it = sizes.find(volume_id);
    if (it == sizes.end()) return absl::NotFoundError("no such volume");
    if (new_size_gib < it->second) return absl::InvalidArgumentError("cannot shrink");
    it->second = new_size_gib;
    return absl::OkStatus();
  }

  absl::StatusOr<controller::NbdEndpoint> ExportVolume(const std::string& volume_id) override {
    std::lock_guard<std::mutex> lock(mu);
    ++exports_calls;
    if (auto s = Take(fail_next_export); !s.ok()) return s;
    if (!sizes.contains(volume_id)) return absl::NotFoundError("no such volume");
    exported.insert(volume_id);
    return controller::NbdEndpoint{nbd_host, nbd_port, volume_id};
  }
  absl::Status UnexportVolume(const std::string& volume_id) override {
    std::lock_guard<std::mutex> lock(mu);
    ++unexports_calls;
    if (auto s = Take(fail_next_unexport); !s.ok()) return s;
    exported.erase(volume_id);
    return absl::OkStatus();
  }
  bool IsExported(const std::string& id) {
    std::lock_guard<std::mutex> lock(mu);
    return exported.contains(id);
  }
  absl::StatusOr<controller::SnapshotInfo> CreateSnapshot(const std::string& volume_id,
                                                          const std::string& snapshot_id) override {
    std::lock_guard<std::mutex> lock(mu);
    ++snapshot_creates;
    if (auto s = Take(fail_next_snapshot); !s.ok()) return s;
    auto it = sizes.find(volume_id);
    if (it == sizes.end()) return absl::NotFoundError("no such volume");
    auto [snap, made] = snapshots.try_emplace(snapshot_id, Snap{volume_id, it->second});
    if (!made && snap->second.volume_id != volume_id) return absl::AlreadyExistsError("other");
    return controller::SnapshotInfo{snap->second.size_gib << 30, kStoredBytes};
  }
  absl::Status DeleteSnapshot(const std::string& snapshot_id) override {
    std::lock_guard<std::mutex> lock(mu);
    ++snapshot_deletes;
    if (auto s = Take(fail_next_snapshot_delete); !s.ok()) return s;
    snapshots.erase(snapshot_id);
    return absl::OkStatus();
  }
  absl::StatusOr<controller::SnapshotInfo> CopySnapshot(const std::string& source,
                                                        const std::string& new_id) override {
    std::lock_guard<std::mutex> lock(mu);
    if (auto s = Take(fail_next_snapshot); !s.ok()) return s;
    auto it = snapshots.find(source);
    if (it == snapshots.end()) return absl::NotFoundError("no such snapshot");
    snapshots.try_emplace(new_id, it->second);
    return controller::SnapshotInfo{it->second.size_gib << 30, 0};
  }
  controller::VolumeServiceState GetState() override {
    std::lock_guard<std::mutex> lock(mu);
    controller::VolumeServiceState s;
    s.reachable = reachable;
    s.healthy = reachable;
    s.backend = "fake";
    s.detail = reachable ? "in memory" : "not reachable: fake is down";
    s.volumes = static_cast<int64_t>(sizes.size());
    s.snapshots = static_cast<int64_t>(snapshots.size());
    s.free_bytes = free_bytes;
    return s;
  }

  std::optional<int64_t> SizeOf(const std::string& id) {
    std::lock_guard<std::mutex> lock(mu);
    auto it = sizes.find(id);
    if (it == sizes.end()) return std::nullopt;
    return it->second;
  }

  bool HasSnapshot(const std::string& id) {
    std::lock_guard<std::mutex> lock(mu);
    return snapshots.contains(id);
  }

  struct Snap {
    std::string volume_id;
    int64_t size_gib = 0;
  };
  // What every snapshot of the fake says it stores.
  static constexpr int64_t kStoredBytes = 4096;

  std::mutex mu;
  std::map<std::string, int64_t> sizes;
  std::set<std::string> exported;
  std::string nbd_host = "192.0.2.10";  // what ExportVolume answers
  // The encryption key each encrypted blank volume was created with (what a real service would
  // write into its LUKS header).
  std::map<std::string, std::string> keys;
  int nbd_port = 10809;
  std::map<std::string, Snap> snapshots;
  std::map<std::string, std::string> cloned_from;  // volume id -> snapshot id
  int creates = 0, deletes = 0, grows = 0, exports_calls = 0, unexports_calls = 0;
  int snapshot_creates = 0, snapshot_deletes = 0;
  bool reachable = true;
  int64_t free_bytes = int64_t{100} << 30;
  absl::Status fail_next_create, fail_next_delete, fail_next_grow;  // OK = no failure
  absl::Status fail_next_export, fail_next_unexport;
  absl::Status fail_next_snapshot, fail_next_snapshot_delete;

 private:
  static absl::Status Take(absl::Status& s) {
    absl::Status out = s;
    s = absl::OkStatus();
    return out;
  }
};

}  // namespace minicloud::testing
