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
  // An encrypted blank volume, or an encrypted one made from a plain snapshot (the service
  // copies the snapshot's data in, encrypting): its LUKS passphrase in clear
  // (controller/volumes/volume_keys.h). Empty for a clone of an encrypted snapshot (it keeps
  // the snapshot's key). SECRET: never logged.
  std::string encryption_key = {};
};

// Where a volume service exports a volume over NBD, as the hosts of its zone dial it.
struct NbdEndpoint {
  std::string host;
  int port = 0;
  std::string export_name;
  // NBD over TLS (the service's answer): clients show a certificate from the controller's CA
  // and check the server's against tls_hostname. False: plain NBD.
  bool tls = false;
  std::string tls_hostname = {};
};

// What the volume service holds for one snapshot.
struct SnapshotInfo {
  int64_t size_bytes = 0;    // the volume's size when it was taken
  int64_t stored_bytes = 0;  // what this snapshot alone stores (incremental)
};

// A volume service's own account of itself (GetVolumeServiceStatus), for DescribeHosts and
// DescribeAvailabilityZones.
struct VolumeServiceState {
  bool reachable = false;  // false: the call failed; `detail` says why
  bool healthy = false;
  std::string backend;  // "qsd", "fake"
  std::string detail;
  int64_t volumes = 0;
  int64_t snapshots = 0;
  int64_t exports = 0;
  int64_t free_bytes = -1;  // -1: unknown
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
//  - CreateVolume with a snapshot id makes a copy-on-write clone of that snapshot (no data is
//    copied); its size may be larger than the snapshot's. A snapshot the service does not hold
//    is NotFound. With an encryption key and a plain snapshot it is instead a full copy of the
//    snapshot's data, encrypted under that key (it takes time in proportion to the size; a
//    caller whose deadline passes asks again with the same id).
//  - CreateSnapshot is idempotent per snapshot id (same volume: OK and the same answer), a
//    crash-consistent point in time, incremental. A volume the service does not hold: NotFound.
//  - DeleteSnapshot is idempotent (an id the service does not hold answers OK) and never breaks
//    a volume cloned from the snapshot: the service keeps what such a volume still reads.
//  - CopySnapshot makes `new_snapshot_id` read exactly as `source_snapshot_id` does; it may
//    share the source's data (no bytes copied), and deleting either leaves the other readable.
//    Idempotent per new id; a source the service does not hold is NotFound.
//  - GetState never fails: an unreachable service answers reachable = false with the reason.
//  - Thread-safe: the controller calls it from request threads without holding its state lock.
class VolumeServiceClient {
 public:
  virtual ~VolumeServiceClient() = default;
  virtual absl::Status CreateVolume(const VolumeSpec& spec) = 0;
  virtual absl::Status DeleteVolume(const std::string& volume_id) = 0;
  virtual absl::Status GrowVolume(const std::string& volume_id, int64_t new_size_gib) = 0;
  virtual absl::StatusOr<NbdEndpoint> ExportVolume(const std::string& volume_id) = 0;
  virtual absl::Status UnexportVolume(const std::string& volume_id) = 0;
  virtual absl::StatusOr<SnapshotInfo> CreateSnapshot(const std::string& volume_id,
                                                      const std::string& snapshot_id) = 0;
  virtual absl::Status DeleteSnapshot(const std::string& snapshot_id) = 0;
  virtual absl::StatusOr<SnapshotInfo> CopySnapshot(const std::string& source_snapshot_id,
                                                    const std::string& new_snapshot_id) = 0;
  virtual VolumeServiceState GetState() = 0;
};

// Which zone has which volume service. Filled once at start-up (or by a test), read-only after.
class VolumeFleet {
 public:
  // Registers `client` as the volume service of `zone` (replacing any other).
  void Add(const std::string& zone, std::shared_ptr<VolumeServiceClient> client) {
    zones_[zone] = std::move(client);
  }

  bool Serves(const std::string& zone) const { return zones_.contains(zone); }

  // Every zone with a volume service, in name order.
  const std::map<std::string, std::shared_ptr<VolumeServiceClient>>& zones() const {
    return zones_;
  }

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
