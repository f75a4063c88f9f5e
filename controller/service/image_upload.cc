#include "controller/service/image_upload.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/ec2_error.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "common/storage/boot_file_probe.h"
#include "common/storage/qcow2.h"

namespace minicloud::controller {
namespace {

// InspectQcow2Bytes wants the whole first cluster, which is at most this large.
constexpr size_t kDiskProbeBytes = size_t{1} << storage::kQcow2MaxClusterBits;

bool IsDigest(absl::string_view s) {
  return s.size() == 64 &&
         std::all_of(s.begin(), s.end(), [](char c) { return absl::ascii_isxdigit(c); });
}

// The first cluster of a qcow2 image whose head is `head` (all of `head` when the header does
// not say; InspectQcow2Bytes then explains what is wrong).
std::string_view FirstCluster(std::string_view head) {
  if (head.size() < 24) return head;
  const uint32_t bits = (static_cast<uint32_t>(static_cast<unsigned char>(head[20])) << 24) |
                        (static_cast<uint32_t>(static_cast<unsigned char>(head[21])) << 16) |
                        (static_cast<uint32_t>(static_cast<unsigned char>(head[22])) << 8) |
                        static_cast<uint32_t>(static_cast<unsigned char>(head[23]));
  if (bits < storage::kQcow2MinClusterBits || bits > storage::kQcow2MaxClusterBits) return head;
  return head.substr(0, size_t{1} << bits);
}

}  // namespace

absl::StatusOr<std::unique_ptr<ImageUpload>> ImageUpload::Begin(BlobStore& blobs,
                                                                const v1::RegisterImageRequest& req,
                                                                const ImageLimits& limits) {
  std::unique_ptr<ImageUpload> up(new ImageUpload(blobs));
  struct Declared {
    const char* name;
    int64_t size;
    int64_t max;
    const std::string& sha256;
    size_t head_limit;
  };
  const Declared declared[] = {
      {"disk", req.image_size_bytes(), limits.max_disk_bytes, req.sha256(), kDiskProbeBytes},
      {"kernel", req.kernel_size_bytes(), limits.max_kernel_bytes, req.kernel_sha256(),
       storage::kKernelProbeBytes},
      {"ramdisk", req.ramdisk_size_bytes(), limits.max_ramdisk_bytes, req.ramdisk_sha256(),
       storage::kRamdiskProbeBytes},
  };
  if (req.image_size_bytes() <= 0) {
    return MissingParameter(
        "The request must contain the image (ImageSizeBytes > 0, then its bytes)");
  }
  if (req.ramdisk_size_bytes() > 0 && req.kernel_size_bytes() <= 0) {
    return InvalidParameterValue("A ramdisk needs a kernel");
  }
  for (size_t i = 0; i < 3; ++i) {
    const Declared& d = declared[i];
    if (d.size < 0 || d.size > d.max) {
      return InvalidParameterValue(
          absl::StrCat("The ", d.name, " size ", d.size, " is outside 0..", d.max, " bytes"));
    }
    if (!d.sha256.empty() && !IsDigest(d.sha256)) {
      return InvalidParameterValue(
          absl::StrCat("The expected SHA-256 of the ", d.name, " is not 64 hex digits"));
    }
    if (!d.sha256.empty() && d.size == 0) {
      return InvalidParameterValue(
          absl::StrCat("An expected SHA-256 is given for the ", d.name, " but no ", d.name));
    }
    Part& p = up->parts_[i];
    p.name = d.name;
    p.size = d.size;
    p.expected_sha256 = d.sha256;
    p.head_limit = d.head_limit;
    if (d.size == 0) continue;
    auto w = blobs.BeginWrite(d.sha256);
    if (!w.ok()) {
      spdlog::error("image upload: cannot start the {}: {}", d.name, w.status().message());
      return absl::InternalError("The controller cannot store images right now");
    }
    p.writer = *std::move(w);
  }
  return up;
}

absl::Status ImageUpload::Probe(Part& part, PartKind kind) {
  part.probed = true;
  absl::Status s;
  switch (kind) {
    case kDisk: {
      auto info = storage::InspectQcow2Bytes(FirstCluster(part.head));
      if (info.ok())
        s = storage::CheckQcow2Extent(*info, static_cast<uint64_t>(part.size));
      else
        s = info.status();
      if (s.ok() && info->has_backing_file()) {
        return InvalidParameterValue(
            "The image has a backing file; flatten it first (qemu-img convert -O qcow2)");
      }
      if (s.ok()) virtual_size_ = info->virtual_size;
      break;
    }
    case kKernel:
      s = storage::ProbeKernel(part.head);
      break;
    case kRamdisk:
      s = storage::ProbeRamdisk(part.head).status();
      break;
  }
  if (!s.ok()) {
    return InvalidParameterValue(absl::StrCat("The ", part.name, " is not usable: ", s.message()));
  }
  part.head.clear();
  part.head.shrink_to_fit();
  return absl::OkStatus();
}

absl::Status ImageUpload::Append(absl::string_view data) {
  if (finished_) return absl::FailedPreconditionError("image upload: append after finish");
  if (!error_.ok()) return error_;
  while (!data.empty()) {
    while (current_ < parts_.size() && parts_[current_].received == parts_[current_].size) {
      ++current_;
    }
    if (current_ == parts_.size()) {
      return error_ = InvalidParameterValue(
                 "The upload is longer than the sizes in the request declare");
    }
    Part& part = parts_[current_];
    const size_t n = static_cast<size_t>(
        std::min<int64_t>(static_cast<int64_t>(data.size()), part.size - part.received));
    const absl::string_view chunk = data.substr(0, n);
    if (absl::Status s = part.writer->Append(chunk); !s.ok()) {
      spdlog::error("image upload: writing the {}: {}", part.name, s.message());
      return error_ = absl::InternalError("The controller cannot store images right now");
    }
    if (!part.probed && part.head.size() < part.head_limit) {
      const absl::string_view take = chunk.substr(0, part.head_limit - part.head.size());
      part.head.append(take.data(), take.size());
    }
    part.received += static_cast<int64_t>(n);
    if (!part.probed && (part.head.size() == part.head_limit || part.received == part.size)) {
      if (absl::Status s = Probe(part, static_cast<PartKind>(current_)); !s.ok()) {
        return error_ = s;
      }
    }
    data.remove_prefix(n);
  }
  return absl::OkStatus();
}

absl::StatusOr<ImageUpload::Result> ImageUpload::Finish() {
  if (finished_) return absl::FailedPreconditionError("image upload: finished twice");
  finished_ = true;
  MC_RETURN_IF_ERROR(error_);
  for (const Part& p : parts_) {
    if (p.received != p.size) {
      return InvalidParameterValue(absl::StrCat("The upload ended after ", p.received, " of the ",
                                                p.size, " bytes of the ", p.name));
    }
  }
  Result r;
  r.virtual_size = virtual_size_;
  std::array<BlobInfo, 3> info;
  for (size_t i = 0; i < parts_.size(); ++i) {
    Part& p = parts_[i];
    if (p.size == 0) continue;
    auto committed = p.writer->Commit();
    if (committed.status().code() == absl::StatusCode::kDataLoss) {
      return InvalidParameterValue(
          absl::StrCat("The ", p.name, " does not match the expected SHA-256"));
    }
    if (!committed.ok()) {
      spdlog::error("image upload: storing the {}: {}", p.name, committed.status().message());
      return absl::InternalError("The controller cannot store images right now");
    }
    info[i] = *committed;
    committed_.push_back(committed->sha256);
  }
  r.boot.set_sha256(info[kDisk].sha256);
  r.boot.set_size_bytes(info[kDisk].size_bytes);
  r.boot.set_kernel_sha256(info[kKernel].sha256);
  r.boot.set_kernel_size_bytes(info[kKernel].size_bytes);
  r.boot.set_ramdisk_sha256(info[kRamdisk].sha256);
  r.boot.set_ramdisk_size_bytes(info[kRamdisk].size_bytes);
  return r;
}

}  // namespace minicloud::controller
