#include "common/storage/qcow2.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/file/file_util.h"
#include "common/status_macros.h"

namespace minicloud::storage {

using file::ErrnoError;
using file::OpenForRead;
using file::PReadUpTo;
using file::PWriteAll;
using file::TempFile;
using file::UniqueFd;

namespace {

constexpr uint32_t kMagic = 0x514649fb;  // "QFI\xfb"
constexpr size_t kV2HeaderLength = 72;
constexpr size_t kV3MinHeaderLength = 104;
constexpr uint32_t kV3HeaderLength = 112;      // with compression_type + padding, as QEMU writes
constexpr uint64_t kMaxL1Bytes = 32ull << 20;  // QCOW_MAX_L1_SIZE
constexpr uint64_t kMaxRefcountTableBytes = 8ull << 20;  // QCOW_MAX_REFTABLE_SIZE
constexpr uint32_t kMaxSnapshots = 65536;                // QCOW_MAX_SNAPSHOTS
constexpr uint32_t kMaxRefcountOrder = 6;
constexpr uint32_t kOverlayRefcountOrder = 4;  // 16-bit refcounts, QEMU's default
constexpr uint64_t kSectorSize = 512;
constexpr uint64_t kMaxVirtualSize = static_cast<uint64_t>(INT64_MAX);

constexpr uint64_t kKnownIncompat = kQcow2IncompatDirty | kQcow2IncompatCorrupt |
                                    kQcow2IncompatDataFile | kQcow2IncompatCompression |
                                    kQcow2IncompatExtendedL2;

// Header extension types.
constexpr uint32_t kExtEnd = 0x00000000;
constexpr uint32_t kExtBackingFormat = 0xe2792aca;
constexpr uint32_t kExtFeatureTable = 0x6803f857;
constexpr uint32_t kExtBitmaps = 0x23852875;
constexpr uint32_t kExtCryptoHeader = 0x0537be77;
constexpr uint32_t kExtDataFile = 0x44415441;
constexpr uint32_t kMaxBackingFormatLength = 15;  // QEMU keeps it in a char[16]

uint32_t Be32(std::string_view b, size_t off) {
  auto u = [&](size_t i) { return static_cast<uint32_t>(static_cast<unsigned char>(b[off + i])); };
  return (u(0) << 24) | (u(1) << 16) | (u(2) << 8) | u(3);
}

uint64_t Be64(std::string_view b, size_t off) {
  return (static_cast<uint64_t>(Be32(b, off)) << 32) | Be32(b, off + 4);
}

void PutBe32(std::string& b, size_t off, uint32_t v) {
  for (int i = 0; i < 4; ++i) b[off + i] = static_cast<char>(v >> (24 - 8 * i));
}

void PutBe64(std::string& b, size_t off, uint64_t v) {
  PutBe32(b, off, static_cast<uint32_t>(v >> 32));
  PutBe32(b, off + 4, static_cast<uint32_t>(v));
}

uint64_t CeilDiv(uint64_t a, uint64_t b) { return a / b + (a % b != 0 ? 1 : 0); }
uint64_t RoundUp8(uint64_t v) { return (v + 7) & ~uint64_t{7}; }

absl::Status Invalid(absl::string_view msg) { return absl::InvalidArgumentError(msg); }

absl::Status Truncated(absl::string_view what, uint64_t need, size_t have) {
  return Invalid(absl::StrCat("truncated qcow2 image: ", what, " needs ", need, " bytes, only ",
                              have, " present"));
}

// Checks a table [offset, offset+bytes) is cluster-aligned and does not overflow.
absl::Status ValidateTable(absl::string_view name, uint64_t offset, uint64_t bytes,
                           uint64_t cluster_size) {
  if (offset % cluster_size != 0) {
    return Invalid(absl::StrFormat("invalid %s offset 0x%x (not cluster-aligned)", name, offset));
  }
  if (offset > kMaxVirtualSize || bytes > kMaxVirtualSize - offset) {
    return Invalid(
        absl::StrFormat("invalid %s: offset 0x%x + %d bytes overflows", name, offset, bytes));
  }
  return absl::OkStatus();
}

// Bytes of guest data one L1 entry maps.
uint64_t BytesPerL1Entry(uint32_t cluster_bits, bool extended_l2) {
  const uint64_t l2_entries = (uint64_t{1} << cluster_bits) / (extended_l2 ? 16 : 8);
  return l2_entries << cluster_bits;
}

absl::Status ParseExtensions(std::string_view data, uint64_t start, uint64_t end, Qcow2Info& info) {
  uint64_t offset = start;
  while (offset < end) {
    // Past the end of what we were given reads as zeros (QEMU: past EOF), i.e. the end marker.
    if (offset + 8 > data.size()) {
      if (offset >= data.size()) return absl::OkStatus();
      return Truncated("header extension", offset + 8, data.size());
    }
    const uint32_t type = Be32(data, offset);
    const uint32_t len = Be32(data, offset + 4);
    offset += 8;
    if (type == kExtEnd) return absl::OkStatus();
    if (offset > end || len > end - offset) {
      return Invalid(absl::StrFormat("header extension 0x%08x too large (%d bytes)", type, len));
    }
    if (offset + len > data.size()) {
      return Truncated(absl::StrFormat("header extension 0x%08x", type), offset + len, data.size());
    }
    std::string_view payload = data.substr(offset, len);
    switch (type) {
      case kExtBackingFormat:
        if (len > kMaxBackingFormatLength) {
          return Invalid(absl::StrCat("backing format name too long (", len, " bytes)"));
        }
        info.backing_format = std::string(payload.substr(0, payload.find('\0')));
        break;
      case kExtCryptoHeader:
        return Invalid("encryption header extension in an image without encryption");
      case kExtDataFile:
        return Invalid("external data files are not supported (data-file header extension)");
      case kExtFeatureTable:
      case kExtBitmaps:
      default:
        break;  // informational or governed by autoclear bits; unknown ones are ignorable
    }
    offset += RoundUp8(len);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Qcow2Info> InspectQcow2Bytes(std::string_view data) {
  if (data.size() < 4) {
    return Invalid(absl::StrCat("too short to be a qcow2 image (", data.size(), " bytes)"));
  }
  const uint32_t magic = Be32(data, 0);
  if (magic != kMagic) {
    return Invalid(absl::StrFormat("not a qcow2 image (magic 0x%08x \"%s\", expected 0x%08x)",
                                   magic, absl::CHexEscape(AbslView(data.substr(0, 4))), kMagic));
  }
  if (data.size() < kV2HeaderLength) {
    return Truncated("qcow2 header", kV2HeaderLength, data.size());
  }

  Qcow2Info info;
  info.version = Be32(data, 4);
  if (info.version != 2 && info.version != 3) {
    return Invalid(
        absl::StrCat("unsupported qcow2 version ", info.version, " (2 and 3 are supported)"));
  }
  info.backing_file_offset = Be64(data, 8);
  info.backing_file_size = Be32(data, 16);
  info.cluster_bits = Be32(data, 20);
  info.virtual_size = Be64(data, 24);
  info.crypt_method = Be32(data, 32);
  info.l1_size = Be32(data, 36);
  info.l1_table_offset = Be64(data, 40);
  info.refcount_table_offset = Be64(data, 48);
  info.refcount_table_clusters = Be32(data, 56);
  info.nb_snapshots = Be32(data, 60);
  info.snapshots_offset = Be64(data, 64);

  if (info.version == 2) {
    info.header_length = kV2HeaderLength;
    info.refcount_order = 4;
  } else {
    if (data.size() < kV3MinHeaderLength) {
      return Truncated("qcow2 v3 header", kV3MinHeaderLength, data.size());
    }
    info.incompatible_features = Be64(data, 72);
    info.compatible_features = Be64(data, 80);
    info.autoclear_features = Be64(data, 88);
    info.refcount_order = Be32(data, 96);
    info.header_length = Be32(data, 100);
    if (info.header_length < kV3MinHeaderLength || info.header_length % 8 != 0) {
      return Invalid(absl::StrCat("invalid qcow2 v3 header length ", info.header_length,
                                  " (must be >= 104 and a multiple of 8)"));
    }
  }

  if (info.cluster_bits < kQcow2MinClusterBits || info.cluster_bits > kQcow2MaxClusterBits) {
    return Invalid(absl::StrCat("unsupported cluster_bits ", info.cluster_bits, " (must be ",
                                kQcow2MinClusterBits, "..", kQcow2MaxClusterBits, ")"));
  }
  info.cluster_size = uint64_t{1} << info.cluster_bits;
  if (info.header_length > info.cluster_size) {
    return Invalid(absl::StrCat("qcow2 header length ", info.header_length,
                                " exceeds the cluster size ", info.cluster_size));
  }
  if (info.header_length > data.size()) {
    return Truncated("qcow2 header", info.header_length, data.size());
  }

  switch (info.crypt_method) {
    case static_cast<uint32_t>(Qcow2CryptMethod::kNone):
      break;
    case static_cast<uint32_t>(Qcow2CryptMethod::kAes):
      return Invalid("encrypted qcow2 images are not supported (crypt method 1: AES)");
    case static_cast<uint32_t>(Qcow2CryptMethod::kLuks):
      return Invalid("encrypted qcow2 images are not supported (crypt method 2: LUKS)");
    default:
      return Invalid(absl::StrCat("invalid qcow2 crypt method ", info.crypt_method));
  }

  const uint64_t incompat = info.incompatible_features;
  if (incompat & kQcow2IncompatDirty) {
    return Invalid(
        "qcow2 image is dirty (not closed cleanly; repair with `qemu-img check -r all`)");
  }
  if (incompat & kQcow2IncompatCorrupt) {
    return Invalid("qcow2 image is marked corrupt");
  }
  if (incompat & kQcow2IncompatDataFile) {
    return Invalid("external data files are not supported (incompatible feature bit 2)");
  }
  if (incompat & ~kKnownIncompat) {
    return Invalid(
        absl::StrFormat("unknown qcow2 incompatible features 0x%x", incompat & ~kKnownIncompat));
  }

  if (info.refcount_order > kMaxRefcountOrder) {
    return Invalid(absl::StrCat("invalid refcount order ", info.refcount_order, " (max 6)"));
  }

  if (info.header_length > kV3MinHeaderLength) {
    const uint8_t type = static_cast<uint8_t>(data[kV3MinHeaderLength]);
    if (type > static_cast<uint8_t>(Qcow2Compression::kZstd)) {
      return Invalid(absl::StrCat("unknown qcow2 compression type ", type));
    }
    info.compression_type = static_cast<Qcow2Compression>(type);
  }
  const bool compression_bit = (incompat & kQcow2IncompatCompression) != 0;
  if ((info.compression_type != Qcow2Compression::kZlib) != compression_bit) {
    return Invalid(compression_bit
                       ? "compression type feature bit set with zlib compression"
                       : "non-zlib compression type without its incompatible feature bit");
  }
  const bool extended_l2 = (incompat & kQcow2IncompatExtendedL2) != 0;
  if (extended_l2 && info.cluster_bits < 14) {
    return Invalid("extended L2 entries need a cluster size of at least 16 KiB");
  }

  // Tables.
  if (info.virtual_size > kMaxVirtualSize) {
    return Invalid(absl::StrCat("virtual size ", info.virtual_size, " too large"));
  }
  if (uint64_t{info.l1_size} * 8 > kMaxL1Bytes) {
    return Invalid(absl::StrCat("L1 table too large (", info.l1_size, " entries)"));
  }
  const uint64_t l1_needed =
      CeilDiv(info.virtual_size, BytesPerL1Entry(info.cluster_bits, extended_l2));
  if (info.l1_size < l1_needed) {
    return Invalid(absl::StrCat("L1 table too small (", info.l1_size, " entries, virtual size ",
                                info.virtual_size, " needs ", l1_needed, ")"));
  }
  MC_RETURN_IF_ERROR(ValidateTable("L1 table", info.l1_table_offset, uint64_t{info.l1_size} * 8,
                                   info.cluster_size));
  if (info.refcount_table_clusters == 0) {
    return Invalid("qcow2 image has no refcount table");
  }
  if (uint64_t{info.refcount_table_clusters} * info.cluster_size > kMaxRefcountTableBytes) {
    return Invalid(
        absl::StrCat("refcount table too large (", info.refcount_table_clusters, " clusters)"));
  }
  MC_RETURN_IF_ERROR(ValidateTable("refcount table", info.refcount_table_offset,
                                   uint64_t{info.refcount_table_clusters} * info.cluster_size,
                                   info.cluster_size));
  if (info.nb_snapshots > kMaxSnapshots) {
    return Invalid(absl::StrCat("too many snapshots (", info.nb_snapshots, ")"));
  }
  if (info.nb_snapshots > 0) {
    MC_RETURN_IF_ERROR(
        ValidateTable("snapshot table", info.snapshots_offset, 0, info.cluster_size));
  }

  // Backing file name: inside the first cluster, after the header and its extensions.
  if (info.backing_file_offset != 0) {
    const uint64_t off = info.backing_file_offset;
    const uint64_t len = info.backing_file_size;
    if (off < info.header_length || off >= info.cluster_size ||
        len > std::min<uint64_t>(kQcow2MaxBackingFileName, info.cluster_size - off)) {
      return Invalid(
          absl::StrCat("invalid backing file name location (offset ", off, ", ", len, " bytes)"));
    }
    if (off + len > data.size()) return Truncated("backing file name", off + len, data.size());
    info.backing_file = std::string(data.substr(off, len));
    if (info.backing_file.find('\0') != std::string::npos) {
      return Invalid("backing file name contains a NUL byte");
    }
  }

  // Header extensions (v3; v2 images may carry them too, right after the 72-byte header).
  const uint64_t ext_end =
      info.backing_file_offset != 0 ? info.backing_file_offset : info.cluster_size;
  MC_RETURN_IF_ERROR(ParseExtensions(data, info.header_length, ext_end, info));
  return info;
}

absl::StatusOr<Qcow2Info> InspectQcow2(const std::string& path) {
  absl::StatusOr<UniqueFd> fd = OpenForRead(path);
  if (!fd.ok()) return Annotate(fd.status(), "inspect qcow2");
  struct stat st;
  if (::fstat(fd->get(), &st) != 0) return ErrnoError(errno, "stat", path);
  if (!S_ISREG(st.st_mode)) {
    return Invalid(absl::StrCat(path, ": not a regular file"));
  }
  const uint64_t file_size = static_cast<uint64_t>(st.st_size);

  // First read enough for the fixed header; then the rest of the first cluster.
  std::string buf(std::min<uint64_t>(file_size, 4096), '\0');
  absl::StatusOr<size_t> n = PReadUpTo(fd->get(), buf.data(), buf.size(), 0, path);
  if (!n.ok()) return n.status();
  buf.resize(*n);
  if (buf.size() >= 24 && Be32(buf, 0) == kMagic) {
    const uint32_t bits = Be32(buf, 20);
    if (bits >= kQcow2MinClusterBits && bits <= kQcow2MaxClusterBits) {
      const uint64_t want = std::min<uint64_t>(file_size, uint64_t{1} << bits);
      if (want > buf.size()) {
        const size_t have = buf.size();
        buf.resize(want);
        n = PReadUpTo(fd->get(), buf.data() + have, want - have, have, path);
        if (!n.ok()) return n.status();
        buf.resize(have + *n);
      }
    }
  }

  absl::StatusOr<Qcow2Info> info = InspectQcow2Bytes(buf);
  if (!info.ok()) return Annotate(info.status(), path);

  MC_RETURN_IF_ERROR(Annotate(CheckQcow2Extent(*info, file_size), path));
  return info;
}

absl::Status CheckQcow2Extent(const Qcow2Info& info, uint64_t file_size) {
  auto check_inside = [&](absl::string_view what, uint64_t offset, uint64_t bytes) -> absl::Status {
    if (bytes == 0) return absl::OkStatus();
    if (offset > file_size || bytes > file_size - offset) {
      return Invalid(absl::StrCat("truncated qcow2 image: ", what, " at ", offset, "+", bytes,
                                  " lies past the end of the file (", file_size, " bytes)"));
    }
    return absl::OkStatus();
  };
  MC_RETURN_IF_ERROR(check_inside("L1 table", info.l1_table_offset, uint64_t{info.l1_size} * 8));
  return check_inside("refcount table", info.refcount_table_offset,
                      uint64_t{info.refcount_table_clusters} * info.cluster_size);
}

absl::StatusOr<OverlayLayout> PlanOverlay(const OverlaySpec& spec, uint64_t backing_virtual_size) {
  const std::string& name = spec.backing_path;
  if (name.empty() || name.front() != '/') {
    return Invalid(absl::StrCat("backing path \"", name, "\" is not absolute"));
  }
  if (name.size() > kQcow2MaxBackingFileName) {
    return Invalid(absl::StrCat("backing path too long (", name.size(), " bytes, max ",
                                kQcow2MaxBackingFileName, ")"));
  }
  if (name.find('\0') != std::string::npos) return Invalid("backing path contains a NUL byte");
  if (spec.backing_format != "qcow2") {
    return Invalid(
        absl::StrCat("unsupported backing format \"", spec.backing_format, "\" (only qcow2)"));
  }
  if (spec.cluster_bits < kQcow2MinClusterBits || spec.cluster_bits > kQcow2MaxClusterBits) {
    return Invalid(absl::StrCat("cluster_bits ", spec.cluster_bits, " out of range ",
                                kQcow2MinClusterBits, "..", kQcow2MaxClusterBits));
  }
  const uint64_t vsize = spec.virtual_size == 0 ? backing_virtual_size : spec.virtual_size;
  if (vsize == 0) return Invalid("virtual size is 0");
  if (vsize % kSectorSize != 0) {
    return Invalid(absl::StrCat("virtual size ", vsize, " is not a multiple of 512"));
  }
  if (vsize < backing_virtual_size) {
    return Invalid(absl::StrCat("virtual size ", vsize, " is smaller than the backing image (",
                                backing_virtual_size, ")"));
  }
  if (vsize > kMaxVirtualSize) return Invalid(absl::StrCat("virtual size ", vsize, " too large"));

  const uint32_t cb = spec.cluster_bits;
  const uint64_t cluster = uint64_t{1} << cb;
  const uint64_t l1_size = CeilDiv(vsize, BytesPerL1Entry(cb, /*extended_l2=*/false));
  if (l1_size * 8 > kMaxL1Bytes) {
    return Invalid(absl::StrCat("virtual size ", vsize, " too large for ", cluster,
                                "-byte clusters (L1 table would exceed 32 MiB)"));
  }

  // Layout: [header][refcount table][refcount blocks][L1 table], each whole clusters.
  const uint64_t l1_clusters = CeilDiv(l1_size * 8, cluster);
  const uint64_t refs_per_block = (cluster * 8) >> kOverlayRefcountOrder;
  const uint64_t entries_per_reftable_cluster = cluster / 8;
  uint64_t reftable_clusters = 1, refblocks = 1, total = 0;
  for (;;) {
    total = 1 + reftable_clusters + refblocks + l1_clusters;
    const uint64_t need_blocks = CeilDiv(total, refs_per_block);
    const uint64_t need_table = CeilDiv(need_blocks, entries_per_reftable_cluster);
    if (need_blocks <= refblocks && need_table <= reftable_clusters) break;
    refblocks = std::max(refblocks, need_blocks);
    reftable_clusters = std::max(reftable_clusters, need_table);
  }
  if (reftable_clusters * cluster > kMaxRefcountTableBytes) {
    return Invalid("refcount table would be too large");  // unreachable with the L1 cap
  }

  const uint64_t reftable_offset = cluster;
  const uint64_t refblock_offset = reftable_offset + reftable_clusters * cluster;
  const uint64_t l1_offset = refblock_offset + refblocks * cluster;

  // Cluster 0: header, backing-format extension, end marker, backing file name.
  const std::string_view fmt = spec.backing_format;
  const uint64_t ext_offset = kV3HeaderLength;
  const uint64_t end_marker_offset = ext_offset + 8 + RoundUp8(fmt.size());
  const uint64_t name_offset = end_marker_offset + 8;
  if (name_offset + name.size() > cluster) {
    return Invalid(absl::StrCat("backing path (", name.size(), " bytes) does not fit in the ",
                                cluster, "-byte header cluster; use larger clusters"));
  }
  std::string header(name_offset + name.size(), '\0');
  PutBe32(header, 0, kMagic);
  PutBe32(header, 4, 3);            // version
  PutBe64(header, 8, name_offset);  // backing_file_offset
  PutBe32(header, 16, static_cast<uint32_t>(name.size()));
  PutBe32(header, 20, cb);     // cluster_bits
  PutBe64(header, 24, vsize);  // size
  PutBe32(header, 32, 0);      // crypt_method
  PutBe32(header, 36, static_cast<uint32_t>(l1_size));
  PutBe64(header, 40, l1_offset);
  PutBe64(header, 48, reftable_offset);
  PutBe32(header, 56, static_cast<uint32_t>(reftable_clusters));
  PutBe32(header, 60, 0);                                    // nb_snapshots
  PutBe64(header, 64, 0);                                    // snapshots_offset
  PutBe64(header, 72, 0);                                    // incompatible_features
  PutBe64(header, 80, 0);                                    // compatible_features
  PutBe64(header, 88, 0);                                    // autoclear_features
  PutBe32(header, 96, kOverlayRefcountOrder);                // refcount_order
  PutBe32(header, 100, kV3HeaderLength);                     // header_length
  header[104] = static_cast<char>(Qcow2Compression::kZlib);  // compression_type; 105..111 pad
  PutBe32(header, ext_offset, kExtBackingFormat);
  PutBe32(header, ext_offset + 4, static_cast<uint32_t>(fmt.size()));
  header.replace(ext_offset + 8, fmt.size(), fmt);
  // End marker: 8 zero bytes at end_marker_offset (already zero).
  header.replace(name_offset, name.size(), name);

  OverlayLayout layout;
  layout.virtual_size = vsize;
  layout.l1_size = static_cast<uint32_t>(l1_size);
  layout.metadata_clusters = total;
  layout.file_size = total * cluster;
  layout.writes.push_back({0, std::move(header)});
  std::string reftable(refblocks * 8, '\0');
  for (uint64_t b = 0; b < refblocks; ++b) {
    PutBe64(reftable, 8 * b, refblock_offset + b * cluster);
  }
  layout.writes.push_back({reftable_offset, std::move(reftable)});
  // 16-bit refcount 1 for every metadata cluster. A block holds cluster/2 entries and the
  // blocks are contiguous, so entry c sits at refblock_offset + 2c.
  std::string refcounts(total * 2, '\0');
  for (uint64_t c = 0; c < total; ++c) refcounts[2 * c + 1] = 1;
  layout.writes.push_back({refblock_offset, std::move(refcounts)});
  // The L1 table is all zeros: it is the file's sparse tail.
  return layout;
}

absl::Status CreateOverlay(const OverlaySpec& spec) {
  const std::string context = absl::StrCat("create overlay ", spec.overlay_path);
  if (spec.overlay_path.empty()) return Invalid("create overlay: empty overlay path");
  struct stat st;
  if (::lstat(spec.overlay_path.c_str(), &st) == 0) {
    return absl::AlreadyExistsError(absl::StrCat(context, ": already exists"));
  }
  if (spec.backing_path.empty() || spec.backing_path.front() != '/') {
    return Invalid(
        absl::StrCat(context, ": backing path \"", spec.backing_path, "\" is not absolute"));
  }
  absl::StatusOr<Qcow2Info> backing = InspectQcow2(spec.backing_path);
  if (!backing.ok()) return Annotate(backing.status(), absl::StrCat(context, ": backing image"));
  if (backing->has_backing_file()) {
    return Invalid(absl::StrCat(context, ": backing image ", spec.backing_path,
                                " has a backing file of its own (\"", backing->backing_file,
                                "\"); chains are not supported"));
  }
  absl::StatusOr<OverlayLayout> layout = PlanOverlay(spec, backing->virtual_size);
  if (!layout.ok()) return Annotate(layout.status(), context);

  absl::StatusOr<TempFile> tmp = TempFile::Create(spec.overlay_path, 0600);
  if (!tmp.ok()) return Annotate(tmp.status(), context);
  absl::Status s;
  for (const OverlayLayout::Write& w : layout->writes) {
    s = PWriteAll(tmp->fd(), w.bytes, w.offset, tmp->path());
    if (!s.ok()) break;
  }
  if (s.ok() && ::ftruncate(tmp->fd(), static_cast<off_t>(layout->file_size)) != 0) {
    s = ErrnoError(errno, "truncate", tmp->path());
  }
  if (s.ok()) s = tmp->Publish(spec.overlay_path, /*replace=*/false);
  // On error ~TempFile removes the temp file; Publish never leaves a partial overlay.
  if (!s.ok()) return Annotate(s, context);
  return absl::OkStatus();
}

}  // namespace minicloud::storage
