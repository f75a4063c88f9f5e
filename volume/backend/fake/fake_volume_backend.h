#pragma once

// An in-memory VolumeBackend for fast tests of callers (the volume service, later the
// controller's volume rules). It keeps the contract's bookkeeping (ids, sizes, idempotency,
// dependents, exports) but no data: stored_bytes is always 0 and the NBD endpoint it hands out
// has nothing listening. FakeVolumeState outlives a backend, so a test can "restart" it.
// Tests can make the next call of a method fail (FailNext) to exercise callers' error paths.

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "volume/backend/volume_backend.h"

namespace minicloud::volume {

struct FakeVolumeState {
  struct Volume {
    uint64_t size_bytes = 0;
    std::string snapshot_id;
    bool exported = false;
    bool encrypted = false;  // a flag only: the fake keeps no bytes
  };
  struct Snapshot {
    std::string volume_id;
    uint64_t size_bytes = 0;
    bool encrypted = false;
  };
  std::mutex mu;
  std::map<std::string, Volume> volumes;
  std::map<std::string, Snapshot> snapshots;
  // Method name ("CreateVolume", …) → the status its next call returns instead of running.
  std::map<std::string, absl::Status> fail_next;
};

class FakeVolumeBackend : public VolumeBackend {
 public:
  explicit FakeVolumeBackend(std::shared_ptr<FakeVolumeState> state = nullptr,
                             std::string nbd_host = "127.0.0.1", int nbd_port = 10809);

  // The next call of `method` returns `status` (and changes nothing).
  void FailNext(const std::string& method, absl::Status status);

  absl::StatusOr<VolumeInfo> CreateVolume(const CreateVolumeRequest& request) override;
  absl::Status DeleteVolume(absl::string_view volume_id) override;
  absl::StatusOr<VolumeInfo> GrowVolume(absl::string_view volume_id,
                                        uint64_t new_size_bytes) override;
  absl::StatusOr<VolumeInfo> GetVolume(absl::string_view volume_id) override;
  absl::StatusOr<std::vector<VolumeInfo>> ListVolumes() override;
  absl::StatusOr<SnapshotInfo> CreateSnapshot(absl::string_view volume_id,
                                              absl::string_view snapshot_id) override;
  absl::Status DeleteSnapshot(absl::string_view snapshot_id) override;
  absl::StatusOr<std::vector<SnapshotInfo>> ListSnapshots() override;
  absl::StatusOr<NbdEndpoint> Export(absl::string_view volume_id) override;
  absl::Status Unexport(absl::string_view volume_id) override;
  BackendHealth Health() override;

 private:
  absl::Status TakeFailure(const std::string& method);  // with state_->mu held
  VolumeInfo Info(const std::string& id, const FakeVolumeState::Volume& v) const;
  NbdEndpoint Endpoint(absl::string_view volume_id) const;

  std::shared_ptr<FakeVolumeState> state_;
  std::string nbd_host_;
  int nbd_port_;
};

}  // namespace minicloud::volume
