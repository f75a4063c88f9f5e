// Placement verbs: create-placement-group, describe-placement-groups, delete-placement-group and
// describe-placement (the scheduler's decision without launching).
#include <memory>

#include "cli/render.h"
#include "cli/shorthand.h"
#include "cli/verb.h"
#include "common/ec2_names.h"

namespace minicloud::cli {
namespace {

using nlohmann::json;
using Stub = ComputeApi::Stub;

void AddCreatePlacementGroup(VerbRegistry& verbs) {
  struct Flags {
    v1::CreatePlacementGroupRequest req;
    std::vector<std::string> tags;
    std::string strategy, spread_level;
    int partitions = 0;
  };
  auto f = std::make_shared<Flags>();
  CLI::App* cmd =
      verbs.Add("create-placement-group", "create a placement group", [f](VerbContext& ctx) {
        v1::CreatePlacementGroupRequest req = f->req;
        constexpr const char* kOp = "CreatePlacementGroup";
        req.set_strategy(NamedOrThrow(ParsePlacementStrategy(f->strategy), kOp));
        if (!f->spread_level.empty()) {
          req.set_spread_level(NamedOrThrow(ParseSpreadLevel(f->spread_level, "spreadLevel"), kOp));
        }
        req.set_partition_count(f->partitions);
        for (const auto& t : f->tags) *req.add_tags() = ParseTag(t);
        auto resp = ctx.api.Call("CreatePlacementGroup", &Stub::CreatePlacementGroup, req);
        Print(ctx, {{"PlacementGroup", PlacementGroupJson(resp.placement_group())}}, "", {});
        return 0;
      });
  cmd->add_option("--group-name", *f->req.mutable_group_name())->required();
  cmd->add_option("--strategy", f->strategy, "cluster | spread | partition")->required();
  cmd->add_option("--partition-count", f->partitions, "partition groups: 1..7 (default 2)");
  cmd->add_option("--spread-level", f->spread_level, "spread groups: rack (default) | host");
  cmd->add_option("--tags", f->tags, "Key=Name,Value=pg (group tags; repeatable)");
}

void AddDescribePlacementGroups(VerbRegistry& verbs) {
  struct Flags {
    std::vector<std::string> names, ids, filters;
  };
  auto f = std::make_shared<Flags>();
  CLI::App* cmd =
      verbs.Add("describe-placement-groups", "list placement groups", [f](VerbContext& ctx) {
        v1::DescribePlacementGroupsRequest req;
        for (const auto& n : f->names) req.add_group_names(n);
        for (const auto& id : f->ids) req.add_group_ids(id);
        for (const auto& text : f->filters) *req.add_filters() = ParseFilter(text);
        auto resp = ctx.api.Call("DescribePlacementGroups", &Stub::DescribePlacementGroups, req);
        json doc = {{"PlacementGroups", json::array()}};
        for (const auto& pg : resp.placement_groups()) {
          doc["PlacementGroups"].push_back(PlacementGroupJson(pg));
        }
        Print(ctx, doc, "PlacementGroups",
              {"GroupName", "Strategy", "State", "PartitionCount", "SpreadLevel", "InstanceCount"});
        return 0;
      });
  cmd->add_option("--group-names", f->names);
  cmd->add_option("--group-ids", f->ids);
  cmd->add_option("--filters", f->filters, "Name=<name>,Values=<v1>,<v2>");
}

void AddDeletePlacementGroup(VerbRegistry& verbs) {
  auto name = std::make_shared<std::string>();
  CLI::App* cmd = verbs.Add(
      "delete-placement-group", "delete an empty placement group", [name](VerbContext& ctx) {
        v1::DeletePlacementGroupRequest req;
        req.set_group_name(*name);
        ctx.api.Call("DeletePlacementGroup", &Stub::DeletePlacementGroup, req);
        return 0;
      });
  cmd->add_option("--group-name", *name)->required();
}

void AddDescribePlacement(VerbRegistry& verbs) {
  struct Flags {
    v1::RunInstancesRequest req;
    std::string count = "1", placement;
  };
  auto f = std::make_shared<Flags>();
  CLI::App* cmd =
      verbs.Add("describe-placement",
                "what run-instances would decide, host by host, without launching anything",
                [f](VerbContext& ctx) {
                  v1::RunInstancesRequest req = f->req;
                  const auto [lo, hi] = ParseCountRange(f->count);
                  req.set_min_count(lo);
                  req.set_max_count(hi);
                  if (!f->placement.empty())
                    *req.mutable_placement() = ParsePlacement(f->placement);
                  auto resp = ctx.api.Call("DescribePlacement", &Stub::DescribePlacement, req);
                  if (ctx.globals.output == "json") {
                    Print(ctx,
                          {{"WouldSucceed", resp.would_succeed()},
                           {"ErrorCode", resp.error_code()},
                           {"Explanation", resp.explanation()}},
                          "", {});
                  } else {
                    ctx.out << resp.explanation();
                  }
                  return resp.would_succeed() ? 0 : 1;
                });
  cmd->add_option("--instance-type", *f->req.mutable_instance_type())->default_val("t3.micro");
  cmd->add_option("--count", f->count, "N or MIN:MAX")->capture_default_str();
  cmd->add_option("--placement", f->placement,
                  "AvailabilityZone=home-1a,GroupName=pg,PartitionNumber=2");
  cmd->add_option("--image-id", *f->req.mutable_image_id(), "AMI (any registered one)")->required();
}

}  // namespace

void RegisterPlacementVerbs(VerbRegistry& verbs) {
  AddCreatePlacementGroup(verbs);
  AddDescribePlacementGroups(verbs);
  AddDeletePlacementGroup(verbs);
  AddDescribePlacement(verbs);
}

}  // namespace minicloud::cli
