// Independent rule checker: see checker.h. Deliberately shares no logic with the scheduler.

#include "controller/scheduler/checker.h"

#include <map>
#include <set>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace minicloud::scheduler {
namespace {

constexpr int kSpreadLimitPerAz = 7;  // EC2: 7 running instances per AZ per spread group
constexpr int kPartitionLimit = 7;    // EC2: 7 partitions per AZ

bool Occupies(InstanceState s) {
  return s == InstanceState::kPending || s == InstanceState::kRunning ||
         s == InstanceState::kStopping || s == InstanceState::kShuttingDown;
}

struct Usage {
  int64_t vcpus = 0;
  int64_t memory = 0;
  int64_t disk = 0;
};

}  // namespace

std::vector<Violation> CheckPlacement(const ClusterState& state, const CheckOptions& options) {
  std::vector<Violation> out;
  auto add = [&](std::string rule, std::string detail) {
    out.push_back({std::move(rule), std::move(detail)});
  };

  std::map<std::string, const HostSnapshot*> hosts;
  for (const auto& h : state.hosts) {
    if (!hosts.emplace(h.host_id, &h).second) add("duplicate-host", h.host_id);
  }
  std::map<std::string, const PlacementGroup*> groups;
  for (const auto& g : state.groups) {
    if (!groups.emplace(g.name, &g).second) add("duplicate-group", g.name);
    if (g.strategy == PlacementStrategy::kPartition &&
        (g.partition_count < 1 || g.partition_count > kPartitionLimit)) {
      add("partition-count", absl::StrCat("group ", g.name, " has ", g.partition_count,
                                          " partitions (allowed 1..", kPartitionLimit, ")"));
    }
  }

  // Capacity.
  std::set<std::string> ids;
  std::map<std::string, Usage> usage;
  for (const auto& inst : state.instances) {
    if (!ids.insert(inst.instance_id).second) add("duplicate-instance", inst.instance_id);
    if (!inst.group_name.empty() && groups.count(inst.group_name) == 0) {
      add("unknown-group",
          absl::StrCat(inst.instance_id, " is in unknown group ", inst.group_name));
    }
    if (!Occupies(inst.state)) continue;
    if (hosts.count(inst.host_id) == 0) {
      add("unknown-host",
          absl::StrCat(inst.instance_id, " occupies unknown host '", inst.host_id, "'"));
      continue;
    }
    Usage& u = usage[inst.host_id];
    u.vcpus += inst.vcpus;
    u.memory += inst.memory_mib;
    u.disk += inst.instance_store_gb;
  }
  for (const auto& [id, h] : hosts) {
    const Usage u = usage.count(id) ? usage[id] : Usage{};
    if (u.vcpus > h->allocatable_vcpus) {
      add("capacity-vcpu", absl::StrCat(id, ": ", u.vcpus, " vCPU used of ", h->allocatable_vcpus));
    }
    if (u.memory > h->allocatable_memory_mib) {
      add("capacity-memory",
          absl::StrCat(id, ": ", u.memory, " MiB used of ", h->allocatable_memory_mib));
    }
    if (u.disk > h->instance_store_gb) {
      add("capacity-instance-store",
          absl::StrCat(id, ": ", u.disk, " GB used of ", h->instance_store_gb));
    }
    if (options.check_recorded_usage &&
        (u.vcpus != h->used_vcpus || u.memory != h->used_memory_mib ||
         u.disk != h->used_instance_store_gb)) {
      add("recorded-usage",
          absl::StrCat(id, ": recorded ", h->used_vcpus, " vCPU/", h->used_memory_mib, " MiB/",
                       h->used_instance_store_gb, " GB, instances sum to ", u.vcpus, "/", u.memory,
                       "/", u.disk));
    }
  }

  // Group rules, over occupying members whose host is known.
  std::map<std::pair<std::string, std::string>, std::vector<std::string>> spread_az;  // (g,az)
  std::map<std::string, std::vector<std::string>> spread_rack;  // g|az|rack -> instances
  std::map<std::string, std::vector<std::string>> spread_host;  // g|host -> instances
  std::map<std::string, std::set<int>> partition_rack;          // g|az|rack -> partitions
  std::map<std::pair<std::string, std::string>, std::set<int>> partition_az;  // (g,az)
  std::map<std::string, std::set<std::string>> cluster_azs;                   // g -> AZs
  for (const auto& inst : state.instances) {
    if (inst.group_name.empty()) {
      if (inst.partition_number != 0) {
        add("partition-number-without-partition-group",
            absl::StrCat(inst.instance_id, " has partition ", inst.partition_number));
      }
      continue;
    }
    auto g_it = groups.find(inst.group_name);
    if (g_it == groups.end()) continue;
    const PlacementGroup& g = *g_it->second;
    if (g.strategy != PlacementStrategy::kPartition && inst.partition_number != 0) {
      add("partition-number-without-partition-group",
          absl::StrCat(inst.instance_id, " in group ", g.name, " has partition ",
                       inst.partition_number));
    }
    if (g.strategy == PlacementStrategy::kPartition &&
        (inst.partition_number < 1 || inst.partition_number > g.partition_count)) {
      add("partition-number-range",
          absl::StrCat(inst.instance_id, " in group ", g.name, " has partition ",
                       inst.partition_number, " (group has ", g.partition_count, ")"));
    }
    if (!Occupies(inst.state)) continue;
    auto h_it = hosts.find(inst.host_id);
    if (h_it == hosts.end()) continue;  // reported above
    const HostSnapshot& h = *h_it->second;
    const std::string rack_key = absl::StrCat(g.name, "|", h.availability_zone, "|", h.rack);
    switch (g.strategy) {
      case PlacementStrategy::kSpread:
        spread_az[{g.name, h.availability_zone}].push_back(inst.instance_id);
        if (g.spread_level == SpreadLevel::kHost) {
          spread_host[absl::StrCat(g.name, "|", h.host_id)].push_back(inst.instance_id);
        } else {
          spread_rack[rack_key].push_back(inst.instance_id);
        }
        break;
      case PlacementStrategy::kPartition:
        partition_rack[rack_key].insert(inst.partition_number);
        partition_az[{g.name, h.availability_zone}].insert(inst.partition_number);
        break;
      case PlacementStrategy::kCluster:
        cluster_azs[g.name].insert(h.availability_zone);
        if (!g.locked_az.empty() && h.availability_zone != g.locked_az) {
          add("cluster-locked-az",
              absl::StrCat(inst.instance_id, " of cluster group ", g.name, " is in ",
                           h.availability_zone, ", group locked to ", g.locked_az));
        }
        break;
    }
  }
  for (const auto& [key, list] : spread_az) {
    if (static_cast<int>(list.size()) > kSpreadLimitPerAz) {
      add("spread-per-az",
          absl::StrCat("group ", key.first, " has ", list.size(), " occupying instances in ",
                       key.second, ": ", absl::StrJoin(list, ",")));
    }
  }
  for (const auto& [key, list] : spread_rack) {
    if (list.size() > 1) {
      add("spread-distinct-rack", absl::StrCat(key, " holds ", absl::StrJoin(list, ",")));
    }
  }
  for (const auto& [key, list] : spread_host) {
    if (list.size() > 1) {
      add("spread-distinct-host", absl::StrCat(key, " holds ", absl::StrJoin(list, ",")));
    }
  }
  for (const auto& [key, parts] : partition_rack) {
    if (parts.size() > 1) {
      add("partition-shares-rack",
          absl::StrCat(key, " holds partitions ", absl::StrJoin(parts, ",")));
    }
  }
  for (const auto& [key, parts] : partition_az) {
    if (static_cast<int>(parts.size()) > kPartitionLimit) {
      add("partitions-per-az",
          absl::StrCat("group ", key.first, " uses ", parts.size(), " partitions in ", key.second));
    }
  }
  for (const auto& [name, azs] : cluster_azs) {
    if (azs.size() > 1) {
      add("cluster-single-az",
          absl::StrCat("cluster group ", name, " spans ", absl::StrJoin(azs, ",")));
    }
  }
  return out;
}

std::string FormatViolations(const std::vector<Violation>& violations) {
  std::string out;
  for (const auto& v : violations) absl::StrAppend(&out, v.rule, ": ", v.detail, "\n");
  return out;
}

}  // namespace minicloud::scheduler
