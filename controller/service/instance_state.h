#pragma once

#include <string_view>

#include "absl/strings/string_view.h"
#include "minicloud/v1/common.pb.h"

namespace minicloud::controller {

// EC2's numeric code (0 pending, 16 running, 32 shutting-down, 48 terminated, 64 stopping,
// 80 stopped) and name for a stored state.
int Ec2StateCode(v1::InstanceStateCode s);
absl::string_view Ec2StateName(v1::InstanceStateCode s);
// Parses "running" etc.; UNSPECIFIED when unknown.
v1::InstanceStateCode StateFromName(absl::string_view name);

// States that hold host capacity (the domain exists or is about to); the rule lives in
// controller/lifecycle/lifecycle.h.
bool HoldsCapacity(v1::InstanceStateCode s);

}  // namespace minicloud::controller
