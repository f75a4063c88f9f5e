#pragma once

// VolumeBackend on qcow2 files driven through ONE long-running qemu-storage-daemon over QMP.
//
// Layout of the state directory (0700, files 0600; every path built with file::PathUnder):
//   manifest.json   layer graph, volumes, snapshots, exports (layer_manifest.h), atomic writes
//   layers/<n>.qcow2  one qcow2 file per layer; block node "l<n>" in the daemon
//   qsd.qmp, qsd.pid, qsd.log  the daemon's QMP socket, pid file and stderr
//   nbd-tls/        its TLS credentials when NBD is over TLS (QsdBackendOptions::nbd_tls)
//
// A volume is its writable top layer over a backing chain of frozen layers. CreateSnapshot is
// blockdev-snapshot-sync on the top: the old top freezes as the snapshot (it holds exactly what
// was written since the previous snapshot, so snapshots are incremental) and a new empty
// overlay becomes the top; an NBD export follows the top because QEMU moves the export onto the
// new overlay in the same drained step (crash-consistent). A clone is a new overlay whose
// backing is the snapshot's layer (qemu-img create -b, no data copied). Layers no volume or
// snapshot reaches any more are closed and deleted. Exports: one NBD server on the TCP listener
// the backend keeps across daemon restarts (nbd_listener.h) and one block export per exported
// volume, named by the volume id.
//
// Restart safety: the manifest is written before a change is acknowledged (a snapshot's new
// top is written ahead as pending); at start the daemon is (re)started, every layer is opened
// in backing order, a pending snapshot is kept if its file opens and undone otherwise, files
// and layers nothing references are deleted, and exports are re-created. If the daemon dies,
// the next call restarts it the same way.
//
// Encrypted volumes (qsd_crypt.cc): the layer chain's content is a LUKS image (header, then
// ciphertext) written with blockdev-create driver=luks over the volume's first layer; the daemon
// never decrypts, so what it stores and exports is ciphertext. Snapshots and clones share the
// header like any other data. The manifest records the header's size, so sizes stay the
// decrypted ones the reader sees. The one time the daemon reads through the luks driver is an
// encrypted volume made from a plain snapshot: a backup job copies the snapshot into a new LUKS
// layer (a full copy, not copy-on-write), with the key present for that job only.

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "common/storage/nbd_tls.h"
#include "volume/backend/qsd/layer_manifest.h"
#include "volume/backend/qsd/nbd_listener.h"
#include "volume/backend/qsd/qsd_process.h"
#include "volume/backend/volume_backend.h"

namespace minicloud::volume {

struct QsdBackendOptions {
  std::string state_dir;  // created 0700 if missing
  std::string qsd_binary = "qemu-storage-daemon";
  std::string qemu_img = "qemu-img";
  std::string nbd_listen_host = "127.0.0.1";
  // 0: a free port chosen by the kernel when the backend first starts the daemon.
  int nbd_listen_port = 10809;
  std::string nbd_advertise_host;  // what clients dial; empty: nbd_listen_host
  // NBD over TLS (SECURITY.md, "The volume service"): set, the daemon's NBD server takes only
  // TLS clients with a certificate from nbd_tls->ca_pem (tls-creds-x509 verify-peer), its
  // credentials written to <state>/nbd-tls (0700, files 0600) at each open; exports tell
  // clients to check the server certificate against nbd_tls_hostname. Unset: plain NBD.
  std::optional<storage::QemuTlsFiles> nbd_tls;
  std::string nbd_tls_hostname;
  std::chrono::milliseconds qmp_timeout{60000};
  // How the daemon reads and writes layer files (blockdev `file` driver, `aio`). io_uring: the
  // daemon submits from its main loop and page-cache hits complete in the submitting call, where
  // "threads" hands every request to a worker thread and back (a futex wake-up each way);
  // docs/PERFORMANCE.md measured 4 KiB reads through the daemon about 20% faster. When the
  // daemon refuses the engine (a kernel or seccomp profile without io_uring, a QEMU built
  // without it: its error names the engine), layers open with "threads" instead.
  std::string file_aio = "io_uring";
};

class QsdVolumeBackend : public VolumeBackend {
 public:
  // Starts the daemon and recovers the state directory (see above).
  static absl::StatusOr<std::unique_ptr<QsdVolumeBackend>> Open(QsdBackendOptions options);
  ~QsdVolumeBackend() override;

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

  // The daemon's pid (tests kill it to prove recovery); -1 when none runs.
  int DaemonPidForTest();
  // The engine layer files are opened with now: options.file_aio, or "threads" after the
  // daemon refused it.
  std::string FileAioForTest();

 private:
  explicit QsdVolumeBackend(QsdBackendOptions options) : options_(std::move(options)) {}

  // All below with mu_ held.
  absl::Status StartDaemonLocked();
  absl::Status RecoverLocked();
  absl::Status EnsureDaemonLocked();
  absl::Status SaveLocked();
  // Saves; on failure puts `before` back in memory and returns the error.
  absl::Status SaveOrRestoreLocked(LayerManifest before);
  absl::StatusOr<std::string> LayerPath(int64_t n) const;
  absl::Status OpenLayerLocked(int64_t n, int64_t backing);
  // Writes a LUKS header unlocked by `key` into the (empty, open) layer n and grows it to hold
  // `payload_bytes` of ciphertext after it (qsd_crypt.cc). Returns the header's size. The key
  // reaches the daemon only over QMP (a secret object, deleted again at once), never a file,
  // an argv or a log line.
  absl::StatusOr<uint64_t> FormatLuksLocked(int64_t n, uint64_t payload_bytes,
                                            const std::string& key);
  // Fills the (empty, open) layer n with a LUKS image under `key` holding a full copy of what
  // layer `source` reads (its whole chain, `source_bytes` of it), then grows the payload to
  // `payload_bytes` (qsd_crypt.cc): an encrypted volume made from a plain snapshot. Returns
  // the header's size. The key is handled as in FormatLuksLocked.
  absl::StatusOr<uint64_t> CopyEncryptedLocked(int64_t n, int64_t source, uint64_t source_bytes,
                                               uint64_t payload_bytes, const std::string& key);
  // Waits for the QMP job `job_id` to conclude (at most `timeout`), dismisses it, and returns
  // its error if any.
  absl::Status WaitJobLocked(const std::string& job_id, std::chrono::milliseconds timeout);
  // Closes and deletes every layer nothing reaches, and files no layer owns. Best effort:
  // leftovers are logged and retried at the next start.
  void CollectGarbageLocked();
  absl::Status AddExportLocked(absl::string_view volume_id, int64_t top);
  absl::Status RemoveExportLocked(absl::string_view volume_id);
  uint64_t StoredBytes(int64_t layer) const;
  VolumeInfo InfoLocked(const std::string& id, const VolumeRecord& v) const;
  NbdEndpoint EndpointLocked(absl::string_view volume_id) const;

  const QsdBackendOptions options_;
  std::mutex mu_;
  NbdListener nbd_listener_;  // made at the first daemon start, handed to every daemon
  std::optional<QsdProcess> qsd_;
  std::string file_aio_;  // options_.file_aio until the daemon refuses it, then "threads"
  LayerManifest manifest_;
  std::string manifest_path_;
};

}  // namespace minicloud::volume
