// Property tests: random topologies and random request sequences (launches with and without
// groups, stop/start, terminations, hosts going down), each placement applied to a simulated
// cluster. After every step the independent checker must find nothing, and every outcome must
// be legitimate:
//   * a request with min_count 1 fails exactly when a brute-force oracle (written here, a third
//     implementation of the rules) finds no legal host for one instance — so e.g. the 8th spread
//     instance in an AZ fails exactly when 7 are active there and the others cannot fail;
//   * InvalidArgument exactly for the invalid requests the generator made on purpose;
//   * the same request on a shuffled snapshot and on an incrementally kept Fleet decides the same.

#include <algorithm>
#include <catch2/catch.hpp>
#include <map>
#include <random>
#include <set>

#include "controller/scheduler/checker.h"
#include "controller/scheduler/fleet.h"
#include "controller/scheduler/scheduler.h"
#include "tests/unit/scheduler/random_group.h"

namespace minicloud::scheduler {
namespace {

struct SimInstance {
  std::string id;
  std::string host;  // current or last host
  std::string az;
  int group = -1;  // index into Sim::groups
  int partition = 0;
  bool active = true;
  int vcpus = 0;
  int64_t memory = 0;
  int64_t disk = 0;
};

struct Stats {
  int launches = 0, launch_ok = 0, restarts = 0, restart_ok = 0, invalid = 0;
  int spread_az_full = 0;  // failures of spread requests whose AZ had 7 active members
  std::map<std::string, int> by_strategy_ok;
};

class Sim {
 public:
  explicit Sim(uint32_t seed) : rng_(seed) {
    const int azs = Uniform(1, 3);
    for (int a = 0; a < azs; ++a) {
      const std::string az = std::string("home-1") + static_cast<char>('a' + a);
      const int racks = Uniform(1, 10);
      for (int r = 0; r < racks; ++r) {
        const int per_rack = Uniform(1, 3);
        for (int k = 0; k < per_rack; ++k) {
          HostSnapshot h;
          h.host_id = "h" + std::to_string(hosts_.size());
          h.region = Chance(0.05) ? "home-2" : "home-1";
          h.availability_zone = az;
          h.rack = "r" + std::to_string(r);
          h.up = !Chance(0.05);
          h.allocatable_vcpus = 2 * Uniform(1, 8);
          h.allocatable_memory_mib = 2048 * Uniform(1, 12);
          h.instance_store_gb = Chance(0.5) ? 0 : 100 * Uniform(1, 8);
          index_[h.host_id] = static_cast<int>(hosts_.size());
          hosts_.push_back(h);
        }
      }
    }
    const int groups = Uniform(1, 5);
    for (int g = 0; g < groups; ++g) {
      groups_.push_back(testing::RandomGroup(g, rng_));
    }
    fleet_ = std::make_unique<Fleet>(hosts_);
  }

  int Uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  bool Chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }

  void Step(Stats& stats) {
    const int op = Uniform(0, 99);
    if (op < 55) {
      Launch(stats);
    } else if (op < 70) {
      Stop();
    } else if (op < 85) {
      Start(stats);
    } else if (op < 95) {
      Terminate();
    } else {
      auto& h = hosts_[Uniform(0, static_cast<int>(hosts_.size()) - 1)];
      h.up = !h.up;
      REQUIRE(fleet_->SetUp(h.host_id, h.up).ok());
    }
    CheckState();
  }

 private:
  std::shared_ptr<const PlacementGroup> GroupSnapshot(int g) const {
    auto pg = std::make_shared<PlacementGroup>(groups_[g]);
    for (const auto& [id, inst] : instances_) {
      if (inst.group != g) continue;
      GroupMember m;
      m.instance_id = id;
      m.host_id = inst.host;
      m.availability_zone = inst.az;
      m.rack = hosts_[index_.at(inst.host)].rack;
      m.partition_number = inst.partition;
      m.active = inst.active;
      pg->members.push_back(m);
    }
    return pg;
  }

