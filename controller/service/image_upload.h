#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "controller/service/blob_store.h"
#include "minicloud/v1/compute.pb.h"
#include "minicloud/v1/host.pb.h"

namespace minicloud::controller {

// The largest files RegisterImage accepts.
struct ImageLimits {
  int64_t max_disk_bytes = int64_t{64} << 30;
  int64_t max_kernel_bytes = int64_t{256} << 20;
  int64_t max_ramdisk_bytes = int64_t{2} << 30;
};

// The bytes of one RegisterImage stream: the qcow2 disk, then the optional kernel and ramdisk,
// back to back, with the sizes the request declared. Each part streams into its own blob
// writer (a temp file in the blob store, SHA-256 computed as it arrives) and is checked as soon
// as its first bytes are in (qcow2 header, bzImage, initramfs): a part that cannot be valid
// fails the upload at once, and every later Append returns the same error. Nothing becomes a
// blob until Finish() has every part complete and checked; an upload destroyed before that
// leaves nothing behind. Errors are InvalidParameterValue about the uploaded bytes only (they
// never name a file of the controller). Not thread-safe (one stream).
class ImageUpload {
 public:
  struct Result {
    v1::BootImage boot;  // digests and sizes; image_id and command line left to the caller
    uint64_t virtual_size = 0;
  };

  // Validates the declared sizes and digests of `req` against `limits`.
  static absl::StatusOr<std::unique_ptr<ImageUpload>> Begin(BlobStore& blobs,
                                                            const v1::RegisterImageRequest& req,
                                                            const ImageLimits& limits);

  absl::Status Append(absl::string_view data);
  // All declared bytes arrived and passed the checks: commits the blobs. Single use.
  absl::StatusOr<Result> Finish();
  // Digests Finish() committed (also when it failed half-way), for the caller to drop again
  // if it cannot use them.
  const std::vector<std::string>& committed() const { return committed_; }

 private:
  enum PartKind { kDisk = 0, kKernel = 1, kRamdisk = 2 };
  struct Part {
    const char* name = "";
    int64_t size = 0;
    std::string expected_sha256;
    std::unique_ptr<BlobWriter> writer;
    std::string head;  // the first bytes, for the probe
    size_t head_limit = 0;
    int64_t received = 0;
    bool probed = false;
  };

  explicit ImageUpload(BlobStore& blobs) : blobs_(blobs) {}
  absl::Status Probe(Part& part, PartKind kind);

  BlobStore& blobs_;
  std::array<Part, 3> parts_;
  size_t current_ = 0;
  absl::Status error_;
  uint64_t virtual_size_ = 0;
  bool finished_ = false;
  std::vector<std::string> committed_;
};

}  // namespace minicloud::controller
