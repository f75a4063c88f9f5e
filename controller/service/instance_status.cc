// RebootInstances, DescribeInstanceStatus and DescribeRegions: what the aws CLI's
// `instance-status-ok` waiter and region discovery need, from what the controller knows.
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "common/ec2_error.h"
#include "common/ids.h"
#include "common/status_macros.h"
#include "controller/service/compute_service.h"
#include "controller/service/filters.h"
#include "controller/service/instance_common.h"
#include "controller/service/instance_state.h"
#include "controller/service/pagination.h"
#include "controller/service/timestamp.h"

namespace minicloud::controller {
namespace {

v1::InstanceStatusSummary Summary(absl::string_view status, absl::string_view reachability,
                                  int64_t impaired_since_ms = 0) {
  v1::InstanceStatusSummary s;
  s.set_status(std::string(status));
  if (!reachability.empty()) {
    auto* d = s.add_details();
    d->set_name("reachability");
    d->set_status(std::string(reachability));
    if (impaired_since_ms > 0) *d->mutable_impaired_since() = ToTimestamp(impaired_since_ms);
  }
  return s;
}

std::string Reachability(const v1::InstanceStatusSummary& s) {
  return s.details_size() > 0 ? s.details(0).status() : std::string();
}

// DescribeInstanceStatus' filters (botocore's EC2 model) over the status it answers.
const FilterTable<v1::InstanceStatus>& StatusFilters() {
  using Getter = FilterTable<v1::InstanceStatus>::Getter;
  static const auto* kTable =
      new FilterTable<v1::InstanceStatus>(std::map<std::string, Getter, std::less<>>{
          {"availability-zone", [](const auto& s) { return s.availability_zone(); }},
          {"instance-state-name", [](const auto& s) { return s.instance_state().name(); }},
          {"instance-state-code",
           [](const auto& s) { return absl::StrCat(s.instance_state().code()); }},
          {"instance-status.status", [](const auto& s) { return s.instance_status().status(); }},
          {"instance-status.reachability",
           [](const auto& s) { return Reachability(s.instance_status()); }},
          {"system-status.status", [](const auto& s) { return s.system_status().status(); }},
          {"system-status.reachability",
           [](const auto& s) { return Reachability(s.system_status()); }},
      });
  return *kTable;
}

}  // namespace

absl::StatusOr<v1::RebootInstancesResponse> ComputeService::RebootInstances(
    const v1::RebootInstancesRequest& req) {
  if (req.instance_ids_size() == 0) {
    return MissingParameter("The request must contain the parameter InstanceId");
  }
  for (const auto& id : req.instance_ids()) MC_RETURN_IF_ERROR(CheckInstanceIdFormat(id));
  auto lock = state_.LockCommitted();
  std::set<std::string> rebooting;
  for (const auto& id : req.instance_ids()) {
    MC_ASSIGN_OR_RETURN(const v1::InstanceRecord* r, FindInstanceLocked(state_, id));
    switch (r->state()) {
      case v1::INSTANCE_STATE_CODE_RUNNING:
        rebooting.insert(id);
        break;
      // "Requests to reboot terminated instances are ignored." (API reference,
      // RebootInstances); one that is shutting down is on its way there.
      case v1::INSTANCE_STATE_CODE_TERMINATED:
      case v1::INSTANCE_STATE_CODE_SHUTTING_DOWN:
        break;
      default:
        return Ec2Error(absl::StatusCode::kFailedPrecondition, "IncorrectInstanceState",
                        absl::StrCat("The instance '", id,
                                     "' is not in a state from which it can be rebooted."));
    }
  }
  if (req.dry_run()) return DryRunOk();
  CloudState::Changes changes;
  std::set<std::string> hosts;
  for (const auto& id : rebooting) {
    v1::InstanceRecord r = state_.instances().at(id);
    r.set_reboot_count(r.reboot_count() + 1);
    hosts.insert(r.host_id());
    changes.instances[id] = std::move(r);
  }
  MC_RETURN_IF_ERROR(Annotate(state_.CommitLocked(changes), "record reboot"));
  for (const auto& h : hosts) state_.BumpGenerationLocked(h);
  return v1::RebootInstancesResponse();
}

absl::StatusOr<v1::DescribeInstanceStatusResponse> ComputeService::DescribeInstanceStatus(
    const v1::DescribeInstanceStatusRequest& req) {
  for (const auto& id : req.instance_ids()) MC_RETURN_IF_ERROR(CheckInstanceIdFormat(id));
  MC_RETURN_IF_ERROR(StatusFilters().Validate(req.filters()));
  MC_ASSIGN_OR_RETURN(const PageStart start,
                      StartPage(kDescribeInstanceStatusPages, {req.max_results(), req.next_token()},
                                req.instance_ids_size() > 0));
  if (req.dry_run()) return DryRunOk();
  const absl::Time now = clock_.Now();
  auto lock = state_.LockCommitted();
  std::set<std::string> ids;
  for (const auto& id : req.instance_ids()) {
    if (!state_.instances().contains(id)) return InstanceNotFound(id);
    ids.insert(id);
  }
  std::vector<v1::InstanceStatus> matching;
  std::vector<std::string> keys;
  for (const auto& [id, r] : state_.instances()) {
    if (!ids.empty() && !ids.contains(id)) continue;
    const bool running = r.state() == v1::INSTANCE_STATE_CODE_RUNNING;
    // Without IncludeAllInstances only running instances are listed (EC2).
    if (!running && !req.include_all_instances()) continue;
    v1::InstanceStatus s;
    s.set_instance_id(id);
    s.set_availability_zone(r.topology().availability_zone());
    *s.mutable_instance_state() = ApiState(r.state());
    if (!running) {
      *s.mutable_system_status() = Summary("not-applicable", "");
      *s.mutable_instance_status() = Summary("not-applicable", "");
    } else if (!state_.HostUpLocked(r.host_id(), now)) {
      // The host stopped reporting: the system check fails since its last report, and nothing
      // is known of the guest.
      int64_t since = 0;
      if (auto rt = state_.host_runtime().find(r.host_id());
          rt != state_.host_runtime().end() && rt->second.last_report != absl::InfinitePast()) {
        since = absl::ToUnixMillis(rt->second.last_report);
      }
      *s.mutable_system_status() = Summary("impaired", "failed", since);
      *s.mutable_instance_status() = Summary("insufficient-data", "insufficient-data");
    } else {
      *s.mutable_system_status() = Summary("ok", "passed");
      const absl::Time running_since = absl::FromUnixMillis(r.running_time_ms());
      if (now - running_since < state_.config().status_check_grace) {
        *s.mutable_instance_status() = Summary("initializing", "initializing");
      } else {
        *s.mutable_instance_status() = Summary("ok", "passed");
      }
    }
    if (!StatusFilters().Matches(s, req.filters())) continue;
    keys.push_back(id);
    matching.push_back(std::move(s));
  }
  const Page page = TakePage(kDescribeInstanceStatusPages, start, keys);
  v1::DescribeInstanceStatusResponse resp;
  for (size_t i = page.begin; i < page.end; ++i) {
    *resp.add_instance_statuses() = std::move(matching[i]);
  }
  resp.set_next_token(page.next_token);
  return resp;
}

absl::StatusOr<v1::DescribeRegionsResponse> ComputeService::DescribeRegions(
    const v1::DescribeRegionsRequest& req) {
  using Getter = FilterTable<v1::Region>::Getter;
  static const auto* kFilters =
      new FilterTable<v1::Region>(std::map<std::string, Getter, std::less<>>{
          {"region-name", [](const auto& r) { return r.region_name(); }},
          {"endpoint", [](const auto& r) { return r.endpoint(); }},
          {"opt-in-status", [](const auto& r) { return r.opt_in_status(); }},
      });
  MC_RETURN_IF_ERROR(kFilters->Validate(req.filters()));
  v1::Region region;
  region.set_region_name(state_.config().region);
  region.set_endpoint(state_.config().region_endpoint);
  region.set_opt_in_status("opt-in-not-required");
  for (const auto& name : req.region_names()) {
    if (name != region.region_name()) {
      return Ec2Error(absl::StatusCode::kInvalidArgument, "InvalidParameterValue",
                      absl::StrCat("Invalid region: ", QuoteForMessage(name, 40)));
    }
  }
  if (req.dry_run()) return DryRunOk();
  v1::DescribeRegionsResponse resp;
  if (kFilters->Matches(region, req.filters())) *resp.add_regions() = std::move(region);
  return resp;
}

}  // namespace minicloud::controller
