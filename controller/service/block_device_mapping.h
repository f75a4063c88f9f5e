#pragma once

// RunInstances' block device mapping, as far as instance store goes: which instance-store
// volumes an instance gets and the device names EC2 lists for them. Pure: no state, no I/O.
//
// EC2's rules followed here (Amazon EC2 User Guide, "Block device mappings" and "Add instance
// store volumes to an EC2 instance"; botocore's BlockDeviceMapping shape):
// - Instance-store volumes are named ephemeral0 .. ephemeral23; a type with N volumes has
//   ephemeral0 .. ephemeral(N-1). Every type of the catalog has NVMe instance store, which EC2
//   attaches whether or not the mapping names it; a mapping only chooses its device name.
// - A mapping naming ephemeralK beyond the type's count is ignored, as EC2 ignores it.
// - Volumes the mapping does not place take the free names /dev/sdb, /dev/sdc, ... in order.
// - NoDevice removes whatever would be at that device name (botocore: "the device is removed
//   from the block device mapping regardless of the assigned value").
// Refused: a mapping without DeviceName (MissingParameter); a device name that is not
// /dev/sd[b-z] or /dev/xvd[b-z] (with or without "/dev/"), or the root device's name, for an
// instance-store mapping, two mappings of one device (sdf and xvdf are one slot), a virtual name
// used twice, VirtualName together with Ebs (InvalidBlockDeviceMapping); a VirtualName that is
// not ephemeral0..ephemeral23 (InvalidParameterValue); more than kMaxBlockDeviceMappings
// mappings (InvalidParameterValue). Ebs mappings take their device's slot; which EBS volumes
// they make is controller/service/ebs_mapping.h.

#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "controller/service/instance_types.h"
#include "google/protobuf/repeated_field.h"
#include "minicloud/v1/compute.pb.h"
#include "minicloud/v1/host.pb.h"

namespace minicloud::controller {

inline constexpr int kMaxBlockDeviceMappings = 64;
inline constexpr int kMaxInstanceStoreVolumes = 24;  // ephemeral0 .. ephemeral23

// The instance-store volumes of an instance of `type` launched with `mappings` from an image
// whose root device is `root_device_name` ("/dev/xvda"), in ephemeral order. Device names are
// as IMDS lists them: without "/dev/" ("sdb").
absl::StatusOr<std::vector<v1::DesiredInstanceStoreDisk>> ResolveInstanceStore(
    const InstanceType& type,
    const google::protobuf::RepeatedPtrField<v1::BlockDeviceMapping>& mappings,
    absl::string_view root_device_name);

}  // namespace minicloud::controller
