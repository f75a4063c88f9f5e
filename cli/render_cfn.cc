#include "cli/render_cfn.h"

#include "cli/render.h"

namespace minicloud::cli {
namespace {

using nlohmann::json;

json ParametersJson(const google::protobuf::RepeatedPtrField<v1::StackParameter>& params) {
  json out = json::array();
  for (const auto& p : params) {
    json j = {{"ParameterKey", p.key()}, {"ParameterValue", p.value()}};
    if (p.use_previous_value()) j["UsePreviousValue"] = true;
    out.push_back(j);
  }
  return out;
}

bool IsSet(const google::protobuf::Timestamp& t) { return t.seconds() != 0 || t.nanos() != 0; }

}  // namespace

json StackJson(const v1::Stack& s) {
  json j = {{"StackId", s.stack_id()}, {"StackName", s.stack_name()}};
  if (!s.description().empty()) j["Description"] = s.description();
  if (s.parameters_size() > 0) j["Parameters"] = ParametersJson(s.parameters());
  j["CreationTime"] = Iso8601(s.creation_time());
  if (IsSet(s.deletion_time())) j["DeletionTime"] = Iso8601(s.deletion_time());
  if (IsSet(s.last_updated_time())) j["LastUpdatedTime"] = Iso8601(s.last_updated_time());
  j["RollbackConfiguration"] = json::object();
  j["StackStatus"] = s.stack_status();
  if (!s.stack_status_reason().empty()) j["StackStatusReason"] = s.stack_status_reason();
  j["DisableRollback"] = s.disable_rollback();
  j["NotificationARNs"] = json::array();
  if (s.timeout_in_minutes() > 0) j["TimeoutInMinutes"] = s.timeout_in_minutes();
  if (s.capabilities_size() > 0) {
    j["Capabilities"] =
        json(std::vector<std::string>(s.capabilities().begin(), s.capabilities().end()));
  }
  if (s.outputs_size() > 0) {
    json outs = json::array();
    for (const auto& o : s.outputs()) {
      json oj = {{"OutputKey", o.key()}, {"OutputValue", o.value()}};
      if (!o.description().empty()) oj["Description"] = o.description();
      outs.push_back(oj);
    }
    j["Outputs"] = outs;
  }
  j["Tags"] = TagsJson(s.tags());
  j["EnableTerminationProtection"] = false;
  j["DriftInformation"] = {{"StackDriftStatus", "NOT_CHECKED"}};
  return j;
}

json StackEventJson(const v1::StackEvent& e) {
  json j = {{"StackId", e.stack_id()},
            {"EventId", e.event_id()},
            {"StackName", e.stack_name()},
            {"LogicalResourceId", e.logical_resource_id()},
            {"PhysicalResourceId", e.physical_resource_id()},
            {"ResourceType", e.resource_type()},
            {"Timestamp", Iso8601(e.timestamp())},
            {"ResourceStatus", e.resource_status()}};
  if (!e.resource_status_reason().empty()) j["ResourceStatusReason"] = e.resource_status_reason();
  if (!e.resource_properties().empty()) j["ResourceProperties"] = e.resource_properties();
  if (!e.client_request_token().empty()) j["ClientRequestToken"] = e.client_request_token();
  return j;
}

json StackResourceJson(const v1::StackResource& r) {
  json j = {{"StackName", r.stack_name()},
            {"StackId", r.stack_id()},
            {"LogicalResourceId", r.logical_resource_id()},
            {"PhysicalResourceId", r.physical_resource_id()},
            {"ResourceType", r.resource_type()},
            {"Timestamp", Iso8601(r.last_updated_timestamp())},
            {"ResourceStatus", r.resource_status()}};
  if (!r.resource_status_reason().empty()) j["ResourceStatusReason"] = r.resource_status_reason();
  if (!r.description().empty()) j["Description"] = r.description();
  j["DriftInformation"] = {{"StackResourceDriftStatus", "NOT_CHECKED"}};
  return j;
}

json StackResourceDetailJson(const v1::StackResource& r) {
  json j = {{"StackName", r.stack_name()},
            {"StackId", r.stack_id()},
            {"LogicalResourceId", r.logical_resource_id()},
            {"PhysicalResourceId", r.physical_resource_id()},
            {"ResourceType", r.resource_type()},
            {"LastUpdatedTimestamp", Iso8601(r.last_updated_timestamp())},
            {"ResourceStatus", r.resource_status()}};
  if (!r.resource_status_reason().empty()) j["ResourceStatusReason"] = r.resource_status_reason();
  if (!r.description().empty()) j["Description"] = r.description();
  // CloudFormation returns Metadata as a string holding JSON; the aws CLI prints it so.
  if (!r.metadata().empty()) j["Metadata"] = r.metadata();
  j["DriftInformation"] = {{"StackResourceDriftStatus", "NOT_CHECKED"}};
  return j;
}

json ValidateTemplateJson(const v1::ValidateTemplateResponse& r) {
  json params = json::array();
  for (const auto& p : r.parameters()) {
    json j = {{"ParameterKey", p.parameter_key()}};
    if (!p.default_value().empty()) j["DefaultValue"] = p.default_value();
    j["NoEcho"] = p.no_echo();
    if (!p.description().empty()) j["Description"] = p.description();
    params.push_back(j);
  }
  json j = {{"Parameters", params}};
  if (!r.description().empty()) j["Description"] = r.description();
  if (r.capabilities_size() > 0) {
    j["Capabilities"] =
        json(std::vector<std::string>(r.capabilities().begin(), r.capabilities().end()));
  }
  return j;
}

WaiterStep StackWaiterStep(const std::string& waiter, const std::vector<std::string>& statuses,
                           const std::string& error_code) {
  struct Acceptor {
    const char* matcher;  // pathAll | pathAny | error
    const char* expected;
    WaiterStep::State state;
  };
  using S = WaiterStep;
  // botocore/data/cloudformation/2010-05-15/waiters-2.json, in its order.
  static const std::vector<Acceptor> kCreate = {
      {"pathAll", "CREATE_COMPLETE", S::kSuccess},
      {"pathAll", "UPDATE_COMPLETE", S::kSuccess},
      {"pathAll", "UPDATE_IN_PROGRESS", S::kSuccess},
      {"pathAll", "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", S::kSuccess},
      {"pathAll", "UPDATE_FAILED", S::kSuccess},
      {"pathAll", "UPDATE_ROLLBACK_IN_PROGRESS", S::kSuccess},
      {"pathAll", "UPDATE_ROLLBACK_FAILED", S::kSuccess},
      {"pathAll", "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS", S::kSuccess},
      {"pathAll", "UPDATE_ROLLBACK_COMPLETE", S::kSuccess},
      {"pathAny", "CREATE_FAILED", S::kFailure},
      {"pathAny", "DELETE_COMPLETE", S::kFailure},
      {"pathAny", "DELETE_FAILED", S::kFailure},
      {"pathAny", "ROLLBACK_FAILED", S::kFailure},
      {"pathAny", "ROLLBACK_COMPLETE", S::kFailure},
      {"error", "ValidationError", S::kFailure},
  };
  static const std::vector<Acceptor> kUpdate = {
      {"pathAll", "UPDATE_COMPLETE", S::kSuccess},
      {"pathAny", "UPDATE_FAILED", S::kFailure},
      {"pathAny", "UPDATE_ROLLBACK_FAILED", S::kFailure},
      {"pathAny", "UPDATE_ROLLBACK_COMPLETE", S::kFailure},
      {"error", "ValidationError", S::kFailure},
  };
  static const std::vector<Acceptor> kDelete = {
      {"pathAll", "DELETE_COMPLETE", S::kSuccess},
      {"error", "ValidationError", S::kSuccess},
      {"pathAny", "DELETE_FAILED", S::kFailure},
      {"pathAny", "CREATE_FAILED", S::kFailure},
      {"pathAny", "ROLLBACK_FAILED", S::kFailure},
      {"pathAny", "UPDATE_ROLLBACK_IN_PROGRESS", S::kFailure},
      {"pathAny", "UPDATE_ROLLBACK_FAILED", S::kFailure},
      {"pathAny", "UPDATE_ROLLBACK_COMPLETE", S::kFailure},
      {"pathAny", "UPDATE_COMPLETE", S::kFailure},
  };
  const auto& acceptors = waiter == "StackCreateComplete"   ? kCreate
                          : waiter == "StackUpdateComplete" ? kUpdate
                                                            : kDelete;
  const std::string argument = "Stacks[].StackStatus";
  for (const Acceptor& a : acceptors) {
    const std::string matcher = a.matcher;
    bool matched = false;
    std::string why;
    if (matcher == "error") {
      matched = error_code == a.expected;
      why = std::string("Matched expected service error code: ") + a.expected;
    } else if (error_code.empty() && !statuses.empty()) {
      size_t n = 0;
      for (const auto& s : statuses) n += s == a.expected ? 1 : 0;
      if (matcher == "pathAll") {
        matched = n == statuses.size();
        why = "For expression \"" + argument + "\" all members matched expected path: \"" +
              a.expected + "\"";
      } else {
        matched = n > 0;
        why = "For expression \"" + argument + "\" we matched expected path: \"" + a.expected +
              "\" at least once";
      }
    }
    if (matched) return {a.state, why};
  }
  return {};
}

}  // namespace minicloud::cli
