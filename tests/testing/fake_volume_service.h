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
    auto it = sizes.find(spec.volume_id);
    if (it != sizes.end()) {
      if (it->second != spec.size_gib) return absl::AlreadyExistsError("other size");
      return absl::OkStatus();
    }
    sizes[spec.volume_id] = spec.size_gib;
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

  std::optional<int64_t> SizeOf(const std::string& id) {
    std::lock_guard<std::mutex> lock(mu);
    auto it = sizes.find(id);
    if (it == sizes.end()) return std::nullopt;
    return it->second;
  }

  std::mutex mu;
  std::map<std::string, int64_t> sizes;
  std::set<std::string> exported;
  std::string nbd_host = "192.0.2.10";  // what ExportVolume answers
  int nbd_port = 10809;
  int creates = 0, deletes = 0, grows = 0, exports_calls = 0, unexports_calls = 0;
  absl::Status fail_next_create, fail_next_delete, fail_next_grow;  // OK = no failure
  absl::Status fail_next_export, fail_next_unexport;

 private:
  static absl::Status Take(absl::Status& s) {
    absl::Status out = s;
    s = absl::OkStatus();
    return out;
  }
};

}  // namespace minicloud::testing
