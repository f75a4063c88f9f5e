#pragma once

#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "minicloud/v1/compute.pb.h"
#include "minicloud/v1/records.pb.h"

namespace minicloud::controller {

// EC2 filter values may hold '*' (any run) and '?' (any one character).
bool GlobMatch(absl::string_view pattern, absl::string_view value);

// InvalidParameterValue naming the first filter DescribeInstances does not know.
absl::Status ValidateInstanceFilters(const google::protobuf::RepeatedPtrField<v1::Filter>& filters);

// True when the instance matches every filter (values of one filter are OR-ed).
bool InstanceMatches(const v1::InstanceRecord& instance,
                     const google::protobuf::RepeatedPtrField<v1::Filter>& filters);

}  // namespace minicloud::controller
