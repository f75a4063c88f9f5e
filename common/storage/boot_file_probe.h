#pragma once

// Checks that the first bytes of an uploaded file are what a direct-kernel AMI claims: a Linux
// bzImage for the kernel, an initramfs for the ramdisk. Pure functions over bytes (no files);
// uploads are untrusted input, so nothing here crashes or reads out of bounds, and a rejection is
// an InvalidArgument saying what was expected (never echoing the bytes).

#include <cstddef>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace minicloud::storage {

// How many leading bytes the probes look at: give them this many, or the whole file if shorter.
inline constexpr size_t kKernelProbeBytes = 4096;
inline constexpr size_t kRamdiskProbeBytes = 64 * 1024;

// A bzImage (Linux x86 boot protocol, Documentation/arch/x86/boot.rst): the boot sector flag
// 0xAA55 at 0x1FE and the "HdrS" setup header magic at 0x202, protocol version >= 2.00.
absl::Status ProbeKernel(std::string_view head);

enum class RamdiskFormat {
  kCpio,   // uncompressed cpio "newc" (070701) or "crc" (070702), what Linux unpacks
  kGzip,   // decompressed start checked for a cpio header
  kXz,     // decompressed start checked for a cpio header
  kZstd,   // decompressed start checked for a cpio header
  kBzip2,  // compression magic only
  kLz4,    // legacy frame (what the kernel's lz4 decompressor reads); magic only
  kLzma,   // magic only
  kLzo,    // lzop magic only
};
std::string_view RamdiskFormatName(RamdiskFormat f);

// An initramfs as the kernel accepts it: a cpio archive in newc/crc format, or one compressed
// with a method the kernel can decompress. For gzip, xz and zstd the first bytes are
// decompressed and must start with a cpio header; for the others only the compression magic is
// checked. `head` holds the first kRamdiskProbeBytes (or the whole file).
absl::StatusOr<RamdiskFormat> ProbeRamdisk(std::string_view head);

}  // namespace minicloud::storage