  // Brute force: is there any host where ONE more instance of `r` may legally go?
  bool ExistsLegalHost(const PlacementRequest& r) const {
    const PlacementGroup* g = r.group.get();
    std::string az = r.availability_zone;
    if (g != nullptr && g->strategy == PlacementStrategy::kCluster) {
      std::string lock = g->locked_az;
      for (const auto& m : g->members) {
        if (lock.empty()) lock = m.availability_zone;
      }
      if (!lock.empty()) az = lock;
    }
    for (const auto& h : hosts_) {
      if (!h.up || (!r.region.empty() && h.region != r.region)) continue;
      if (!az.empty() && h.availability_zone != az) continue;
      if (h.allocatable_vcpus - h.used_vcpus < r.vcpus) continue;
      if (h.allocatable_memory_mib - h.used_memory_mib < r.memory_mib) continue;
      if (h.instance_store_gb - h.used_instance_store_gb < r.instance_store_gb) continue;
      if (g == nullptr || g->strategy == PlacementStrategy::kCluster) return true;
      int in_az = 0;
      bool rack_taken = false, host_taken = false;
      std::set<int> rack_parts;
      for (const auto& m : g->members) {
        if (!m.active || m.instance_id == r.restart_instance_id) continue;
        const auto& mh = hosts_[index_.at(m.host_id)];
        if (mh.availability_zone != h.availability_zone) continue;
        ++in_az;
        if (mh.rack == h.rack) {
          rack_taken = true;
          rack_parts.insert(m.partition_number);
        }
        if (mh.host_id == h.host_id) host_taken = true;
      }
      if (g->strategy == PlacementStrategy::kSpread) {
        const bool taken = g->spread_level == SpreadLevel::kRack ? rack_taken : host_taken;
        if (in_az < 7 && !taken) return true;
      } else {
        if (rack_parts.empty()) return true;
        if (rack_parts.size() == 1 &&
            (r.partition_number == 0 || *rack_parts.begin() == r.partition_number)) {
          return true;
        }
      }
    }
    return false;
  }

  int SpreadActiveIn(const PlacementGroup& g, const std::string& az,
                     const std::string& except) const {
    int n = 0;
    for (const auto& m : g.members)
      n += m.active && m.availability_zone == az && m.instance_id != except;
    return n;
  }

  // Places `r`, cross-checks determinism and the oracle, and returns the result.
  absl::StatusOr<PlacementResult> Decide(const PlacementRequest& r) {
    SpreadScheduler s;
    auto result = s.Place(r, hosts_);
    // Replays identically on a shuffled snapshot and on the incrementally kept fleet.
    std::vector<HostSnapshot> shuffled = hosts_;
    std::shuffle(shuffled.begin(), shuffled.end(), rng_);
    auto again = s.Place(r, shuffled);
    auto kept = fleet_->Place(r, {.rejections_on_success = false});
    REQUIRE(again.status().code() == result.status().code());
    REQUIRE(kept.status().code() == result.status().code());
    if (result.ok()) {
      REQUIRE(again->host_ids == result->host_ids);
      REQUIRE(kept->host_ids == result->host_ids);
      for (size_t i = 0; i < result->placements.size(); ++i) {
        REQUIRE(kept->placements[i].partition_number == result->placements[i].partition_number);
      }
      REQUIRE(static_cast<int>(result->host_ids.size()) >= r.min_count);
      REQUIRE(static_cast<int>(result->host_ids.size()) <= r.max_count);
      for (const auto& p : result->placements) {
        REQUIRE(p.availability_zone == result->availability_zone);  // one AZ per request
        REQUIRE(hosts_[index_.at(p.host_id)].availability_zone == p.availability_zone);
      }
      if (!r.availability_zone.empty()) REQUIRE(result->availability_zone == r.availability_zone);
    }
    if (result.status().code() != absl::StatusCode::kInvalidArgument) {
      const bool exists = ExistsLegalHost(r);
      INFO(result.status().message());
      if (r.min_count == 1) REQUIRE(result.ok() == exists);
      if (!exists) REQUIRE_FALSE(result.ok());
    }
    return result;
  }

