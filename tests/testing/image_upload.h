#pragma once

#include <fstream>
#include <sstream>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "controller/service/image_service.h"

namespace minicloud::testing {

// The whole contents of a local file of the test.
inline std::string ReadFileBytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("cannot read " + path);
  std::ostringstream out;
  out << f.rdbuf();
  return out.str();
}

// Registers an image the way a RegisterImage stream does: the request (sizes filled in from
// the parts when left 0), then the bytes in chunks of `chunk`.
inline absl::StatusOr<v1::RegisterImageResponse> UploadImage(
    controller::ImageService& images, v1::RegisterImageRequest req, const std::string& disk,
    const std::string& kernel = "", const std::string& ramdisk = "", size_t chunk = 1 << 20) {
  if (req.image_size_bytes() == 0) req.set_image_size_bytes(static_cast<int64_t>(disk.size()));
  if (req.kernel_size_bytes() == 0) req.set_kernel_size_bytes(static_cast<int64_t>(kernel.size()));
  if (req.ramdisk_size_bytes() == 0) {
    req.set_ramdisk_size_bytes(static_cast<int64_t>(ramdisk.size()));
  }
  auto reg = images.BeginRegisterImage(req);
  if (!reg.ok()) return reg.status();
  const std::string all = disk + kernel + ramdisk;
  for (size_t off = 0; off < all.size(); off += chunk) {
    absl::Status s = (*reg)->Append(absl::string_view(all).substr(off, chunk));
    if (!s.ok()) return s;
  }
  return (*reg)->Finish();
}

}  // namespace minicloud::testing
