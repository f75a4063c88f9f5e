#pragma once

// EC2's rules for EBS volumes in one place: the size, IOPS and throughput ranges of each volume
// type, Multi-Attach, the defaults, and the I/O limits (libvirt `iotune`) a type is enforced
// with. Pure; Abseil only. The controller's VolumeService validates requests with these
// functions and nothing else; the agent's hot-plug builds its `<iotune>` from IoTuneOf().
//
// Sources (checked 2026-12):
//  - botocore 1.43.11, data/ec2/2016-11-15/service-2.json: CreateVolumeRequest.Size / Iops /
//    Throughput / VolumeType / MultiAttachEnabled, ModifyVolumeRequest.* (the API reference text).
//    It gives gp3 1-65,536 GiB, 3,000-80,000 IOPS and 125-2,000 MiB/s: AWS raised gp3's limits in
//    2025, so older pages (and the AWS user guide's archived copy) still say 16,384 GiB, 16,000
//    IOPS and 1,000 MiB/s. The model the aws CLI ships wins here.
//  - Amazon EBS user guide, "General Purpose SSD volumes" (gp2: 3 IOPS per GiB, at least 100, at
//    most 16,000, bursts to 3,000 below 1,000 GiB from a 5.4 million I/O credit bucket; gp3: at
//    most 500 IOPS per GiB and 0.25 MiB/s per IOPS), "Provisioned IOPS SSD volumes" (io1 at most
//    50 IOPS per GiB, io2 at most 1,000; io1 reaches 500 MiB/s at 256 KiB I/Os, then 16 KiB per
//    IOPS above 32,000 IOPS up to 1,000 MiB/s; io2 0.256 MiB/s per IOPS up to 4,000 MiB/s),
//    "Throughput Optimized HDD and Cold HDD volumes" (st1 40 MiB/s per TiB baseline, 250 burst,
//    500 max, 500 IOPS of 1 MiB; sc1 12 / 80 per TiB, 192 / 250 max, 250 IOPS), "Previous
//    generation volumes" (standard: about 100 IOPS on average, bursts to hundreds, 40-90 MiB/s),
//    "Amazon EBS Multi-Attach" (io1 and io2 only, up to 16 instances in one AZ).

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace minicloud::volumes {

enum class VolumeType { kStandard, kGp2, kGp3, kIo1, kIo2, kSt1, kSc1 };
inline constexpr VolumeType kAllVolumeTypes[] = {
    VolumeType::kStandard, VolumeType::kGp2, VolumeType::kGp3, VolumeType::kIo1,
    VolumeType::kIo2,      VolumeType::kSt1, VolumeType::kSc1};

// CreateVolume's VolumeType default ("Default: gp2", botocore CreateVolumeRequest.VolumeType).
inline constexpr VolumeType kDefaultVolumeType = VolumeType::kGp2;

// "gp2", "io1", ... (EC2's wire names).
absl::string_view VolumeTypeName(VolumeType t);
// The type EC2 calls `name`; InvalidParameterValue naming the valid values otherwise.
absl::StatusOr<VolumeType> ParseVolumeType(absl::string_view name);

// Multi-Attach: io1 and io2 only, at most 16 instances (MultiAttachEnabled's documentation).
inline constexpr int kMaxMultiAttachInstances = 16;

// gp3 defaults when IOPS / Throughput are not given (CreateVolumeRequest.Iops, .Throughput).
inline constexpr int64_t kGp3DefaultIops = 3000;
inline constexpr int64_t kGp3DefaultThroughputMiBps = 125;

// What a type allows. Ranges are inclusive; 0 per-GiB ratio = no ratio rule.
struct TypeLimits {
  int64_t min_size_gib;
  int64_t max_size_gib;
  bool iops_settable;  // Iops may be given (gp3, io1, io2)
  bool iops_required;  // ... and must be (io1, io2)
  int64_t min_iops;    // when settable
  int64_t max_iops;    // when settable
  int64_t max_iops_per_gib;
  bool throughput_settable;  // gp3 only
  int64_t min_throughput_mibps;
  int64_t max_throughput_mibps;
  bool multi_attach;  // io1, io2
};
const TypeLimits& LimitsOf(VolumeType t);

// gp3: throughput at most 0.25 MiB/s per provisioned IOPS, i.e. IOPS >= 4 x throughput.
inline constexpr int64_t kGp3IopsPerMiBps = 4;

// gp2's baseline: 3 IOPS per GiB, at least 100, at most 16,000.
int64_t Gp2BaselineIops(int64_t size_gib);

// A volume's performance as asked for: unset = not given.
struct VolumeRequest {
  VolumeType type = kDefaultVolumeType;
  int64_t size_gib = 0;
  std::optional<int64_t> iops;
  std::optional<int64_t> throughput_mibps;
  bool multi_attach = false;
};

// What a volume is given once the rules and defaults are applied, as DescribeVolumes reports it:
// `iops` is the provisioned IOPS (gp3, io1, io2) or gp2's baseline, 0 for st1, sc1 and standard
// (EC2 leaves it out); throughput is set for gp3 only (0 otherwise).
struct VolumePerformance {
  int64_t iops = 0;
  int64_t throughput_mibps = 0;
};

// The one check of a volume's shape (CreateVolume, and ModifyVolume's target). Errors are EC2's:
// InvalidParameterValue (a size, IOPS or throughput out of range, a ratio too high),
// MissingParameter (io1/io2 without Iops), InvalidParameterCombination (Iops for gp2, st1, sc1,
// standard; Throughput for anything but gp3; Multi-Attach for anything but io1/io2).
absl::StatusOr<VolumePerformance> ResolveVolume(const VolumeRequest& req);

// libvirt's <iotune> for a volume (domain XML, `virsh blkdeviotune`): sustained limits, burst
// limits with how long a full burst lasts, and the I/O size an operation is counted at (EBS
// counts SSD I/O in 16 KiB units and HDD I/O in 1 MiB units). 0 = no limit of that kind.
struct IoTune {
  int64_t total_iops_sec = 0;
  int64_t total_bytes_sec = 0;
  int64_t total_iops_sec_max = 0;
  int64_t total_iops_sec_max_length = 0;  // seconds
  int64_t total_bytes_sec_max = 0;
  int64_t total_bytes_sec_max_length = 0;  // seconds
  int64_t size_iops_sec = 0;               // bytes
  friend bool operator==(const IoTune&, const IoTune&) = default;
};
// The limits a volume of type `t`, `size_gib` and resolved `perf` runs with. Pure.
IoTune IoTuneOf(VolumeType t, int64_t size_gib, const VolumePerformance& perf);

// The virtio slot ("vdf") of an EBS device name given to AttachVolume or in a block device
// mapping. Accepted names (Amazon EC2 User Guide, "Device names for volumes on Amazon EC2
// instances", Linux HVM: available /dev/sd[a-z], /dev/xvd[a-d][a-z], /dev/xvd[e-z]; /dev/sda1
// and /dev/xvda reserved for the root), with or without the "/dev/" prefix:
//   /dev/sd[b-z]       -> vd[b-z]      (EC2 recommends /dev/sd[f-p] for EBS data volumes)
//   /dev/xvd[b-z]      -> vd[b-z]      (the same disk: sdf and xvdf are one slot, as on EC2)
//   /dev/xvd[b-d][a-z] -> vd[b-d][a-z]
// The root's names (/dev/sda, /dev/sda1, /dev/xvda) and anything else are InvalidParameterValue
// ("... is not a valid EBS device name"). The one rule for the controller (AttachVolume) and the
// agent (agent/hypervisor/ebs_disk.h).
absl::StatusOr<std::string> EbsDeviceTarget(absl::string_view device_name);

// InvalidParameterValue naming `device_name` as already in use on the instance (EC2's text).
absl::Status EbsDeviceInUse(absl::string_view device_name);

}  // namespace minicloud::volumes
