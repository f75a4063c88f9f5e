#pragma once

// The controller's seam to the per-AZ volume services (minicloud-volumed): which availability
// zone has which volume service, and the calls the controller makes on one. VolumeService
// (controller/service/volume_service.h) is the only caller; the gRPC client of the daemon and the
// fake of the tests (tests/testing/fake_volume_service.h) implement VolumeServiceClient.
//
// A zone without a volume service has no volumes: CreateVolume there fails with EC2's
// InsufficientVolumeCapacity and nothing is recorded as made.

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "common/ec2_error.h"

namespace minicloud::controller {

// What a volume service is asked to make. The service keeps bytes; the controller keeps
// everything else (state, attachments, tags).
struct VolumeSpec {
  std::string volume_id;  // vol-..., validated by the controller
  int64_t size_gib = 0;
  std::string volume_type;  // EC2's name (the service may place types on different media)
  std::string snapshot_id;  // "" = an empty volume
  bool encrypted = false;
};

// Where a volume service exports a volume over NBD, as the hosts of its zone dial it.
struct NbdEndpoint {
  std::string host;
  int port = 0;
  std::string export_name;
};

// One availability zone's volume service.
//
// Contract (the same contract tests run against every implementation):
//  - CreateVolume is idempotent per volume id: creating an id the service already holds with
//    the same size answers OK and keeps the data. A failed create leaves nothing behind.
//  - DeleteVolume is idempotent: an id the service does not hold answers OK. Deleting removes
//    the bytes for good; the controller asks only for volumes a user deleted.
//  - GrowVolume only grows: a size equal to the current one answers OK, a smaller one is
//    InvalidArgument and changes nothing. The data is kept.
//  - ExportVolume is idempotent: exporting an exported volume answers the same endpoint.
//    UnexportVolume is idempotent: a volume that is not exported (or not held) answers OK.
//  - Unavailable means "not reached, nothing known to have happened": the controller keeps the
//    volume in its transitional state (creating, deleting) and asks again later. Any other error
//    is the service's final answer for that request.
//  - Thread-safe: the controller calls it from request threads without holding its state lock.
class VolumeServiceClient {
 public:
  virtual ~VolumeServiceClient() = default;
  virtual absl::Status CreateVolume(const VolumeSpec& spec) = 0;
  virtual absl::Status DeleteVolume(const std::string& volume_id) = 0;
  virtual absl::Status GrowVolume(const std::string& volume_id, int64_t new_size_gib) = 0;
  virtual absl::StatusOr<NbdEndpoint> ExportVolume(const std::string& volume_id) = 0;
  virtual absl::Status UnexportVolume(const std::string& volume_id) = 0;
};

// Which zone has which volume service. Filled once at start-up (or by a test), read-only after.
class VolumeFleet {
 public:
  // Registers `client` as the volume service of `zone` (replacing any other).
  void Add(const std::string& zone, std::shared_ptr<VolumeServiceClient> client) {
    zones_[zone] = std::move(client);
  }

  bool Serves(const std::string& zone) const { return zones_.contains(zone); }

  // The zone's volume service, or EC2's InsufficientVolumeCapacity when it has none.
  absl::StatusOr<VolumeServiceClient*> ServiceFor(const std::string& zone) const {
    auto it = zones_.find(zone);
    if (it == zones_.end()) {
      return Ec2Error(absl::StatusCode::kResourceExhausted, "InsufficientVolumeCapacity",
                      absl::StrCat("There is no volume service in availability zone ", zone,
                                   ": volumes cannot be created there."));
    }
    return it->second.get();
  }

 private:
  std::map<std::string, std::shared_ptr<VolumeServiceClient>> zones_;
};

}  // namespace minicloud::controller
