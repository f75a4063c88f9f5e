#include "common/storage/boot_file_probe.h"

#include <lzma.h>
#include <zlib.h>
#include <zstd.h>

#include <array>
#include <cstdint>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace minicloud::storage {
namespace {

constexpr size_t kBootFlagOffset = 0x1FE;
constexpr size_t kHeaderMagicOffset = 0x202;
constexpr size_t kVersionOffset = 0x206;
constexpr uint16_t kMinBootProtocol = 0x0200;

// Decompressing only the start: enough output for one cpio header magic.
constexpr size_t kCpioMagicBytes = 6;
constexpr size_t kProbeOutputBytes = 512;
// Decoders may not ask for more memory than this (xz dictionary, zstd window).
constexpr uint64_t kXzMemLimit = uint64_t{64} << 20;
constexpr int kZstdWindowLogMax = 27;  // 128 MiB, zstd's own default limit

uint16_t Le16(std::string_view b, size_t off) {
  return static_cast<uint16_t>(static_cast<unsigned char>(b[off]) |
                               (static_cast<unsigned char>(b[off + 1]) << 8));
}

bool StartsWith(std::string_view b, std::string_view magic) {
  return b.size() >= magic.size() && b.substr(0, magic.size()) == magic;
}

bool IsCpioNewc(std::string_view b) { return StartsWith(b, "070701") || StartsWith(b, "070702"); }

absl::Status NotInitramfs(absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(
      "the ramdisk is not an initramfs (", why,
      "); expected a cpio archive (newc) or one compressed with gzip, xz, zstd, bzip2, lz4, "
      "lzma or lzo"));
}

// The decompressed start of `in`, up to kProbeOutputBytes; an error when the data is corrupt
// before that much came out (running out of input is not an error: the caller checks the size).
absl::StatusOr<std::string> GunzipStart(std::string_view in) {
  z_stream z{};
  if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) return absl::InternalError("zlib init failed");
  std::string out(kProbeOutputBytes, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  const int rc = inflate(&z, Z_SYNC_FLUSH);
  const size_t produced = out.size() - z.avail_out;
  inflateEnd(&z);
  if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) {
    return NotInitramfs("corrupt gzip data");
  }
  out.resize(produced);
  return out;
}

absl::StatusOr<std::string> UnxzStart(std::string_view in) {
  lzma_stream s = LZMA_STREAM_INIT;
  if (lzma_stream_decoder(&s, kXzMemLimit, 0) != LZMA_OK) {
    return absl::InternalError("xz init failed");
  }
  std::string out(kProbeOutputBytes, '\0');
  s.next_in = reinterpret_cast<const uint8_t*>(in.data());
  s.avail_in = in.size();
  s.next_out = reinterpret_cast<uint8_t*>(out.data());
  s.avail_out = out.size();
  lzma_ret rc = LZMA_OK;
  while (rc == LZMA_OK && s.avail_out > 0 && s.avail_in > 0) rc = lzma_code(&s, LZMA_RUN);
  const size_t produced = out.size() - s.avail_out;
  lzma_end(&s);
  if (rc != LZMA_OK && rc != LZMA_STREAM_END && rc != LZMA_BUF_ERROR) {
    return NotInitramfs(rc == LZMA_MEMLIMIT_ERROR ? "xz dictionary too large" : "corrupt xz data");
  }
  out.resize(produced);
  return out;
}

absl::StatusOr<std::string> UnzstdStart(std::string_view in) {
  std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> ctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
  if (!ctx) return absl::InternalError("zstd init failed");
  ZSTD_DCtx_setParameter(ctx.get(), ZSTD_d_windowLogMax, kZstdWindowLogMax);
  std::string out(kProbeOutputBytes, '\0');
  ZSTD_inBuffer ib{in.data(), in.size(), 0};
  ZSTD_outBuffer ob{out.data(), out.size(), 0};
  while (ib.pos < ib.size && ob.pos < ob.size) {
    const size_t before_in = ib.pos, before_out = ob.pos;
    const size_t rc = ZSTD_decompressStream(ctx.get(), &ob, &ib);
    if (ZSTD_isError(rc)) return NotInitramfs("corrupt zstd data");
    if (rc == 0) break;  // end of frame
    if (ib.pos == before_in && ob.pos == before_out) break;
  }
  out.resize(ob.pos);
  return out;
}

