#include "agent/metadata/cfn_bootstrap_archive.h"

#include <fstream>
#include <utility>

#include "agent/metadata/guest_routes.h"
#include "common/logging.h"

namespace minicloud::metadata {

std::shared_ptr<const std::string> CfnBootstrapArchive::Bytes() {
  if (path_.empty()) return nullptr;
  struct stat st {};
  if (::stat(path_.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return nullptr;
  std::lock_guard<std::mutex> lock(mu_);
  if (cached_.data && cached_.dev == st.st_dev && cached_.ino == st.st_ino &&
      cached_.size == st.st_size && cached_.mtime.tv_sec == st.st_mtim.tv_sec &&
      cached_.mtime.tv_nsec == st.st_mtim.tv_nsec) {
    return cached_.data;
  }
  if (static_cast<uint64_t>(st.st_size) > max_bytes_) {
    spdlog::warn("imds: {} has {} bytes, more than the {} served; answering 404", path_, st.st_size,
                 max_bytes_);
    return nullptr;
  }
  std::ifstream in(path_, std::ios::binary);
  std::string bytes(static_cast<size_t>(st.st_size), '\0');
  if (!in.read(bytes.data(), st.st_size) || in.peek() != std::char_traits<char>::eof()) {
    spdlog::warn("imds: cannot read {} (changed while reading?); answering 404", path_);
    return nullptr;
  }
  cached_ = CachedFile{std::make_shared<const std::string>(std::move(bytes)), st.st_dev, st.st_ino,
                       st.st_size, st.st_mtim};
  spdlog::info("imds: serving {} ({} bytes) as {}", path_, st.st_size, kCfnBootstrapPath);
  return cached_.data;
}

Response CfnBootstrapArchive::Serve(const Request& request, const InstanceMetadata* instance,
                                    std::shared_ptr<const std::string>* file) {
  file->reset();
  if (std::optional<Response> refused = DecideCfnBootstrap(request, instance)) {
    return *std::move(refused);
  }
  std::shared_ptr<const std::string> bytes = Bytes();
  if (!bytes) return ArchiveMissing();
  Response found = ArchiveFound(bytes->size());
  if (request.method != "HEAD") *file = std::move(bytes);
  return found;
}

}  // namespace minicloud::metadata
