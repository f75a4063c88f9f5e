#pragma once

// BlockDeviceMapping.N as RunInstances and RegisterImage take it (botocore shapes
// BlockDeviceMapping, EbsBlockDevice: DeviceName, VirtualName, NoDevice, Ebs.SnapshotId,
// Ebs.VolumeSize, Ebs.VolumeType, Ebs.DeleteOnTermination, Ebs.Iops, Ebs.Throughput,
// Ebs.Encrypted), and an image's blockDeviceMapping as DescribeImages answers it. Only the wire:
// what a mapping may say is controller/service/ebs_mapping.h and block_device_mapping.h.

#include "absl/status/status.h"
#include "controller/query/params.h"
#include "controller/query/xml.h"
#include "google/protobuf/repeated_field.h"
#include "minicloud/v1/compute.pb.h"

namespace minicloud::query {

absl::Status ParseBlockDeviceMappings(
    ParamNode& p, google::protobuf::RepeatedPtrField<v1::BlockDeviceMapping>* out);

// <blockDeviceMapping><item>… of DescribeImages.
void WriteImageBlockDeviceMappings(
    XmlNode parent, const google::protobuf::RepeatedPtrField<v1::BlockDeviceMapping>& m);

}  // namespace minicloud::query
