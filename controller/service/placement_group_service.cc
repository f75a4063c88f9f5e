#include "controller/service/placement_group_service.h"

#include <algorithm>
#include <functional>
#include <map>
#include <optional>
#include <set>

#include "absl/strings/str_cat.h"
#include "common/ec2_error.h"
#include "common/ec2_names.h"
#include "common/status_macros.h"
#include "controller/service/filters.h"
#include "controller/service/instance_state.h"
#include "controller/service/tag_service.h"

namespace minicloud::controller {
namespace {

absl::Status UnknownGroup(const std::string& name) {
  return Ec2Error(absl::StatusCode::kNotFound, "InvalidPlacementGroup.Unknown",
                  absl::StrCat("The Placement Group '", name, "' is unknown."));
}

absl::Status ValidateGroupName(const std::string& name) {
  if (name.empty()) return MissingParameter("The request must contain the parameter groupName");
  if (name.size() > kMaxPlacementGroupNameLength) {
    return InvalidParameterValue(absl::StrCat("Placement group names are limited to ",
                                              kMaxPlacementGroupNameLength, " characters"));
  }
  for (unsigned char c : name) {
    if (c < 0x20 || c >= 0x7f) {
      return InvalidParameterValue("Placement group names must be printable ASCII");
    }
  }
  return absl::OkStatus();
}

v1::PlacementGroup ToApi(const v1::PlacementGroupRecord& r, int instance_count) {
  v1::PlacementGroup g;
  g.set_group_name(r.group_name());
  g.set_group_id(r.group_id());
  g.set_strategy(r.strategy());
  g.set_partition_count(r.partition_count());
  g.set_spread_level(r.spread_level());
  g.set_state(r.state());
  g.set_region(r.region());
  g.set_locked_availability_zone(r.locked_availability_zone());
  g.set_instance_count(instance_count);
  *g.mutable_tags() = TagList(r.tags());
  return g;
}

// DescribePlacementGroups' filters (botocore's EC2 model), tag:<key> and tag-key included.
const FilterTable<v1::PlacementGroupRecord>& GroupFilters() {
  using Getter = FilterTable<v1::PlacementGroupRecord>::Getter;
  static const auto* kTable = new FilterTable<v1::PlacementGroupRecord>(
      std::map<std::string, Getter, std::less<>>{
          {"group-name", [](const auto& g) { return g.group_name(); }},
          {"group-id", [](const auto& g) { return g.group_id(); }},
          {"strategy", [](const auto& g) { return PlacementStrategyName(g.strategy()); }},
          {"state", [](const auto& g) { return g.state(); }},
          {"spread-level", [](const auto& g) { return SpreadLevelName(g.spread_level()); }},
      },
      [](const v1::PlacementGroupRecord& g) -> const TagMap& { return g.tags(); });
  return *kTable;
}

// The scheduler's own enums for the typed strategy and spread level; nullopt for a value the
// proto enum does not name.
std::optional<scheduler::PlacementStrategy> SchedulerStrategy(v1::PlacementStrategy s) {
  switch (s) {
    case v1::PLACEMENT_STRATEGY_CLUSTER:
      return scheduler::PlacementStrategy::kCluster;
    case v1::PLACEMENT_STRATEGY_SPREAD:
      return scheduler::PlacementStrategy::kSpread;
    case v1::PLACEMENT_STRATEGY_PARTITION:
      return scheduler::PlacementStrategy::kPartition;
    default:
      return std::nullopt;
  }
}

std::optional<scheduler::SpreadLevel> SchedulerSpreadLevel(v1::SpreadLevel l) {
  switch (l) {
    case v1::SPREAD_LEVEL_RACK:
      return scheduler::SpreadLevel::kRack;
    case v1::SPREAD_LEVEL_HOST:
      return scheduler::SpreadLevel::kHost;
    default:
      return std::nullopt;
  }
}

}  // namespace

absl::StatusOr<const v1::PlacementGroupRecord*> FindPlacementGroupLocked(CloudState& state,
                                                                         const std::string& name) {
  const v1::PlacementGroupRecord* found = state.FindPlacementGroup(name);
  if (found == nullptr) return UnknownGroup(name);
  return found;
}

std::shared_ptr<const scheduler::PlacementGroup> SchedulerGroupLocked(
    CloudState& state, const v1::PlacementGroupRecord& record) {
  scheduler::PlacementGroup shape;
  shape.name = record.group_name();
  // The record was validated when it was created; a bad value here is our own broken invariant.
  shape.strategy = SchedulerStrategy(record.strategy()).value();
  shape.spread_level = record.strategy() == v1::PLACEMENT_STRATEGY_SPREAD
                           ? SchedulerSpreadLevel(record.spread_level()).value()
                           : scheduler::SpreadLevel::kRack;
  shape.partition_count = record.partition_count();
  shape.locked_az = record.locked_availability_zone();
  // Members in instance id order, from the state's index (kept exact by every record change),
  // shared with the index rather than copied per request.
  return state.index().SchedulerGroup(shape);
}

int GroupInstanceCountLocked(CloudState& state, const std::string& group_name) {
  return static_cast<int>(state.index().GroupMembers(group_name).size());
}

absl::StatusOr<v1::CreatePlacementGroupResponse> PlacementGroupService::CreatePlacementGroup(
    const v1::CreatePlacementGroupRequest& req) {
  MC_RETURN_IF_ERROR(ValidateGroupName(req.group_name()));
  if (req.strategy() == v1::PLACEMENT_STRATEGY_UNSPECIFIED) {
    return MissingParameter("The request must contain the parameter strategy");
  }
  scheduler::PlacementGroup group;
  group.name = req.group_name();
  const auto strategy = SchedulerStrategy(req.strategy());
  if (!strategy) return InvalidEnumValue(req.strategy(), "strategy", AllowedPlacementStrategies());
  group.strategy = *strategy;
  if (req.spread_level() != v1::SPREAD_LEVEL_UNSPECIFIED &&
      group.strategy != scheduler::PlacementStrategy::kSpread) {
    return InvalidParameterValue("SpreadLevel is valid only for the spread strategy");
  }
  const auto level = req.spread_level() == v1::SPREAD_LEVEL_UNSPECIFIED
                         ? std::optional(scheduler::SpreadLevel::kRack)
                         : SchedulerSpreadLevel(req.spread_level());
  if (!level) return InvalidEnumValue(req.spread_level(), "spreadLevel", AllowedSpreadLevels());
  group.spread_level = *level;
  group.partition_count = req.partition_count();
  if (group.strategy == scheduler::PlacementStrategy::kPartition && group.partition_count == 0) {
    group.partition_count = kDefaultPartitionCount;
  }
  if (absl::Status s = scheduler::ValidatePlacementGroup(group); !s.ok()) {
    return InvalidParameterValue(s.message());
  }
  MC_RETURN_IF_ERROR(ValidateTagSpecification(req.tags(), TagUse::kApiOnly, "placement group"));

  auto lock = state_.LockCommitted();
  if (state_.placement_groups().contains(req.group_name())) {
    return Ec2Error(absl::StatusCode::kAlreadyExists, "InvalidPlacementGroup.Duplicate",
                    absl::StrCat("The Placement Group '", req.group_name(), "' already exists."));
  }
  if (static_cast<int>(state_.placement_groups().size()) >= kMaxPlacementGroupsPerRegion) {
    return Ec2Error(absl::StatusCode::kResourceExhausted, "PlacementGroupLimitExceeded",
                    absl::StrCat("You have reached the limit of ", kMaxPlacementGroupsPerRegion,
                                 " placement groups per region."));
  }
  if (req.dry_run()) {
    return Ec2Error(absl::StatusCode::kFailedPrecondition, "DryRunOperation",
                    "Request would have succeeded, but DryRun flag is set.");
  }
  v1::PlacementGroupRecord r;
  r.set_group_id(ids_.Next("pg"));
  r.set_group_name(req.group_name());
  r.set_region(state_.config().region);
  r.set_strategy(req.strategy());
  r.set_partition_count(group.partition_count);
  if (group.strategy == scheduler::PlacementStrategy::kSpread) {
    r.set_spread_level(req.spread_level() == v1::SPREAD_LEVEL_UNSPECIFIED ? v1::SPREAD_LEVEL_RACK
                                                                          : req.spread_level());
  }
  r.set_state("available");
  r.set_create_time_ms(absl::ToUnixMillis(clock_.Now()));
  SetTags(req.tags(), *r.mutable_tags());
  CloudState::Changes changes;
  changes.placement_groups[r.group_name()] = r;
  MC_RETURN_IF_ERROR(Annotate(state_.CommitLocked(changes), "record placement group"));
  v1::CreatePlacementGroupResponse resp;
  *resp.mutable_placement_group() = ToApi(r, 0);
  return resp;
}

absl::StatusOr<v1::DescribePlacementGroupsResponse> PlacementGroupService::DescribePlacementGroups(
    const v1::DescribePlacementGroupsRequest& req) {
  MC_RETURN_IF_ERROR(GroupFilters().Validate(req.filters()));
  auto lock = state_.LockCommitted();
  std::set<std::string> names(req.group_names().begin(), req.group_names().end());
  std::set<std::string> ids(req.group_ids().begin(), req.group_ids().end());
  for (const auto& name : names) {
    if (!state_.placement_groups().contains(name)) return UnknownGroup(name);
  }
  for (const auto& id : ids) {
    bool found = false;
    for (const auto& [name, g] : state_.placement_groups()) found = found || g.group_id() == id;
    if (!found) {
      return Ec2Error(absl::StatusCode::kNotFound, "InvalidPlacementGroup.Unknown",
                      absl::StrCat("The Placement Group ID '", id, "' is unknown."));
    }
  }
  std::map<std::string, int> counts;
  for (const auto& [id, inst] : state_.instances()) {
    if (!inst.placement_group().empty() && inst.state() != v1::INSTANCE_STATE_CODE_TERMINATED) {
      counts[inst.placement_group()]++;
    }
  }
  v1::DescribePlacementGroupsResponse resp;
  for (const auto& [name, g] : state_.placement_groups()) {
    if (!names.empty() && !names.contains(name)) continue;
    if (!ids.empty() && !ids.contains(g.group_id())) continue;
    if (GroupFilters().Matches(g, req.filters())) {
      *resp.add_placement_groups() = ToApi(g, counts[name]);
    }
  }
  return resp;
}

absl::StatusOr<v1::DeletePlacementGroupResponse> PlacementGroupService::DeletePlacementGroup(
    const v1::DeletePlacementGroupRequest& req) {
  MC_RETURN_IF_ERROR(ValidateGroupName(req.group_name()));
  auto lock = state_.LockCommitted();
  MC_RETURN_IF_ERROR(FindPlacementGroupLocked(state_, req.group_name()).status());
  // EC2: a group can be deleted only when no instance (other than terminated ones) is in it.
  if (const int n = GroupInstanceCountLocked(state_, req.group_name()); n > 0) {
    return Ec2Error(absl::StatusCode::kFailedPrecondition, "InvalidPlacementGroup.InUse",
                    absl::StrCat("The placement group '", req.group_name(),
                                 "' is in use and may not be deleted (", n, " instances)."));
  }
  if (req.dry_run()) {
    return Ec2Error(absl::StatusCode::kFailedPrecondition, "DryRunOperation",
                    "Request would have succeeded, but DryRun flag is set.");
  }
  CloudState::Changes changes;
  changes.deleted_placement_groups.push_back(req.group_name());
  MC_RETURN_IF_ERROR(Annotate(state_.CommitLocked(changes), "delete placement group"));
  return v1::DeletePlacementGroupResponse();
}

}  // namespace minicloud::controller
