#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "controller/scheduler/fleet.h"
#include "controller/scheduler/scheduler.h"

namespace minicloud::scheduler {

absl::StatusOr<PlacementStrategy> ParsePlacementStrategy(const std::string& s) {
  if (s == "cluster") return PlacementStrategy::kCluster;
  if (s == "spread") return PlacementStrategy::kSpread;
  if (s == "partition") return PlacementStrategy::kPartition;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown placement strategy '", s, "' (expected cluster, spread or partition)"));
}

absl::StatusOr<SpreadLevel> ParseSpreadLevel(const std::string& s) {
  if (s.empty() || s == "rack") return SpreadLevel::kRack;
  if (s == "host") return SpreadLevel::kHost;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown spread level '", s, "' (expected rack or host)"));
}

const char* PlacementStrategyName(PlacementStrategy s) {
  switch (s) {
    case PlacementStrategy::kCluster:
      return "cluster";
    case PlacementStrategy::kSpread:
      return "spread";
    case PlacementStrategy::kPartition:
      return "partition";
  }
  return "unknown";
}

const char* SpreadLevelName(SpreadLevel l) {
  switch (l) {
    case SpreadLevel::kRack:
      return "rack";
    case SpreadLevel::kHost:
      return "host";
  }
  return "unknown";
}

const char* RejectCodeName(RejectCode c) {
  switch (c) {
    case RejectCode::kNone:
      return "none";
    case RejectCode::kHostDown:
      return "host-down";
    case RejectCode::kRegion:
      return "region";
    case RejectCode::kAvailabilityZone:
      return "availability-zone";
    case RejectCode::kClusterAz:
      return "cluster-az";
    case RejectCode::kVcpu:
      return "vcpu";
    case RejectCode::kMemory:
      return "memory";
    case RejectCode::kInstanceStore:
      return "instance-store";
    case RejectCode::kSpreadAzFull:
      return "spread-az-full";
    case RejectCode::kSpreadRackTaken:
      return "spread-rack-taken";
    case RejectCode::kSpreadHostTaken:
      return "spread-host-taken";
    case RejectCode::kPartitionRackTaken:
      return "partition-rack-taken";
  }
  return "unknown";
}

absl::Status ValidatePlacementGroup(const PlacementGroup& g) {
  if (g.name.empty()) return absl::InvalidArgumentError("placement group name is empty");
  switch (g.strategy) {
    case PlacementStrategy::kCluster:
    case PlacementStrategy::kSpread:
    case PlacementStrategy::kPartition:
      break;
    default:
      return absl::InvalidArgumentError(absl::StrCat("placement group '", g.name,
                                                     "' has an unknown strategy (",
                                                     static_cast<int>(g.strategy), ")"));
  }
  if (g.strategy == PlacementStrategy::kSpread && g.spread_level != SpreadLevel::kRack &&
      g.spread_level != SpreadLevel::kHost) {
    return absl::InvalidArgumentError(absl::StrCat("placement group '", g.name,
                                                   "' has an unknown spread level (",
                                                   static_cast<int>(g.spread_level), ")"));
  }
  if (g.strategy == PlacementStrategy::kPartition) {
    if (g.partition_count < 1 || g.partition_count > kMaxPartitions) {
      return absl::InvalidArgumentError(
          absl::StrCat("partition count ", g.partition_count, " of placement group '", g.name,
                       "' is out of range (1..", kMaxPartitions, ")"));
    }
  } else if (g.partition_count != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("partition count is only valid for partition placement groups ('", g.name,
                     "' is ", PlacementStrategyName(g.strategy), ")"));
  }
  if (g.strategy != PlacementStrategy::kCluster && !g.locked_az.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "only cluster placement groups are locked to an availability zone ('", g.name, "')"));
  }
  return absl::OkStatus();
}

PlacementRequest MakeRestartRequest(std::string request_id, const GroupMember& member,
                                    std::shared_ptr<const PlacementGroup> group, int vcpus,
                                    int64_t memory_mib, int64_t instance_store_gb) {
  PlacementRequest r;
  r.request_id = std::move(request_id);
  r.vcpus = vcpus;
  r.memory_mib = memory_mib;
  r.instance_store_gb = instance_store_gb;
  r.min_count = 1;
  r.max_count = 1;
  r.availability_zone = member.availability_zone;
  r.partition_number = group != nullptr && group->strategy == PlacementStrategy::kPartition
                           ? member.partition_number
                           : 0;
  r.group = std::move(group);
  r.restart_instance_id = member.instance_id;
  r.preferred_host_id = member.host_id;
  return r;
}

absl::StatusOr<PlacementResult> SpreadScheduler::Place(
    const PlacementRequest& request, const std::vector<HostSnapshot>& hosts) const {
  return Fleet(hosts).Place(request);
}

PlacementExplanation SpreadScheduler::Explain(const PlacementRequest& request,
                                              const std::vector<HostSnapshot>& hosts) const {
  return Fleet(hosts).Explain(request);
}

}  // namespace minicloud::scheduler