absl::Status CheckDecompressedCpio(absl::StatusOr<std::string> start, absl::string_view method) {
  if (!start.ok()) return start.status();
  if (start->size() < kCpioMagicBytes) {
    return NotInitramfs(absl::StrCat(method, " data too short to hold a cpio header"));
  }
  if (!IsCpioNewc(*start)) {
    return NotInitramfs(absl::StrCat(method, " data that does not start with a cpio header"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ProbeKernel(std::string_view head) {
  if (head.size() < kVersionOffset + 2) {
    return absl::InvalidArgumentError("the kernel is not a Linux bzImage (file too short)");
  }
  if (Le16(head, kBootFlagOffset) != 0xAA55 || head.substr(kHeaderMagicOffset, 4) != "HdrS") {
    return absl::InvalidArgumentError(
        "the kernel is not a Linux bzImage (no x86 boot sector flag and HdrS setup header)");
  }
  if (Le16(head, kVersionOffset) < kMinBootProtocol) {
    return absl::InvalidArgumentError(
        "the kernel is not a Linux bzImage (boot protocol older than 2.00)");
  }
  return absl::OkStatus();
}

std::string_view RamdiskFormatName(RamdiskFormat f) {
  switch (f) {
    case RamdiskFormat::kCpio:
      return "cpio";
    case RamdiskFormat::kGzip:
      return "gzip";
    case RamdiskFormat::kXz:
      return "xz";
    case RamdiskFormat::kZstd:
      return "zstd";
    case RamdiskFormat::kBzip2:
      return "bzip2";
    case RamdiskFormat::kLz4:
      return "lz4";
    case RamdiskFormat::kLzma:
      return "lzma";
    case RamdiskFormat::kLzo:
      return "lzo";
  }
  return "unknown";
}

absl::StatusOr<RamdiskFormat> ProbeRamdisk(std::string_view head) {
  // The kernel skips NUL padding in front of (and between) archives.
  size_t skip = 0;
  while (skip < head.size() && head[skip] == '\0') ++skip;
  if (skip % 4 != 0) return NotInitramfs("misaligned padding");
  const std::string_view b = head.substr(skip);
  if (b.empty()) return NotInitramfs("no data");
  if (IsCpioNewc(b)) return RamdiskFormat::kCpio;
  if (StartsWith(b, "\x1f\x8b")) {
    if (auto s = CheckDecompressedCpio(GunzipStart(b), "gzip"); !s.ok()) return s;
    return RamdiskFormat::kGzip;
  }
  if (StartsWith(b, std::string_view("\xfd"
                                     "7zXZ\0",
                                     6))) {
    if (auto s = CheckDecompressedCpio(UnxzStart(b), "xz"); !s.ok()) return s;
    return RamdiskFormat::kXz;
  }
  if (StartsWith(b, "\x28\xb5\x2f\xfd")) {
    if (auto s = CheckDecompressedCpio(UnzstdStart(b), "zstd"); !s.ok()) return s;
    return RamdiskFormat::kZstd;
  }
  if (StartsWith(b, "BZh") && b.size() > 3 && b[3] >= '1' && b[3] <= '9') {
    return RamdiskFormat::kBzip2;
  }
  if (StartsWith(b, "\x02\x21\x4c\x18")) return RamdiskFormat::kLz4;
  if (StartsWith(b, std::string_view("\x5d\0\0", 3))) return RamdiskFormat::kLzma;
  if (StartsWith(b, std::string_view("\x89LZO\0\r\n\x1a\n", 9))) return RamdiskFormat::kLzo;
  if (StartsWith(b, "070707")) {
    return NotInitramfs("a cpio archive in the old portable format, which Linux does not unpack");
  }
  return NotInitramfs("unknown format");
}

}  // namespace minicloud::storage
