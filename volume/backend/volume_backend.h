#pragma once

// VolumeBackend: where an availability zone's EBS volumes and snapshots live, and how a host
// reaches a volume's blocks (an NBD export). The volume service (volume/service/) is written
// against this interface only; implementations: `qsd/` (qcow2 layers driven through one
// qemu-storage-daemon), `fake/` (in memory, for tests of callers). A Ceph RBD backend is meant
// to slot in here without touching the service. Every implementation passes the same contract
// tests (tests/unit/volume/volume_backend_contract.h).
//
// Contract (every implementation):
// - Ids are chosen by the caller (the controller's vol-… / snap-… ids) and checked with
//   CheckBackendId: 1..64 characters, a letter first, then letters, digits and '-'. Volumes and
//   snapshots are separate name spaces. A backend never builds a file name from an id.
// - Every call is idempotent by id, so a caller that lost an answer (a restart of either side
//   mid-operation) simply repeats the call:
//     CreateVolume of an existing id with the same size and source snapshot: OK, the existing
//       volume; with other parameters: AlreadyExists. CreateSnapshot likewise (same volume).
//     DeleteVolume / DeleteSnapshot / Unexport of something that is not there: OK.
//     Export of an exported volume: OK, the same endpoint. GrowVolume to the current size: OK.
// - A failed call leaves nothing behind: no half-created volume, snapshot, file or export.
// - Sizes are bytes, a positive multiple of 512, at most kMaxVolumeBytes. A new volume reads as
//   zeros. A volume cloned from a snapshot reads as the snapshot did at the point it was taken;
//   it may be larger (the rest reads as zeros), never smaller (InvalidArgument). The clone is
//   copy-on-write: creating it copies no data, whatever the snapshot's size.
// - CreateSnapshot is a crash-consistent point in time, also while the volume is exported and
//   being written: every write completed before the call started is in the snapshot, no write
//   issued after it returned is, and writes in flight meanwhile are each wholly in or out.
//   Snapshots are INCREMENTAL: a snapshot stores only what changed since the volume's previous
//   snapshot (its stored_bytes), and shares the rest with earlier snapshots.
// - DeleteSnapshot never fails because of dependents: the snapshot id disappears at once, and
//   data a volume or later snapshot still needs (clones of it, the volume's own later
//   snapshots, which are incremental over it) is kept, hidden, until the last dependent is
//   deleted; then it is freed. Rules like "refused while an AMI uses it" belong to the
//   controller, which knows about AMIs; the backend keeps every dependent readable.
// - DeleteVolume of an exported volume is FailedPrecondition (Unexport first): a volume a host
//   may still write is never deleted. Deleting a volume keeps its snapshots.
// - GrowVolume only grows (smaller: InvalidArgument) and works while the volume is exported:
//   data is kept and the export's name and address stay the same. NBD cannot announce a new
//   size to a connected client; the qsd backend re-creates the export, so clients reconnect and
//   see the new size.
// - Export makes a volume reachable as an NBD export (read-write) at the backend's NBD address;
//   the export name is the volume id (NBD over TLS comes later). Unexport drops it (connected
//   clients are cut). Exports survive a restart of the backend (they are re-created; the port
//   stays the same when the NBD listen address names a fixed port).
// - State survives a restart of the process (volumes, snapshots, sizes, which volumes are
//   exported); an operation cut short by a crash is either done or not visible at all.
// - Missing volumes or snapshots named as the subject or source of a call: NotFound. Every
//   error message names the operation and the id ("create snapshot snap-1 of vol-1: …").
// - Thread-safe: calls may come from several threads at once.
// - Encryption: a blank volume created with an encryption_key is a LUKS volume: its content, as
//   stored and as exported over NBD, is a LUKS header followed by the AES-XTS ciphertext of the
//   volume's data, unlockable with that key (QEMU's `luks` block driver on the reader's side).
//   size_bytes is the DECRYPTED size the reader sees; the header comes on top. The key is used
//   once, to write the header, and is neither stored nor logged by the backend. Snapshots of an
//   encrypted volume and clones of such snapshots are encrypted under the same key (the header
//   is part of the data they share; no key is needed to make them). An encryption_key together
//   with a plain snapshot makes an encrypted volume holding the snapshot's data: the one create
//   that copies the data instead of sharing it (EC2's encrypted volume from an unencrypted
//   snapshot), so it takes time in proportion to the snapshot's size; the key is used for the
//   copy and then dropped like any other. With an encrypted snapshot a key is InvalidArgument
//   (its key is the snapshot's; a caller must not believe it chose another). GrowVolume grows
//   the decrypted size.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace minicloud::volume {

