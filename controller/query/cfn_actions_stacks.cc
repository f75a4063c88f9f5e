// CreateStack, UpdateStack, DeleteStack, DescribeStacks: parameters into the public API's
// requests, stacks out as botocore's Stack shape (cloudformation 2010-05-15 service model).
#include "common/status_macros.h"
#include "controller/query/cfn_actions.h"

namespace minicloud::query {
namespace {

using controller::StackApi;
using controller::StackCaller;

// Parameters.member.N.{ParameterKey, ParameterValue, UsePreviousValue}.
template <typename Repeated>
absl::Status ParseStackParameters(ParamNode& params, Repeated* out) {
  for (ParamNode* m : CfnMembers(params, "Parameters")) {
    v1::StackParameter* p = out->Add();
    if (auto key = m->String("ParameterKey")) p->set_key(*key);
    if (auto value = m->String("ParameterValue")) p->set_value(*value);
    MC_ASSIGN_OR_RETURN(const bool previous, CfnBool(*m, "UsePreviousValue"));
    p->set_use_previous_value(previous);
  }
  return absl::OkStatus();
}

// Tags.member.N.{Key, Value}.
template <typename Repeated>
void ParseStackTags(ParamNode& params, Repeated* out) {
  for (ParamNode* m : CfnMembers(params, "Tags")) {
    v1::Tag* t = out->Add();
    if (auto key = m->String("Key")) t->set_key(*key);
    if (auto value = m->String("Value")) t->set_value(*value);
  }
}

absl::StatusOr<v1::CreateStackRequest> ParseCreateStack(ParamNode& params) {
  v1::CreateStackRequest req;
  MC_ASSIGN_OR_RETURN(*req.mutable_stack_name(), CfnRequired(params, "StackName"));
  MC_RETURN_IF_ERROR(ParseTemplateSource(params, req.mutable_template_body()));
  MC_RETURN_IF_ERROR(ParseStackParameters(params, req.mutable_parameters()));
  MC_ASSIGN_OR_RETURN(const bool disable_rollback, CfnBool(params, "DisableRollback"));
  req.set_disable_rollback(disable_rollback);
  if (auto v = params.String("OnFailure")) req.set_on_failure(*v);
  MC_ASSIGN_OR_RETURN(const int32_t timeout, CfnInt(params, "TimeoutInMinutes"));
  req.set_timeout_in_minutes(timeout);
  for (std::string& c : CfnStringList(params, "Capabilities")) req.add_capabilities(std::move(c));
  ParseStackTags(params, req.mutable_tags());
  if (auto v = params.String("ClientRequestToken")) req.set_client_request_token(*v);
  return req;
}

absl::Status RunCreateStack(StackApi& stacks, const StackCaller& caller,
                            const v1::CreateStackRequest& req, Shape& result) {
  MC_ASSIGN_OR_RETURN(const v1::CreateStackResponse r, stacks.CreateStack(req, caller));
  result.String("StackId", r.stack_id());
  return absl::OkStatus();
}

absl::StatusOr<v1::UpdateStackRequest> ParseUpdateStack(ParamNode& params) {
  v1::UpdateStackRequest req;
  MC_ASSIGN_OR_RETURN(*req.mutable_stack_name(), CfnRequired(params, "StackName"));
  MC_RETURN_IF_ERROR(ParseTemplateSource(params, req.mutable_template_body()));
  MC_ASSIGN_OR_RETURN(const bool previous, CfnBool(params, "UsePreviousTemplate"));
  req.set_use_previous_template(previous);
  MC_RETURN_IF_ERROR(ParseStackParameters(params, req.mutable_parameters()));
  for (std::string& c : CfnStringList(params, "Capabilities")) req.add_capabilities(std::move(c));
  ParseStackTags(params, req.mutable_tags());
  if (auto v = params.String("ClientRequestToken")) req.set_client_request_token(*v);
  MC_ASSIGN_OR_RETURN(const bool disable_rollback, CfnBool(params, "DisableRollback"));
  req.set_disable_rollback(disable_rollback);
  return req;
}

absl::Status RunUpdateStack(StackApi& stacks, const StackCaller& caller,
                            const v1::UpdateStackRequest& req, Shape& result) {
  MC_ASSIGN_OR_RETURN(const v1::UpdateStackResponse r, stacks.UpdateStack(req, caller));
  result.String("StackId", r.stack_id());
  return absl::OkStatus();
}

absl::StatusOr<v1::DeleteStackRequest> ParseDeleteStack(ParamNode& params) {
  v1::DeleteStackRequest req;
  MC_ASSIGN_OR_RETURN(*req.mutable_stack_name(), CfnRequired(params, "StackName"));
  for (std::string& r : CfnStringList(params, "RetainResources")) {
    req.add_retain_resources(std::move(r));
  }
  if (auto v = params.String("ClientRequestToken")) req.set_client_request_token(*v);
  return req;
}

absl::Status RunDeleteStack(StackApi& stacks, const StackCaller& caller,
                            const v1::DeleteStackRequest& req, Shape&) {
  return stacks.DeleteStack(req, caller).status();
}

absl::StatusOr<v1::DescribeStacksRequest> ParseDescribeStacks(ParamNode& params) {
  v1::DescribeStacksRequest req;
  if (auto v = params.String("StackName")) req.set_stack_name(*v);
  if (auto v = params.String("NextToken")) req.set_next_token(*v);
  return req;
}

// botocore's Stack, fields in the model's order.
void WriteStack(const v1::Stack& s, Shape& m) {
  m.String("StackId", s.stack_id());
  m.String("StackName", s.stack_name());
  m.StringIfSet("Description", s.description());
  if (s.parameters_size() > 0) {
    Shape& list = m.List("Parameters");
    for (const v1::StackParameter& p : s.parameters()) {
      Shape& pm = list.AddMember();
      pm.String("ParameterKey", p.key());
      pm.String("ParameterValue", p.value());
    }
  }
  m.Time("CreationTime", s.creation_time());
  if (s.has_deletion_time()) m.Time("DeletionTime", s.deletion_time());
  if (s.has_last_updated_time()) m.Time("LastUpdatedTime", s.last_updated_time());
  m.String("StackStatus", s.stack_status());
  m.StringIfSet("StackStatusReason", s.stack_status_reason());
  m.Bool("DisableRollback", s.disable_rollback());
  m.List("NotificationARNs");  // minicloud sends no notifications
  if (s.timeout_in_minutes() > 0) m.Int("TimeoutInMinutes", s.timeout_in_minutes());
  if (s.capabilities_size() > 0) {
    Shape& list = m.List("Capabilities");
    for (const std::string& c : s.capabilities()) list.AddString(c);
  }
  if (s.outputs_size() > 0) {
    Shape& list = m.List("Outputs");
    for (const v1::StackOutput& o : s.outputs()) {
      Shape& om = list.AddMember();
      om.String("OutputKey", o.key());
      om.String("OutputValue", o.value());
      om.StringIfSet("Description", o.description());
    }
  }
  Shape& tags = m.List("Tags");
  for (const v1::Tag& t : s.tags()) {
    Shape& tm = tags.AddMember();
    tm.String("Key", t.key());
    tm.String("Value", t.value());
  }
  // minicloud never checks drift (CloudFormation's answer for a stack never checked).
  m.Struct("DriftInformation").String("StackDriftStatus", "NOT_CHECKED");
}

absl::Status RunDescribeStacks(StackApi& stacks, const StackCaller& caller,
                               const v1::DescribeStacksRequest& req, Shape& result) {
  MC_ASSIGN_OR_RETURN(const v1::DescribeStacksResponse r, stacks.DescribeStacks(req, caller));
  Shape& list = result.List("Stacks");
  for (const v1::Stack& s : r.stacks()) WriteStack(s, list.AddMember());
  result.StringIfSet("NextToken", r.next_token());
  return absl::OkStatus();
}

}  // namespace

void AddStackActions(CfnActionTable& t) {
  t["CreateStack"] = {&CfnBound<ParseCreateStack, RunCreateStack>};
  t["UpdateStack"] = {&CfnBound<ParseUpdateStack, RunUpdateStack>};
  t["DeleteStack"] = {&CfnBound<ParseDeleteStack, RunDeleteStack>, /*has_result=*/false};
  t["DescribeStacks"] = {&CfnBound<ParseDescribeStacks, RunDescribeStacks>};
}

}  // namespace minicloud::query
