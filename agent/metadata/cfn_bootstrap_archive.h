#pragma once

// The cfn-bootstrap helper archive the metadata server serves at kCfnBootstrapPath
// (guest_routes.h): read once and kept in memory until the file changes (device, inode, size or
// modification time), so each request costs a stat, not a read.

#include <sys/stat.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "agent/metadata/handler.h"
#include "agent/metadata/instance_metadata.h"

namespace minicloud::metadata {

class CfnBootstrapArchive {
 public:
  // `path` empty: no archive (every request is answered 404). A file over `max_bytes` is
  // answered as missing.
  CfnBootstrapArchive(std::string path, uint64_t max_bytes)
      : path_(std::move(path)), max_bytes_(max_bytes) {}

  // The archive's bytes; null when not configured, missing, unreadable or too big.
  std::shared_ptr<const std::string> Bytes();

  // The answer to a request on the archive's route from `instance` (null: an unknown source):
  // refused, 404, or found. When found and not a HEAD, *file holds the bytes to send after the
  // response's header (the response carries only their length).
  Response Serve(const Request& request, const InstanceMetadata* instance,
                 std::shared_ptr<const std::string>* file);

 private:
  // The archive as last read, with what identifies that version of the file.
  struct CachedFile {
    std::shared_ptr<const std::string> data;
    dev_t dev = 0;
    ino_t ino = 0;
    off_t size = -1;
    timespec mtime{};
  };

  const std::string path_;
  const uint64_t max_bytes_;
  std::mutex mu_;
  CachedFile cached_;  // guarded by mu_
};

}  // namespace minicloud::metadata
