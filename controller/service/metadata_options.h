#pragma once

// EC2 instance metadata options (RunInstances MetadataOptions, ModifyInstanceMetadataOptions):
// their defaults and their validation, for the controller's services and its record migration.

#include "absl/status/statusor.h"
#include "minicloud/v1/compute.pb.h"

namespace minicloud::controller {

// Fills defaults and validates EC2 metadata options: a named value for each enum (an unknown
// number is InvalidParameterValue with the EC2 names from common/ec2_names.h), the hop limit
// within common/instance_limits.h. `base` supplies the values a modification leaves unset (with
// DefaultMetadataOptions() the result has no UNSPECIFIED field); the state becomes APPLIED.
absl::StatusOr<v1::InstanceMetadataOptions> ResolveMetadataOptions(
    const v1::InstanceMetadataOptions& requested, const v1::InstanceMetadataOptions& base);
v1::InstanceMetadataOptions DefaultMetadataOptions();

}  // namespace minicloud::controller
