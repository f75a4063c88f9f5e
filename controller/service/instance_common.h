#pragma once

// Small pieces the instance verbs share (ComputeService's files): id checks and lookups, the
// API state pair, and the EC2 errors several verbs return.

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "controller/service/cloud_state.h"
#include "controller/service/instance_types.h"
#include "minicloud/v1/compute.pb.h"

namespace minicloud::controller {

// InvalidInstanceID.NotFound / InvalidInstanceID.Malformed, worded as EC2.
absl::Status InstanceNotFound(absl::string_view id);
absl::Status CheckInstanceIdFormat(absl::string_view id);
// The instance's record, after checking the id's shape. Requires the state lock.
absl::StatusOr<const v1::InstanceRecord*> FindInstanceLocked(CloudState& state,
                                                             absl::string_view id);

// {code, name} as EC2 reports an instance state.
v1::InstanceState ApiState(v1::InstanceStateCode s);

// DryRunOperation: what every verb answers when DryRun passed its checks.
absl::Status DryRunOk();
// The EC2 error for a scheduler refusal: ResourceExhausted → InsufficientInstanceCapacity,
// InvalidArgument → InvalidParameterValue.
absl::Status SchedulerError(const absl::Status& s, absl::string_view instance_type);

// An instance's tags against EC2's limits and characters (tag_service.h): with
// InstanceMetadataTags=enabled the keys must also be servable as metadata paths. RunInstances
// checks the request's tags; ModifyInstanceMetadataOptions checks the instance's tags again
// before it enables tags in metadata.
absl::Status ValidateInstanceTags(const google::protobuf::RepeatedPtrField<v1::Tag>& tags,
                                  v1::InstanceMetadataTags metadata_tags);

// Instance-store GB of a type (disks x size).
int64_t InstanceStoreGb(const InstanceType& type);

}  // namespace minicloud::controller
