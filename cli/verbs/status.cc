// reboot-instances, describe-instance-status, describe-regions (aws ec2's flags and output).
#include <memory>

#include "cli/render.h"
#include "cli/shorthand.h"
#include "cli/verb.h"
#include "cli/verbs/paging.h"

namespace minicloud::cli {
namespace {

using nlohmann::json;
using Stub = ComputeApi::Stub;

json SummaryJson(const v1::InstanceStatusSummary& s) {
  json details = json::array();
  for (const auto& d : s.details()) {
    json j = {{"Name", d.name()}, {"Status", d.status()}};
    if (d.has_impaired_since()) j["ImpairedSince"] = Iso8601(d.impaired_since());
    details.push_back(j);
  }
  return {{"Details", details}, {"Status", s.status()}};
}

void AddRebootInstances(VerbRegistry& verbs) {
  struct Flags {
    std::vector<std::string> ids;
    bool dry_run = false;
  };
  auto f = std::make_shared<Flags>();
  CLI::App* cmd = verbs.Add("reboot-instances", "reboot running instances", [f](VerbContext& ctx) {
    v1::RebootInstancesRequest req;
    for (const auto& id : f->ids) req.add_instance_ids(id);
    req.set_dry_run(f->dry_run);
    ctx.api.Call("RebootInstances", &Stub::RebootInstances, req);
    return 0;  // aws ec2 reboot-instances prints nothing
  });
  cmd->add_option("--instance-ids", f->ids)->required();
  cmd->add_flag("--dry-run", f->dry_run);
}

void AddDescribeInstanceStatus(VerbRegistry& verbs) {
  struct Flags {
    std::vector<std::string> ids, filters;
    bool include_all = false;
    PagingFlags paging;
  };
  auto f = std::make_shared<Flags>();
  CLI::App* cmd = verbs.Add(
      "describe-instance-status", "instance and system status checks", [f](VerbContext& ctx) {
        json doc = {{"InstanceStatuses", json::array()}};
        const std::string next = f->paging.Run([&](int max_results, const std::string& token) {
          v1::DescribeInstanceStatusRequest req;
          for (const auto& id : f->ids) req.add_instance_ids(id);
          for (const auto& text : f->filters) *req.add_filters() = ParseFilter(text);
          req.set_include_all_instances(f->include_all);
          req.set_max_results(max_results);
          req.set_next_token(token);
          auto resp = ctx.api.Call("DescribeInstanceStatus", &Stub::DescribeInstanceStatus, req);
          for (const auto& s : resp.instance_statuses()) {
            doc["InstanceStatuses"].push_back(
                {{"AvailabilityZone", s.availability_zone()},
                 {"InstanceId", s.instance_id()},
                 {"InstanceState",
                  {{"Code", s.instance_state().code()}, {"Name", s.instance_state().name()}}},
                 {"InstanceStatus", SummaryJson(s.instance_status())},
                 {"SystemStatus", SummaryJson(s.system_status())}});
          }
          return resp.next_token();
        });
        if (!next.empty()) doc["NextToken"] = next;
        Print(ctx, doc, "InstanceStatuses",
              {"InstanceId", "AvailabilityZone", "InstanceState.Name", "InstanceStatus.Status",
               "SystemStatus.Status"});
        return 0;
      });
  cmd->add_option("--instance-ids", f->ids);
  cmd->add_option("--filters", f->filters, "Name=<name>,Values=<v1>,<v2> (repeatable)");
  cmd->add_flag("--include-all-instances", f->include_all, "not only running instances");
  f->paging.AddTo(cmd);
}

void AddDescribeRegions(VerbRegistry& verbs) {
  struct Flags {
    std::vector<std::string> names, filters;
  };
  auto f = std::make_shared<Flags>();
  CLI::App* cmd = verbs.Add("describe-regions", "the controller's region", [f](VerbContext& ctx) {
    v1::DescribeRegionsRequest req;
    for (const auto& n : f->names) req.add_region_names(n);
    for (const auto& text : f->filters) *req.add_filters() = ParseFilter(text);
    auto resp = ctx.api.Call("DescribeRegions", &Stub::DescribeRegions, req);
    json doc = {{"Regions", json::array()}};
    for (const auto& r : resp.regions()) {
      doc["Regions"].push_back({{"Endpoint", r.endpoint()},
                                {"RegionName", r.region_name()},
                                {"OptInStatus", r.opt_in_status()}});
    }
    Print(ctx, doc, "Regions", {"RegionName", "Endpoint", "OptInStatus"});
    return 0;
  });
  cmd->add_option("--region-names", f->names);
  cmd->add_option("--filters", f->filters, "Name=region-name|endpoint|opt-in-status,Values=…");
}

}  // namespace

void RegisterStatusVerbs(VerbRegistry& verbs) {
  AddRebootInstances(verbs);
  AddDescribeInstanceStatus(verbs);
  AddDescribeRegions(verbs);
}

}  // namespace minicloud::cli