  void Apply(const PlacementRequest& r, const PlacementResult& res, int group,
             const std::string& restart_id) {
    for (size_t i = 0; i < res.placements.size(); ++i) {
      const auto& p = res.placements[i];
      SimInstance inst;
      if (!restart_id.empty()) {
        inst = instances_.at(restart_id);
      } else {
        inst.id = "i-" + std::to_string(next_id_++);
        inst.group = group;
        inst.vcpus = r.vcpus;
        inst.memory = r.memory_mib;
        inst.disk = r.instance_store_gb;
      }
      inst.host = p.host_id;
      inst.az = p.availability_zone;
      inst.partition = p.partition_number;
      inst.active = true;
      Reserve(inst, +1);
      instances_[inst.id] = inst;
    }
    if (group >= 0 && groups_[group].strategy == PlacementStrategy::kCluster) {
      REQUIRE_FALSE(res.cluster_locked_az.empty());
      if (!groups_[group].locked_az.empty()) {
        REQUIRE(res.cluster_locked_az == groups_[group].locked_az);
      }
      groups_[group].locked_az = res.cluster_locked_az;
    }
  }

  void Reserve(const SimInstance& inst, int sign) {
    auto& h = hosts_[index_.at(inst.host)];
    h.used_vcpus += sign * inst.vcpus;
    h.used_memory_mib += sign * inst.memory;
    h.used_instance_store_gb += sign * inst.disk;
    REQUIRE(
        fleet_->Adjust(inst.host, sign * inst.vcpus, sign * inst.memory, sign * inst.disk).ok());
  }

  void Launch(Stats& stats) {
    PlacementRequest r;
    r.request_id = "req-" + std::to_string(next_id_++);
    r.min_count = Uniform(1, 3);
    if (Chance(0.5)) r.min_count = 1;
    r.max_count = r.min_count + Uniform(0, 3);
    r.vcpus = Uniform(1, 4);
    r.memory_mib = 512 * Uniform(1, 8);
    r.instance_store_gb = Chance(0.7) ? 0 : 50 * Uniform(1, 4);
    if (Chance(0.5)) {
      r.availability_zone =
          hosts_[Uniform(0, static_cast<int>(hosts_.size()) - 1)].availability_zone;
    }
    if (Chance(0.03)) r.availability_zone = "home-1z";  // no such AZ
    if (Chance(0.05)) r.region = "home-1";
    int group = -1;
    bool expect_invalid = false;
    if (Chance(0.7)) {
      group = Uniform(0, static_cast<int>(groups_.size()) - 1);
      r.group = GroupSnapshot(group);
      const PlacementGroup& g = groups_[group];
      if (g.strategy == PlacementStrategy::kPartition && Chance(0.3)) {
        r.partition_number = Uniform(1, g.partition_count);
        if (Chance(0.1)) {
          r.partition_number = g.partition_count + 1;
          expect_invalid = true;
        }
      }
      if (g.strategy == PlacementStrategy::kCluster && !r.availability_zone.empty()) {
        std::string lock = g.locked_az;
        for (const auto& m : r.group->members) {
          if (lock.empty()) lock = m.availability_zone;
        }
        if (!lock.empty() && lock != r.availability_zone) expect_invalid = true;
      }
    }
    ++stats.launches;
    auto res = Decide(r);
    REQUIRE((res.status().code() == absl::StatusCode::kInvalidArgument) == expect_invalid);
    if (expect_invalid) {
      ++stats.invalid;
      return;
    }
    if (!res.ok()) {
      REQUIRE(res.status().code() == absl::StatusCode::kResourceExhausted);
      if (r.group && r.group->strategy == PlacementStrategy::kSpread &&
          !r.availability_zone.empty() && SpreadActiveIn(*r.group, r.availability_zone, "") >= 7) {
        ++stats.spread_az_full;
      }
      return;
    }
    ++stats.launch_ok;
    ++stats.by_strategy_ok[group < 0 ? "none" : PlacementStrategyName(groups_[group].strategy)];
    Apply(r, *res, group, "");
  }

