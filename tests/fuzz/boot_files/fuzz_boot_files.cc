// The checks RegisterImage runs on uploaded bytes: the qcow2 header (and its extent against a
// file size taken from the input), the bzImage probe and the initramfs probe (which decompresses
// the start of gzip/xz/zstd data). The first byte picks the probe; the rest is the file's start.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/storage/boot_file_probe.h"
#include "common/storage/qcow2.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 3) {
    case 0: {
      auto info = minicloud::storage::InspectQcow2Bytes(bytes);
      if (info.ok()) {
        (void)minicloud::storage::CheckQcow2Extent(*info, bytes.size());
        (void)minicloud::storage::CheckQcow2Extent(*info, UINT64_MAX);
      }
      break;
    }
    case 1:
      (void)minicloud::storage::ProbeKernel(bytes);
      break;
    case 2:
      (void)minicloud::storage::ProbeRamdisk(bytes);
      break;
  }
  return 0;
}
