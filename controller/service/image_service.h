#pragma once

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/clock.h"
#include "common/ids.h"
#include "controller/service/blob_store.h"
#include "controller/service/cloud_state.h"
#include "minicloud/v1/compute.pb.h"

namespace minicloud::controller {

// AMIs: registration (validate, copy into the blob store, record), listing, deregistration.
// Thread-safe.
class ImageService {
 public:
  ImageService(CloudState& state, const Clock& clock, IdGenerator& ids, BlobStore& blobs)
      : state_(state), clock_(clock), ids_(ids), blobs_(blobs) {}

  absl::StatusOr<v1::RegisterImageResponse> RegisterImage(const v1::RegisterImageRequest& req);
  absl::StatusOr<v1::DescribeImagesResponse> DescribeImages(const v1::DescribeImagesRequest& req);
  absl::StatusOr<v1::DeregisterImageResponse> DeregisterImage(
      const v1::DeregisterImageRequest& req);

 private:
  CloudState& state_;
  const Clock& clock_;
  IdGenerator& ids_;
  BlobStore& blobs_;
};

// EC2 AMI names: 3-128 characters of letters, digits, ( ) [ ] space . / - ' @ _
bool IsValidImageName(absl::string_view name);

}  // namespace minicloud::controller
