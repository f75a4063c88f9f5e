#pragma once

// EBS in block device mappings: what an AMI's mapping says about its root (RegisterImage) and
// which EBS volumes an instance gets at launch (RunInstances). Pure: no state, no I/O.
//
// EC2's rules followed here (Amazon EC2 User Guide, "Block device mappings", "Root device
// volume", "Amazon EBS volume types"; botocore 1.43 service-2.json shapes BlockDeviceMapping,
// EbsBlockDevice, RegisterImageRequest.RootDeviceName):
// - An AMI is EBS-backed when its mapping has an Ebs entry for its root device name. Here the
//   root's snapshot is the uploaded disk, so the root entry names no SnapshotId; its VolumeSize
//   (default: the disk's virtual size rounded up to GiB) may not be smaller than the disk.
// - RunInstances' mappings change the AMI's: an entry for a device the AMI maps overrides the
//   fields it gives (VolumeSize, VolumeType, DeleteOnTermination, Iops, Throughput, Encrypted;
//   a SnapshotId only for data volumes), NoDevice removes an AMI data volume; a new Ebs entry
//   adds a data volume (from SnapshotId, or blank of VolumeSize).
// - DeleteOnTermination defaults to true (EbsBlockDevice.DeleteOnTermination); VolumeType to the
//   AMI's, else gp2; st1 and sc1 cannot be root volumes ("Amazon EBS volume types": HDD volumes
//   are not supported as boot volumes).
// - A root volume smaller than its snapshot: InvalidBlockDeviceMapping ("Volume of size N GB is
//   smaller than snapshot ..., expect size >= M GB"), EC2's text. An Ebs root on an AMI that is
//   not EBS-backed: InvalidBlockDeviceMapping. A data volume with neither SnapshotId nor
//   VolumeSize: MissingParameter. Device names of data volumes: common/volume_limits.h
//   (EbsDeviceTarget); type, size, IOPS and throughput: volumes::ResolveVolume.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/repeated_field.h"
#include "minicloud/v1/compute.pb.h"
#include "minicloud/v1/records.pb.h"

namespace minicloud::controller {

inline constexpr char kRootDeviceTypeEbs[] = "ebs";
inline constexpr char kRootDeviceTypeInstanceStore[] = "instance-store";

// What RegisterImage records about the AMI's block devices.
struct ImageMapping {
  std::string root_device_type;  // "ebs", "instance-store" or "" (host-local root)
  // The mapping as recorded: the root's Ebs entry first (VolumeSize, DeleteOnTermination and
  // VolumeType filled in), then the other entries as given.
  std::vector<v1::BlockDeviceMapping> mappings;
};

// `virtual_size_bytes`: the uploaded disk's virtual size.
absl::StatusOr<ImageMapping> ResolveImageMapping(const v1::RegisterImageRequest& req,
                                                 int64_t virtual_size_bytes);

// The size in GiB a volume holding `bytes` needs (at least 1).
int64_t GibFor(int64_t bytes);

// One EBS volume an instance gets at launch.
struct EbsVolumePlan {
  std::string device_name;  // "/dev/xvda", "/dev/sdf"
  bool root = false;
  int64_t size_gib = 0;
  std::string volume_type;  // EC2's name
  int32_t iops = 0;         // resolved (volumes::ResolveVolume); 0: none
  int32_t throughput = 0;
  // Data volumes: the snapshot to clone ("" = blank). The root: "" (the AMI's snapshot in the
  // instance's zone is found by the caller).
  std::string snapshot_id;
  bool delete_on_termination = true;
  bool encrypted = false;
};

// The EBS volumes of an instance launched from `image` with RunInstances' `mappings`, root
// first. `snapshot_gib(id)` gives the size of a data volume's snapshot (the caller checks that
// it exists first); the root's snapshot size is the AMI's virtual size. Instance-store entries
// (VirtualName) are left to ResolveInstanceStore.
absl::StatusOr<std::vector<EbsVolumePlan>> ResolveEbsVolumes(
    const v1::ImageRecord& image,
    const google::protobuf::RepeatedPtrField<v1::BlockDeviceMapping>& mappings,
    const std::function<int64_t(const std::string&)>& snapshot_gib);

// Where the snapshots a launch clones are kept: each snapshot lives on one zone's volume service
// and a launch clones it (copy-on-write) there, so the instance can only launch in a zone holding
// all of them (README, "EBS volumes"). One entry per plan that clones a snapshot: the root from
// the AMI's snapshots (`image.zone_snapshots`, one per zone), a data volume from its SnapshotId
// (`snapshot_zone(id)`); zones sorted.
struct ClonedSnapshot {
  const EbsVolumePlan* plan;
  std::vector<std::string> zones;
};
std::vector<ClonedSnapshot> ClonedSnapshots(
    const v1::ImageRecord& image, const std::vector<EbsVolumePlan>& plans,
    const std::function<std::string(const std::string&)>& snapshot_zone);

// The zones holding every snapshot of `cloned`, sorted; nullopt when there is none (blank
// volumes: any zone with a volume service). An empty list: no zone holds them all.
std::optional<std::vector<std::string>> SnapshotZones(const std::vector<ClonedSnapshot>& cloned);

// Where a launch can land when `candidates` (zones with a volume service, sorted) hold none of
// the zones SnapshotZones found: the candidates needing the fewest copies, where a snapshot of
// `cloned` missing from a zone is copied into it (a full copy) when `copyable(c, zone)`. Sorted;
// empty when no candidate can take every snapshot.
std::vector<std::string> ZonesWithFewestCopies(
    const std::vector<ClonedSnapshot>& cloned, const std::vector<std::string>& candidates,
    const std::function<bool(const ClonedSnapshot& c, const std::string& zone)>& copyable);

// The AMI's root device type as EC2 shows it ("" = the host-local root, shown as "ebs").
std::string ShownRootDeviceType(const v1::ImageRecord& image);

// True when the two device names are one slot (sdf and xvdf; /dev/ optional).
bool SameDevice(absl::string_view a, absl::string_view b);

}  // namespace minicloud::controller