  std::vector<std::string> Pick(bool active) {
    std::vector<std::string> ids;
    for (const auto& [id, inst] : instances_) {
      if (inst.active == active) ids.push_back(id);
    }
    return ids;
  }

  void Stop() {
    auto ids = Pick(true);
    if (ids.empty()) return;
    auto& inst = instances_[ids[Uniform(0, static_cast<int>(ids.size()) - 1)]];
    Reserve(inst, -1);
    inst.active = false;
  }

  void Start(Stats& stats) {
    auto ids = Pick(false);
    if (ids.empty()) return;
    const SimInstance inst = instances_[ids[Uniform(0, static_cast<int>(ids.size()) - 1)]];
    GroupMember me;
    me.instance_id = inst.id;
    me.host_id = inst.host;
    me.availability_zone = inst.az;
    me.partition_number = inst.partition;
    me.active = false;
    auto group = inst.group >= 0 ? GroupSnapshot(inst.group) : nullptr;
    PlacementRequest r = MakeRestartRequest("start-" + std::to_string(next_id_++), me, group,
                                            inst.vcpus, inst.memory, inst.disk);
    ++stats.restarts;
    auto res = Decide(r);
    REQUIRE(res.status().code() != absl::StatusCode::kInvalidArgument);
    if (!res.ok()) return;
    ++stats.restart_ok;
    REQUIRE(res->placements[0].availability_zone == inst.az);  // restarts stay in their AZ
    if (inst.partition > 0) REQUIRE(res->placements[0].partition_number == inst.partition);
    Apply(r, *res, inst.group, inst.id);
  }

  void Terminate() {
    if (instances_.empty()) return;
    auto it = instances_.begin();
    std::advance(it, Uniform(0, static_cast<int>(instances_.size()) - 1));
    if (it->second.active) Reserve(it->second, -1);
    instances_.erase(it);
  }

  void CheckState() const {
    ClusterState s;
    s.hosts = hosts_;
    s.groups = groups_;
    for (const auto& [id, inst] : instances_) {
      CheckedInstance c;
      c.instance_id = id;
      c.host_id = inst.host;
      c.group_name = inst.group >= 0 ? groups_[inst.group].name : "";
      c.partition_number = inst.partition;
      c.state = inst.active ? InstanceState::kRunning : InstanceState::kStopped;
      c.vcpus = inst.vcpus;
      c.memory_mib = inst.memory;
      c.instance_store_gb = inst.disk;
      s.instances.push_back(c);
    }
    const auto v = CheckPlacement(s, {.check_recorded_usage = true});
    INFO(FormatViolations(v));
    REQUIRE(v.empty());
  }

  std::mt19937 rng_;
  std::vector<HostSnapshot> hosts_;
  std::map<std::string, int> index_;
  std::vector<PlacementGroup> groups_;
  std::map<std::string, SimInstance> instances_;
  std::unique_ptr<Fleet> fleet_;
  int next_id_ = 0;
};

}  // namespace

TEST_CASE("random topologies and request sequences never break a rule", "[scheduler][property]") {
  Stats stats;
  constexpr int kTopologies = 200;
  constexpr int kSteps = 80;
  for (uint32_t seed = 1; seed <= kTopologies; ++seed) {
    INFO("seed " << seed);
    Sim sim(seed);
    for (int step = 0; step < kSteps; ++step) {
      INFO("step " << step);
      sim.Step(stats);
    }
  }
  INFO("launches " << stats.launches << " ok " << stats.launch_ok << " restarts " << stats.restarts
                   << " ok " << stats.restart_ok);
  // The generator really exercised what the properties are about.
  REQUIRE(stats.launch_ok > 1000);
  REQUIRE(stats.restart_ok > 100);
  REQUIRE(stats.invalid > 10);
  REQUIRE(stats.spread_az_full > 0);
  REQUIRE(stats.by_strategy_ok["none"] > 100);
  REQUIRE(stats.by_strategy_ok["cluster"] > 100);
  REQUIRE(stats.by_strategy_ok["spread"] > 100);
  REQUIRE(stats.by_strategy_ok["partition"] > 100);
}

}  // namespace minicloud::scheduler