// 64 TiB: io2 Block Express's largest volume, the largest EBS has.
inline constexpr uint64_t kMaxVolumeBytes = uint64_t{64} << 40;
inline constexpr int kMaxBackendIdLength = 64;

// OK for a well-formed volume or snapshot id (see the contract); InvalidArgument naming `what`
// ("volume id", "snapshot id") and the escaped id otherwise.
absl::Status CheckBackendId(absl::string_view id, absl::string_view what);

// OK for a size the contract allows (positive, multiple of 512, at most kMaxVolumeBytes).
absl::Status CheckVolumeSize(uint64_t size_bytes);

struct CreateVolumeRequest {
  std::string volume_id;
  // 0 with a snapshot: the snapshot's size. Required (non-zero) without one.
  uint64_t size_bytes = 0;
  std::string snapshot_id;  // empty: a blank volume
  // Non-empty: a LUKS-encrypted blank volume unlocked by this passphrase (see the contract).
  // Secret: never logged, never stored by the backend.
  std::string encryption_key = {};
};

struct VolumeInfo {
  std::string volume_id;
  uint64_t size_bytes = 0;
  // Bytes the volume's own data takes on the backend's disks (not counting snapshots it shares).
  uint64_t stored_bytes = 0;
  std::string snapshot_id;  // the snapshot it was created from, if any
  bool exported = false;
  bool encrypted = false;  // its content is LUKS (see the contract)
};

struct SnapshotInfo {
  std::string snapshot_id;
  std::string volume_id;  // the volume it was taken of (which may have been deleted since)
  uint64_t size_bytes = 0;
  // Bytes this snapshot alone stores: what changed since the volume's previous snapshot.
  uint64_t stored_bytes = 0;
  bool encrypted = false;
};

struct NbdEndpoint {
  std::string host;  // as a client dials it: an address or a host name
  int port = 0;
  std::string export_name;
  // NBD over TLS: the client needs a certificate from the controller's CA and checks the
  // server's against tls_hostname (common/storage/nbd_tls.h). False: plain NBD.
  bool tls = false;
  std::string tls_hostname;
  // "nbd://host:port/export" (IPv6 hosts in brackets), as qemu-io and qemu-nbd take it.
  std::string Uri() const;
};

struct BackendHealth {
  bool healthy = false;
  std::string backend;  // "qsd", "fake"
  std::string detail;   // why it is unhealthy, or a short summary
  int64_t volumes = 0;
  int64_t snapshots = 0;
  int64_t exports = 0;
  // Free space where the backend keeps data, -1 when unknown.
  int64_t free_bytes = -1;
};

class VolumeBackend {
 public:
  virtual ~VolumeBackend() = default;

  virtual absl::StatusOr<VolumeInfo> CreateVolume(const CreateVolumeRequest& request) = 0;
  virtual absl::Status DeleteVolume(absl::string_view volume_id) = 0;
  virtual absl::StatusOr<VolumeInfo> GrowVolume(absl::string_view volume_id,
                                                uint64_t new_size_bytes) = 0;
  virtual absl::StatusOr<VolumeInfo> GetVolume(absl::string_view volume_id) = 0;
  // In id order.
  virtual absl::StatusOr<std::vector<VolumeInfo>> ListVolumes() = 0;

  virtual absl::StatusOr<SnapshotInfo> CreateSnapshot(absl::string_view volume_id,
                                                      absl::string_view snapshot_id) = 0;
  virtual absl::Status DeleteSnapshot(absl::string_view snapshot_id) = 0;
  // In id order.
  virtual absl::StatusOr<std::vector<SnapshotInfo>> ListSnapshots() = 0;

  virtual absl::StatusOr<NbdEndpoint> Export(absl::string_view volume_id) = 0;
  virtual absl::Status Unexport(absl::string_view volume_id) = 0;

  virtual BackendHealth Health() = 0;
};

}  // namespace minicloud::volume
