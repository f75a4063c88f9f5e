#pragma once

// What the qsd backend keeps on disk besides the qcow2 files: which layer files exist and
// which backs which, which layer is each volume's writable top, which layer each snapshot
// froze, and which volumes are exported. Written whole and atomically (WriteFileAtomic) after
// every change, before the change is acknowledged; a snapshot is written ahead (the new top
// layer marked pending) so a crash mid-snapshot is resolved on the next start.
//
// Layer n lives in <state>/layers/<n>.qcow2 and is the block node "l<n>" in the daemon: names
// never come from ids.

#include <cstdint>
#include <map>
#include <string>

#include "absl/status/statusor.h"

namespace minicloud::volume {

struct LayerRecord {
  int64_t backing = 0;   // layer number, 0 = none
  bool pending = false;  // top layer of a snapshot not yet confirmed (resolved at start)
};

struct VolumeRecord {
  int64_t top = 0;  // the writable layer
  uint64_t size_bytes = 0;
  std::string snapshot_id;  // created from
  bool exported = false;
  // Encrypted volumes: the bytes of the LUKS header at the start of the layer chain's content
  // (the qcow2 virtual size is size_bytes plus this); 0 for a plain volume.
  uint64_t crypt_header_bytes = 0;
};

struct SnapshotRecord {
  std::string volume_id;
  int64_t layer = 0;  // frozen; its chain is the snapshot's content
  uint64_t size_bytes = 0;
  uint64_t crypt_header_bytes = 0;  // as VolumeRecord's, inherited by clones
};

struct LayerManifest {
  int64_t next_layer = 1;
  std::map<int64_t, LayerRecord> layers;
  std::map<std::string, VolumeRecord> volumes;
  std::map<std::string, SnapshotRecord> snapshots;
};

// JSON text of the manifest, and back. Parse refuses (InvalidArgument, naming the field) what
// this version would not have written: unknown layer references, bad ids, a backing cycle.
std::string SerializeManifest(const LayerManifest& manifest);
absl::StatusOr<LayerManifest> ParseManifest(const std::string& text);

// Layers reachable from a volume's top or a snapshot, following backing links.
std::map<int64_t, bool> LiveLayers(const LayerManifest& manifest);

}  // namespace minicloud::volume
