#include "volume/backend/volume_backend.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/ids.h"

namespace minicloud::volume {

absl::Status CheckBackendId(absl::string_view id, absl::string_view what) {
  bool ok = !id.empty() && id.size() <= static_cast<size_t>(kMaxBackendIdLength) &&
            absl::ascii_isalpha(static_cast<unsigned char>(id[0]));
  for (size_t i = 0; ok && i < id.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(id[i]);
    ok = absl::ascii_isalnum(c) || c == '-';
  }
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("invalid ", what, " '", QuoteForMessage(id),
                   "': want 1..64 letters, digits and '-', starting with a letter"));
}

absl::Status CheckVolumeSize(uint64_t size_bytes) {
  if (size_bytes == 0 || size_bytes % 512 != 0 || size_bytes > kMaxVolumeBytes) {
    return absl::InvalidArgumentError(absl::StrCat("invalid volume size ", size_bytes,
                                                   " bytes: want a positive multiple of 512 up to ",
                                                   kMaxVolumeBytes));
  }
  return absl::OkStatus();
}

std::string NbdEndpoint::Uri() const {
  const bool v6 = host.find(':') != std::string::npos;
  return absl::StrCat("nbd://", v6 ? "[" : "", host, v6 ? "]" : "", ":", port, "/", export_name);
}

}  // namespace minicloud::volume
