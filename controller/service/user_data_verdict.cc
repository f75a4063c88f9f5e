// DescribeUserDataVerdict: the console GetConsoleOutput returns, parsed by the one parser the
// CLI's waiters also use (common/boot_verdict.h), with the instance's user-data flag.
#include "absl/strings/str_cat.h"
#include "common/ec2_error.h"
#include "common/status_macros.h"
#include "controller/service/compute_service.h"
#include "controller/service/instance_common.h"

namespace minicloud::controller {

absl::StatusOr<std::vector<UserDataVerdict>> ComputeService::DescribeUserDataVerdict(
    const std::vector<std::string>& instance_ids) {
  if (instance_ids.empty()) {
    return MissingParameter("The request must contain the parameter InstanceId");
  }
  std::vector<UserDataVerdict> out;
  for (const std::string& id : instance_ids) {
    v1::DescribeInstanceAttributeRequest areq;
    areq.set_instance_id(id);
    areq.set_attribute("userData");
    MC_ASSIGN_OR_RETURN(auto attr, DescribeInstanceAttribute(areq));
    v1::GetConsoleOutputRequest creq;
    creq.set_instance_id(id);
    MC_ASSIGN_OR_RETURN(auto console, GetConsoleOutput(creq));
    UserDataVerdict v;
    v.instance_id = id;
    v.has_user_data = attr.has_user_data();
    v.boot = ParseBootConsole(console.output());
    if (console.output().empty()) {
      v.status = "unknown";
    } else if (!v.boot.cloud_init_finished) {
      v.status = "running";
    } else {
      v.status = v.has_user_data && v.boot.user_data_failed ? "failed" : "finished";
    }
    if (!console.output().empty()) v.message = FormatBootVerdict(v.boot, v.has_user_data);
    out.push_back(std::move(v));
  }
  return out;
}

}  // namespace minicloud::controller
