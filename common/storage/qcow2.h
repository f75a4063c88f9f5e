#pragma once

// qcow2 header inspection and native creation of copy-on-write overlays.
//
// Format reference: QEMU docs/interop/qcow2.txt. All header fields are big-endian.
// Images are untrusted input: nothing here crashes or reads out of bounds on a hostile file;
// every rejection is an InvalidArgument that names the file and the reason.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace minicloud::storage {

inline constexpr uint32_t kQcow2MinClusterBits = 9;   // 512 B
inline constexpr uint32_t kQcow2MaxClusterBits = 21;  // 2 MiB
inline constexpr uint32_t kQcow2MaxBackingFileName = 1023;

// Incompatible feature bits (header offset 72, v3 only).
inline constexpr uint64_t kQcow2IncompatDirty = 1ull << 0;
inline constexpr uint64_t kQcow2IncompatCorrupt = 1ull << 1;
inline constexpr uint64_t kQcow2IncompatDataFile = 1ull << 2;
inline constexpr uint64_t kQcow2IncompatCompression = 1ull << 3;
inline constexpr uint64_t kQcow2IncompatExtendedL2 = 1ull << 4;

enum class Qcow2CryptMethod : uint32_t { kNone = 0, kAes = 1, kLuks = 2 };
enum class Qcow2Compression : uint8_t { kZlib = 0, kZstd = 1 };

// What InspectQcow2 learned from a header it accepted.
struct Qcow2Info {
  uint32_t version = 0;  // 2 or 3
  uint32_t cluster_bits = 0;
  uint64_t cluster_size = 0;  // 1 << cluster_bits
  uint64_t virtual_size = 0;  // guest-visible disk size in bytes
  uint64_t backing_file_offset = 0;
  uint32_t backing_file_size = 0;
  std::string backing_file;    // empty: no backing file
  std::string backing_format;  // from the 0xe2792aca header extension; may be empty
  uint32_t crypt_method = 0;   // always kNone in an accepted image
  uint64_t incompatible_features = 0;
  uint64_t compatible_features = 0;
  uint64_t autoclear_features = 0;
  uint32_t refcount_order = 4;  // refcount width is 1 << refcount_order bits
  uint32_t header_length = 0;   // 72 for v2
  Qcow2Compression compression_type = Qcow2Compression::kZlib;
  uint32_t l1_size = 0;
  uint64_t l1_table_offset = 0;
  uint64_t refcount_table_offset = 0;
  uint32_t refcount_table_clusters = 0;
  uint32_t nb_snapshots = 0;
  uint64_t snapshots_offset = 0;

  // A backing file can name any host file, so an AMI must never have one: callers that
  // accept images from users reject has_backing_file() images.
  bool has_backing_file() const { return !backing_file.empty(); }
};

// Parses and validates a qcow2 header from the first bytes of an image (pure; no I/O).
// Pass the whole first cluster (or the whole file if shorter): header extensions and the
// backing file name live there. As in QEMU, the extension area past the end of `header` reads
// as zeros (an end marker); a header or backing file name cut short is truncation. Rejects
// (InvalidArgument): too short, bad magic ("not a qcow2 image (magic ...)"), versions other
// than 2/3, cluster_bits outside 9..21, encryption, the dirty/corrupt bits, external data
// files, unknown incompatible features, inconsistent table offsets/sizes. Never crashes.
absl::StatusOr<Qcow2Info> InspectQcow2Bytes(std::string_view header);

// The L1 and refcount tables of an accepted header lie inside a file of `file_size` bytes
// (catches truncated copies). InvalidArgument ("truncated qcow2 image: ...") otherwise.
absl::Status CheckQcow2Extent(const Qcow2Info& info, uint64_t file_size);

// Reads the first cluster of `path` and runs InspectQcow2Bytes on it; additionally runs
// CheckQcow2Extent with the file's size. NotFound /
// PermissionDenied for I/O errors, InvalidArgument for non-regular files and bad images;
// messages start with the path.
absl::StatusOr<Qcow2Info> InspectQcow2(const std::string& path);

struct OverlaySpec {
  std::string backing_path;              // absolute path of a qcow2 image without backing file
  std::string backing_format = "qcow2";  // only "qcow2" is supported
  std::string overlay_path;              // must not exist; its directory must
  uint64_t virtual_size = 0;             // bytes, multiple of 512, >= backing; 0 = backing's
  uint32_t cluster_bits = 16;            // 9..21 (64 KiB default, as qemu-img)
};

// Writes a qcow2 v3 overlay of spec.backing_path natively (no qemu-img): header with the
// backing file name and a backing-format extension, one refcount table, refcount block(s) and
// a zeroed L1 table sized for the virtual size, all with refcount 1. Written to a temp file in
// the overlay's directory, fsynced and renamed into place (and the directory fsynced).
// AlreadyExists if overlay_path exists (never overwritten, even racing another creator).
// On any error nothing is left behind. The backing image is inspected first and must be a
// valid qcow2 with no backing file of its own.
absl::Status CreateOverlay(const OverlaySpec& spec);

// The exact bytes CreateOverlay writes, for a backing image of `backing_virtual_size` (pure;
// exposed for tests). `spec.virtual_size` 0 means the backing size. The file is `file_size`
// bytes long, zero everywhere except `writes` (the L1 table is zero and stays sparse).
struct OverlayLayout {
  struct Write {
    uint64_t offset = 0;
    std::string bytes;
  };
  std::vector<Write> writes;
  uint64_t file_size = 0;
  uint64_t virtual_size = 0;
  uint32_t l1_size = 0;
  uint64_t metadata_clusters = 0;  // header + refcount table + refcount blocks + L1 table
};
absl::StatusOr<OverlayLayout> PlanOverlay(const OverlaySpec& spec, uint64_t backing_virtual_size);

}  // namespace minicloud::storage
