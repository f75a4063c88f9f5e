// RebootInstances, DescribeInstanceStatus and DescribeRegions. Parameter and element names from
// botocore's EC2 model (data/ec2/2016-11-15/service-2.json: RebootInstancesRequest,
// DescribeInstanceStatusRequest/Result, InstanceStatus, InstanceStatusSummary,
// InstanceStatusDetails, DescribeRegionsRequest/Result, Region); moto's
// ec2/responses/instances.py and availability_zones_and_regions.py answer the same shapes.
#include "common/status_macros.h"
#include "controller/query/action.h"
#include "controller/query/xml.h"

namespace minicloud::query {
namespace {

absl::StatusOr<v1::RebootInstancesRequest> ParseRebootInstances(ParamNode& p, bool dry_run) {
  v1::RebootInstancesRequest req;
  req.set_dry_run(dry_run);
  for (std::string& id : p.StringList("InstanceId")) req.add_instance_ids(std::move(id));
  if (req.instance_ids().empty()) {
    return MissingParameter("The request must contain the parameter InstanceId");
  }
  return req;
}

absl::Status RunRebootInstances(Services& s, const v1::RebootInstancesRequest& req, XmlNode out) {
  MC_RETURN_IF_ERROR(s.compute.RebootInstances(req).status());
  Bool(out, "return", true);
  return absl::OkStatus();
}

absl::StatusOr<v1::DescribeInstanceStatusRequest> ParseDescribeInstanceStatus(ParamNode& p,
                                                                              bool dry_run) {
  v1::DescribeInstanceStatusRequest req;
  req.set_dry_run(dry_run);
  for (std::string& id : p.StringList("InstanceId")) req.add_instance_ids(std::move(id));
  ParseFilters(p, req.mutable_filters());
  MC_ASSIGN_OR_RETURN(auto all, p.Bool("IncludeAllInstances"));
  req.set_include_all_instances(all.value_or(false));
  MC_RETURN_IF_ERROR(ParsePaging(p, &req));
  return req;
}

void WriteSummary(XmlNode node, const v1::InstanceStatusSummary& s) {
  Text(node, "status", s.status());
  XmlNode details = Child(node, "details");
  for (const v1::InstanceStatusDetail& d : s.details()) {
    XmlNode item = Item(details);
    Text(item, "name", d.name());
    Text(item, "status", d.status());
    if (d.has_impaired_since()) Time(item, "impairedSince", d.impaired_since());
  }
}

absl::Status RunDescribeInstanceStatus(Services& s, const v1::DescribeInstanceStatusRequest& req,
                                       XmlNode out) {
  MC_ASSIGN_OR_RETURN(auto resp, s.compute.DescribeInstanceStatus(req));
  XmlNode set = Child(out, "instanceStatusSet");
  for (const v1::InstanceStatus& st : resp.instance_statuses()) {
    XmlNode item = Item(set);
    Text(item, "instanceId", st.instance_id());
    Text(item, "availabilityZone", st.availability_zone());
    XmlNode state = Child(item, "instanceState");
    Int(state, "code", st.instance_state().code());
    Text(state, "name", st.instance_state().name());
    WriteSummary(Child(item, "systemStatus"), st.system_status());
    WriteSummary(Child(item, "instanceStatus"), st.instance_status());
    // No eventsSet: minicloud schedules no maintenance events, and EC2 leaves the element out
    // when an instance has none (as moto does).
  }
  TextIfSet(out, "nextToken", resp.next_token());
  return absl::OkStatus();
}

absl::StatusOr<v1::DescribeRegionsRequest> ParseDescribeRegions(ParamNode& p, bool dry_run) {
  v1::DescribeRegionsRequest req;
  req.set_dry_run(dry_run);
  for (std::string& r : p.StringList("RegionName")) req.add_region_names(std::move(r));
  ParseFilters(p, req.mutable_filters());
  MC_ASSIGN_OR_RETURN(auto all, p.Bool("AllRegions"));
  req.set_all_regions(all.value_or(false));
  return req;
}

absl::Status RunDescribeRegions(Services& s, const v1::DescribeRegionsRequest& req, XmlNode out) {
  MC_ASSIGN_OR_RETURN(auto resp, s.compute.DescribeRegions(req));
  XmlNode set = Child(out, "regionInfo");
  for (const v1::Region& r : resp.regions()) {
    XmlNode item = Item(set);
    Text(item, "regionName", r.region_name());
    Text(item, "regionEndpoint", r.endpoint());
    Text(item, "optInStatus", r.opt_in_status());
  }
  return absl::OkStatus();
}

}  // namespace

void AddStatusActions(ActionTable& t) {
  t["RebootInstances"] = Bind<ParseRebootInstances, RunRebootInstances>();
  t["DescribeInstanceStatus"] = Bind<ParseDescribeInstanceStatus, RunDescribeInstanceStatus>();
  t["DescribeRegions"] = Bind<ParseDescribeRegions, RunDescribeRegions>();
}

}  // namespace minicloud::query
