#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/clock.h"
#include "common/ids.h"
#include "controller/service/blob_store.h"
#include "controller/service/cloud_state.h"
#include "controller/service/image_upload.h"
#include "controller/service/volume_service.h"
#include "minicloud/v1/compute.pb.h"
#include "minicloud/v1/host.pb.h"

namespace minicloud::controller {

class ComputeService;

// AMIs: registration (validate, store the uploaded files in the blob store, record), listing,
// deregistration, and which blobs a host may download. Thread-safe.
//
// Registration takes bytes, never a file name: BeginRegisterImage checks the request, the
// caller feeds the stream's bytes to Registration::Append and ends with Finish (see
// ImageUpload for the checks). At most kMaxUploads registrations stream at once.
class ImageService {
 public:
  static constexpr int kMaxUploads = 4;

  ImageService(CloudState& state, const Clock& clock, IdGenerator& ids, BlobStore& blobs,
               ImageLimits limits = {})
      : state_(state), clock_(clock), ids_(ids), blobs_(blobs), limits_(limits) {}

  // One RegisterImage stream in progress.
  class Registration {
   public:
    ~Registration();
    absl::Status Append(absl::string_view data) { return upload_->Append(data); }
    absl::StatusOr<v1::RegisterImageResponse> Finish();

   private:
    friend class ImageService;
    Registration(ImageService& service, v1::RegisterImageRequest req,
                 std::unique_ptr<ImageUpload> upload)
        : service_(service), req_(std::move(req)), upload_(std::move(upload)) {}
    ImageService& service_;
    v1::RegisterImageRequest req_;
    std::unique_ptr<ImageUpload> upload_;
  };

  // The volume service EBS-backed AMIs import their disks into (VolumeService::ImportImage);
  // without one, RegisterImage refuses them.
  void SetVolumes(VolumeService* volumes) { volumes_ = volumes; }
  // Where CreateImage stops and starts the instance it bakes (without one, only --no-reboot).
  void SetCompute(ComputeService* compute) { compute_ = compute; }

  absl::StatusOr<std::unique_ptr<Registration>> BeginRegisterImage(
      const v1::RegisterImageRequest& req);
  absl::StatusOr<v1::DescribeImagesResponse> DescribeImages(const v1::DescribeImagesRequest& req);
  absl::StatusOr<v1::DeregisterImageResponse> DeregisterImage(
      const v1::DeregisterImageRequest& req);

  // RegisterImage of an existing snapshot (image_copy.cc): the request's root mapping names a
  // completed SnapshotId and no bytes follow. The AMI's root is that snapshot (in its zone); the
  // guest boots from the disk (BIOS: a bootloader on the disk, as EC2 needs one too).
  static bool IsSnapshotRegistration(const v1::RegisterImageRequest& req);
  absl::StatusOr<v1::RegisterImageResponse> RegisterSnapshotImage(
      const v1::RegisterImageRequest& req);

  // EC2's CreateImage (image_bake.cc): an EBS-backed, running or stopped instance; every EBS
  // volume attached to it is snapshotted (crash-consistent; without no_reboot the instance is
  // stopped cleanly first and started again after the snapshots were taken). The AMI is
  // `pending` until its snapshots are completed, then `available`; its mapping names them.
  absl::StatusOr<v1::CreateImageResponse> CreateImage(const v1::CreateImageRequest& req);
  // EC2's CopyImage in this cloud's region (image_copy.cc): a new AMI id whose snapshots are
  // copies of the source's (CopySnapshot), `pending` until they are completed.
  absl::StatusOr<v1::CopyImageResponse> CopyImage(const v1::CopyImageRequest& req);
  // Moves every `pending` AMI on (a bake's stop, snapshots, start; completed snapshots make it
  // available, a failed one failed). Called by CreateImage/CopyImage and by the controller's
  // reconcile loop. Returns how many AMIs changed state.
  int ReconcileImages();

  // The local path of the blob `req` asks for, when the asking host may have it: the host id is
  // a registered host's, and the blob belongs to a registered AMI or to an instance placed on
  // that host. PermissionDenied for an unknown host, NotFound for any other blob (whether stored
  // or not).
  absl::StatusOr<std::string> BlobForHost(const v1::FetchBlobRequest& req);

 private:
  absl::Status CheckNameFreeLocked(const std::string& name) const;
  absl::StatusOr<v1::RegisterImageResponse> Record(const v1::RegisterImageRequest& req,
                                                   const ImageUpload::Result& files);
  // Removes those of `digests` no image and no live instance uses.
  void RemoveUnusedBlobs(const std::set<std::string>& digests);
  std::set<std::string> BlobsInUseLocked() const;
  // One step (or more) of a pending AMI (image_bake.cc). True when its state changed.
  bool AdvanceImage(const std::string& image_id);
  // The bake's snapshot step: snapshots of the instance's attached volumes, recorded in the
  // AMI's mapping.
  absl::Status SnapshotInstanceVolumes(const std::string& image_id);

  CloudState& state_;
  const Clock& clock_;
  IdGenerator& ids_;
  BlobStore& blobs_;
  const ImageLimits limits_;
  std::atomic<int> uploads_{0};
  VolumeService* volumes_ = nullptr;
  ComputeService* compute_ = nullptr;
  std::mutex advance_mu_;  // one AdvanceImage at a time
};

// EC2 AMI names: 3-128 characters of letters, digits, ( ) [ ] space . / - ' @ _
bool IsValidImageName(absl::string_view name);

}  // namespace minicloud::controller
