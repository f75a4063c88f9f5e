// The library line's check (library_verify.h): its store read back from disk, judged by the
// independent checker.

#include "bench/placement/library_verify.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "controller/scheduler/checker.h"
#include "controller/scheduler/scheduler.h"
#include "controller/store/rocksdb_store.h"

namespace minicloud::scheduler {
namespace {

using controller::RocksDbStore;
using controller::Table;

// The library line's synthetic records: "key=value;key=value".
std::map<std::string, std::string> ParseRecord(const std::string& s) {
  std::map<std::string, std::string> out;
  for (absl::string_view kv : absl::StrSplit(s, ';')) {
    std::pair<std::string, std::string> p = absl::StrSplit(kv, absl::MaxSplits('=', 1));
    out[p.first] = p.second;
  }
  return out;
}

int64_t Num(const std::map<std::string, std::string>& r, const std::string& k) {
  int64_t v = 0;
  auto it = r.find(k);
  if (it != r.end() && !absl::SimpleAtoi(it->second, &v)) v = -1;
  return v;
}

}  // namespace

bool VerifyLibraryStore(const std::string& db_path, int64_t expected_instances) {
  auto reopened = RocksDbStore::Open(db_path);
  if (!reopened.ok()) {
    std::fprintf(stderr, "reopen: %s\n", reopened.status().ToString().c_str());
    return false;
  }
  RocksDbStore& db = **reopened;
  auto scan = [&](Table t) {
    auto rows = db.Scan(t);
    if (!rows.ok()) {
      std::fprintf(stderr, "scan: %s\n", rows.status().ToString().c_str());
      std::exit(2);
    }
    return std::move(*rows);
  };
  ClusterState state;
  std::map<std::string, size_t> host_at;
  // Topology first (meta "topology/"), then usage (hosts), groups, instances.
  for (const auto& [key, value] : scan(Table::kMeta)) {
    if (!absl::StartsWith(key, "topology/")) continue;
    const auto rec = ParseRecord(value);
    HostSnapshot h;
    h.host_id = key.substr(std::string("topology/").size());
    h.region = rec.at("region");
    h.availability_zone = rec.at("az");
    h.rack = rec.at("rack");
    h.allocatable_vcpus = static_cast<int>(Num(rec, "vcpus"));
    h.allocatable_memory_mib = Num(rec, "memory_mib");
    h.instance_store_gb = Num(rec, "store_gb");
    host_at[h.host_id] = state.hosts.size();
    state.hosts.push_back(h);
  }
  for (const auto& [host, value] : scan(Table::kHosts)) {
    auto at = host_at.find(host);
    if (at == host_at.end()) {
      std::fprintf(stderr, "usage for unknown host %s\n", host.c_str());
      return false;
    }
    const auto rec = ParseRecord(value);
    HostSnapshot& h = state.hosts[at->second];
    h.used_vcpus = static_cast<int>(Num(rec, "used_vcpus"));
    h.used_memory_mib = Num(rec, "used_memory_mib");
    h.used_instance_store_gb = Num(rec, "used_store_gb");
  }
  for (const auto& [key, value] : scan(Table::kPlacementGroups)) {
    const auto rec = ParseRecord(value);
    PlacementGroup g;
    g.name = key;
    auto strategy = ParsePlacementStrategy(rec.at("strategy"));
    auto level = ParseSpreadLevel(rec.at("level"));
    if (!strategy.ok() || !level.ok()) return false;
    g.strategy = *strategy;
    g.spread_level = *level;
    g.partition_count = static_cast<int>(Num(rec, "partitions"));
    g.locked_az = rec.at("locked_az");
    state.groups.push_back(g);
  }
  for (const auto& [key, value] : scan(Table::kInstances)) {
    const auto rec = ParseRecord(value);
    CheckedInstance c;
    c.instance_id = key;
    c.host_id = rec.at("host");
    c.group_name = rec.at("group");
    c.partition_number = static_cast<int>(Num(rec, "partition"));
    c.state = InstanceState::kPending;
    c.vcpus = static_cast<int>(Num(rec, "vcpus"));
    c.memory_mib = Num(rec, "memory_mib");
    c.instance_store_gb = Num(rec, "store_gb");
    state.instances.push_back(c);
  }
  const auto t0 = std::chrono::steady_clock::now();
  const auto violations = CheckPlacement(state, {.check_recorded_usage = true});
  const double check_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  int64_t members = 0;
  for (const auto& i : state.instances) members += !i.group_name.empty();
  std::printf("verify_hosts=%zu\nverify_groups=%zu\nverify_instances=%zu\n", state.hosts.size(),
              state.groups.size(), state.instances.size());
  std::printf("verify_group_members=%lld\nverify_expected_instances=%lld\n",
              static_cast<long long>(members), static_cast<long long>(expected_instances));
  std::printf("checker_seconds=%.3f\nchecker_violations=%zu\n", check_s, violations.size());
  if (!violations.empty()) {
    std::fprintf(stderr, "%s", FormatViolations(violations).c_str());
    return false;
  }
  return static_cast<int64_t>(state.instances.size()) == expected_instances;
}

}  // namespace minicloud::scheduler
