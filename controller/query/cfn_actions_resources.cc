// DescribeStackEvents, DescribeStackResource, DescribeStackResources and SignalResource: the
// actions about a stack's resources (the last three are the ones guests call through their host).
#include "common/status_macros.h"
#include "controller/query/cfn_actions.h"

namespace minicloud::query {
namespace {

using controller::StackApi;
using controller::StackCaller;

absl::StatusOr<v1::DescribeStackEventsRequest> ParseDescribeStackEvents(ParamNode& params) {
  v1::DescribeStackEventsRequest req;
  MC_ASSIGN_OR_RETURN(*req.mutable_stack_name(), CfnRequired(params, "StackName"));
  if (auto v = params.String("NextToken")) req.set_next_token(*v);
  return req;
}

absl::Status RunDescribeStackEvents(StackApi& stacks, const StackCaller& caller,
                                    const v1::DescribeStackEventsRequest& req, Shape& result) {
  MC_ASSIGN_OR_RETURN(const v1::DescribeStackEventsResponse r,
                      stacks.DescribeStackEvents(req, caller));
  Shape& list = result.List("StackEvents");
  for (const v1::StackEvent& e : r.stack_events()) {
    Shape& m = list.AddMember();
    m.String("StackId", e.stack_id());
    m.String("EventId", e.event_id());
    m.String("StackName", e.stack_name());
    m.StringIfSet("LogicalResourceId", e.logical_resource_id());
    m.StringIfSet("PhysicalResourceId", e.physical_resource_id());
    m.StringIfSet("ResourceType", e.resource_type());
    m.Time("Timestamp", e.timestamp());
    m.StringIfSet("ResourceStatus", e.resource_status());
    m.StringIfSet("ResourceStatusReason", e.resource_status_reason());
    m.StringIfSet("ResourceProperties", e.resource_properties());
    m.StringIfSet("ClientRequestToken", e.client_request_token());
  }
  result.StringIfSet("NextToken", r.next_token());
  return absl::OkStatus();
}

absl::StatusOr<v1::DescribeStackResourceRequest> ParseDescribeStackResource(ParamNode& params) {
  v1::DescribeStackResourceRequest req;
  MC_ASSIGN_OR_RETURN(*req.mutable_stack_name(), CfnRequired(params, "StackName"));
  MC_ASSIGN_OR_RETURN(*req.mutable_logical_resource_id(), CfnRequired(params, "LogicalResourceId"));
  return req;
}

// botocore's StackResourceDetail (detail) or StackResource (the list), in the model's order:
// the detail has LastUpdatedTimestamp and Metadata, the list entry Timestamp.
void WriteResource(const v1::StackResource& r, bool detail, Shape& m) {
  m.StringIfSet("StackName", r.stack_name());
  m.StringIfSet("StackId", r.stack_id());
  m.String("LogicalResourceId", r.logical_resource_id());
  m.StringIfSet("PhysicalResourceId", r.physical_resource_id());
  m.String("ResourceType", r.resource_type());
  m.Time(detail ? "LastUpdatedTimestamp" : "Timestamp", r.last_updated_timestamp());
  m.String("ResourceStatus", r.resource_status());
  m.StringIfSet("ResourceStatusReason", r.resource_status_reason());
  m.StringIfSet("Description", r.description());
  // The metadata as a JSON string (aws-cfn-bootstrap json.loads it).
  if (detail) m.StringIfSet("Metadata", r.metadata());
  m.Struct("DriftInformation").String("StackResourceDriftStatus", "NOT_CHECKED");
}

absl::Status RunDescribeStackResource(StackApi& stacks, const StackCaller& caller,
                                      const v1::DescribeStackResourceRequest& req, Shape& result) {
  MC_ASSIGN_OR_RETURN(const v1::DescribeStackResourceResponse r,
                      stacks.DescribeStackResource(req, caller));
  WriteResource(r.stack_resource_detail(), /*detail=*/true, result.Struct("StackResourceDetail"));
  return absl::OkStatus();
}

absl::StatusOr<v1::DescribeStackResourcesRequest> ParseDescribeStackResources(ParamNode& params) {
  v1::DescribeStackResourcesRequest req;
  if (auto v = params.String("StackName")) req.set_stack_name(*v);
  if (auto v = params.String("LogicalResourceId")) req.set_logical_resource_id(*v);
  if (auto v = params.String("PhysicalResourceId")) req.set_physical_resource_id(*v);
  return req;
}

absl::Status RunDescribeStackResources(StackApi& stacks, const StackCaller& caller,
                                       const v1::DescribeStackResourcesRequest& req,
                                       Shape& result) {
  MC_ASSIGN_OR_RETURN(const v1::DescribeStackResourcesResponse r,
                      stacks.DescribeStackResources(req, caller));
  Shape& list = result.List("StackResources");
  for (const v1::StackResource& res : r.stack_resources()) {
    WriteResource(res, /*detail=*/false, list.AddMember());
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::SignalResourceRequest> ParseSignalResource(ParamNode& params) {
  v1::SignalResourceRequest req;
  MC_ASSIGN_OR_RETURN(*req.mutable_stack_name(), CfnRequired(params, "StackName"));
  MC_ASSIGN_OR_RETURN(*req.mutable_logical_resource_id(), CfnRequired(params, "LogicalResourceId"));
  MC_ASSIGN_OR_RETURN(*req.mutable_unique_id(), CfnRequired(params, "UniqueId"));
  MC_ASSIGN_OR_RETURN(*req.mutable_status(), CfnRequired(params, "Status"));
  // minicloud's extension: the reason the signal gives (events show it).
  if (auto v = params.String("Reason")) req.set_reason(*v);
  return req;
}

absl::Status RunSignalResource(StackApi& stacks, const StackCaller& caller,
                               const v1::SignalResourceRequest& req, Shape&) {
  return stacks.SignalResource(req, caller).status();
}

}  // namespace

void AddResourceActions(CfnActionTable& t) {
  t["DescribeStackEvents"] = {&CfnBound<ParseDescribeStackEvents, RunDescribeStackEvents>};
  t["DescribeStackResource"] = {&CfnBound<ParseDescribeStackResource, RunDescribeStackResource>,
                                /*has_result=*/true, /*guest=*/true};
  t["DescribeStackResources"] = {&CfnBound<ParseDescribeStackResources, RunDescribeStackResources>,
                                 /*has_result=*/true,
                                 /*guest=*/true};
  t["SignalResource"] = {&CfnBound<ParseSignalResource, RunSignalResource>,
                         /*has_result=*/false, /*guest=*/true};
}

}  // namespace minicloud::query
