#include "controller/service/instance_state.h"

#include "absl/strings/string_view.h"
#include "controller/lifecycle/lifecycle.h"

namespace minicloud::controller {

int Ec2StateCode(v1::InstanceStateCode s) {
  switch (s) {
    case v1::INSTANCE_STATE_CODE_PENDING:
      return 0;
    case v1::INSTANCE_STATE_CODE_RUNNING:
      return 16;
    case v1::INSTANCE_STATE_CODE_SHUTTING_DOWN:
      return 32;
    case v1::INSTANCE_STATE_CODE_TERMINATED:
      return 48;
    case v1::INSTANCE_STATE_CODE_STOPPING:
      return 64;
    case v1::INSTANCE_STATE_CODE_STOPPED:
      return 80;
    default:
      return 0;
  }
}

absl::string_view Ec2StateName(v1::InstanceStateCode s) {
  switch (s) {
    case v1::INSTANCE_STATE_CODE_PENDING:
      return "pending";
    case v1::INSTANCE_STATE_CODE_RUNNING:
      return "running";
    case v1::INSTANCE_STATE_CODE_SHUTTING_DOWN:
      return "shutting-down";
    case v1::INSTANCE_STATE_CODE_TERMINATED:
      return "terminated";
    case v1::INSTANCE_STATE_CODE_STOPPING:
      return "stopping";
    case v1::INSTANCE_STATE_CODE_STOPPED:
      return "stopped";
    default:
      return "pending";
  }
}

v1::InstanceStateCode StateFromName(absl::string_view name) {
  for (auto s : {v1::INSTANCE_STATE_CODE_PENDING, v1::INSTANCE_STATE_CODE_RUNNING,
                 v1::INSTANCE_STATE_CODE_SHUTTING_DOWN, v1::INSTANCE_STATE_CODE_TERMINATED,
                 v1::INSTANCE_STATE_CODE_STOPPING, v1::INSTANCE_STATE_CODE_STOPPED}) {
    if (Ec2StateName(s) == name) return s;
  }
  return v1::INSTANCE_STATE_CODE_UNSPECIFIED;
}

bool HoldsCapacity(v1::InstanceStateCode s) { return lifecycle::HoldsCapacity(s); }

}  // namespace minicloud::controller
