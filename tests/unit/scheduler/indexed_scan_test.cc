// Differential test: the indexed decision (Fleet::Place stops early using the per-AZ order by
// free memory) against the reference scan (PlaceOptions::reference_scan: every host of the AZ
// evaluated at every slot). Random fleets with few distinct host sizes (so many hosts tie on
// free memory and vCPU and the tie hash decides), random groups of every strategy, random
// requests (counts, sizes, AZ, region, partition numbers in and out of range, preferred hosts,
// restarts), and between decisions the committed placements, terminations and hosts going down
// or up applied to the kept Fleet through Adjust and SetUp. Every field of the result, the
// status code and the message must be equal, with and without rejections on success.

#include <algorithm>
#include <catch2/catch.hpp>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "controller/scheduler/fleet.h"
#include "controller/scheduler/scheduler.h"
#include "tests/unit/scheduler/random_group.h"

namespace minicloud::scheduler {
namespace {

struct Instance {
  std::string id;
  std::string host;
  int group = -1;
  int vcpus = 0;
  int64_t memory = 0;
  int64_t disk = 0;
};

class Differential {
 public:
  Differential(uint32_t seed, int max_racks, int max_per_rack) : rng_(seed) {
    const int azs = Uniform(1, 3);
    for (int a = 0; a < azs; ++a) {
      const std::string az = std::string("home-1") + static_cast<char>('a' + a);
      const int racks = Uniform(1, max_racks);
      for (int r = 0; r < racks; ++r) {
        const int per_rack = Uniform(1, max_per_rack);
        for (int k = 0; k < per_rack; ++k) {
          HostSnapshot h;
          h.host_id = "h" + std::to_string(hosts_.size());
          h.region = Chance(0.03) ? "home-2" : "home-1";
          h.availability_zone = az;
          h.rack = "r" + std::to_string(r);
          h.up = !Chance(0.05);
          h.allocatable_vcpus = 8 * Uniform(1, 3);
          h.allocatable_memory_mib = 8192 * Uniform(1, 3);
          h.instance_store_gb = Chance(0.7) ? 0 : 200 * Uniform(1, 2);
          if (Chance(0.3)) {  // some start partly used
            h.used_vcpus = 2 * Uniform(0, 2);
            h.used_memory_mib = 2048 * Uniform(0, 2);
          }
          hosts_.push_back(h);
        }
      }
    }
    const int groups = Uniform(1, 8);
    for (int g = 0; g < groups; ++g) {
      groups_.push_back(testing::RandomGroup(g, rng_));
    }
    // A few members only the hosts report (not in the group's list).
    for (int k = Uniform(0, 3); k > 0; --k) {
      const int g = Uniform(0, groups - 1);
      auto& h = hosts_[Uniform(0, static_cast<int>(hosts_.size()) - 1)];
      h.group_members.push_back({groups_[g].name, "hosted-" + std::to_string(k),
                                 groups_[g].strategy == PlacementStrategy::kPartition
                                     ? Uniform(1, groups_[g].partition_count)
                                     : 0});
    }
    fleet_ = std::make_unique<Fleet>(hosts_);
  }

  // One random step: a launch (both decisions compared), a termination, a stop or restart of a
  // group member, or a host going down or up.
  void Step(int step) {
    const double what = Unit();
    if (what < 0.12 && !instances_.empty()) {
      Terminate(Uniform(0, static_cast<int>(instances_.size()) - 1));
    } else if (what < 0.17) {
      auto& h = hosts_[Uniform(0, static_cast<int>(hosts_.size()) - 1)];
      h.up = !h.up;
      REQUIRE(fleet_->SetUp(h.host_id, h.up).ok());
    } else if (what < 0.22 && !members_.empty()) {
      StopOrStart(step);
    } else {
      Launch(step);
    }
  }

  int decisions() const { return decisions_; }
  int placed() const { return placed_; }

 private:
  int Uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  double Unit() { return std::uniform_real_distribution<double>(0, 1)(rng_); }
  bool Chance(double p) { return Unit() < p; }

  std::shared_ptr<const PlacementGroup> GroupPtr(int g) {
    return std::make_shared<const PlacementGroup>(groups_[g]);
  }

  // Both decisions under every option set; returns the indexed one (with rejections).
  absl::StatusOr<PlacementResult> Decide(const PlacementRequest& r) {
    ++decisions_;
    absl::StatusOr<PlacementResult> first;
    for (int variant = 0; variant < 4; ++variant) {
      PlaceOptions o;
      o.rejections_on_success = variant % 2 == 0;
      o.max_rejections = variant < 2 ? SIZE_MAX : 3;
      auto fast = fleet_->Place(r, o);
      o.reference_scan = true;
      auto ref = fleet_->Place(r, o);
      INFO("request " << r.request_id << " variant " << variant);
      REQUIRE(fast.status().code() == ref.status().code());
      REQUIRE(fast.status().message() == ref.status().message());
      if (fast.ok()) {
        REQUIRE(fast->host_ids == ref->host_ids);
        REQUIRE(fast->availability_zone == ref->availability_zone);
        REQUIRE(fast->cluster_locked_az == ref->cluster_locked_az);
        REQUIRE(fast->placements.size() == ref->placements.size());
        for (size_t i = 0; i < fast->placements.size(); ++i) {
          REQUIRE(fast->placements[i].host_id == ref->placements[i].host_id);
          REQUIRE(fast->placements[i].availability_zone == ref->placements[i].availability_zone);
          REQUIRE(fast->placements[i].rack == ref->placements[i].rack);
          REQUIRE(fast->placements[i].partition_number == ref->placements[i].partition_number);
        }
        REQUIRE(fast->rejections.size() == ref->rejections.size());
        for (size_t i = 0; i < fast->rejections.size(); ++i) {
          REQUIRE(fast->rejections[i].host_id == ref->rejections[i].host_id);
          REQUIRE(fast->rejections[i].reason == ref->rejections[i].reason);
          REQUIRE(fast->rejections[i].code == ref->rejections[i].code);
        }
      }
      if (variant == 0) {
        // Explain decides the same way (its result carries every rejection).
        const PlacementExplanation e = fleet_->Explain(r);
        REQUIRE(e.status.code() == ref.status().code());
        REQUIRE(e.status.message() == ref.status().message());
        if (ref.ok()) {
          REQUIRE(e.result.host_ids == ref->host_ids);
          REQUIRE(e.result.rejections.size() == ref->rejections.size());
          for (size_t i = 0; i < e.result.rejections.size(); ++i) {
            REQUIRE(e.result.rejections[i].reason == ref->rejections[i].reason);
          }
        }
        first = fast;
      }
    }
    return first;
  }

  void Launch(int step) {
    PlacementRequest r;
    r.request_id = "req-" + std::to_string(step) + "-" + std::to_string(Uniform(0, 1 << 20));
    r.vcpus = 2 * Uniform(0, 3);
    r.memory_mib = 2048 * Uniform(0, 4);
    if (Chance(0.05)) r.memory_mib += 512;
    r.instance_store_gb = Chance(0.15) ? 100 * Uniform(1, 3) : 0;
    r.max_count = Chance(0.5) ? 1 : Uniform(1, 8);
    r.min_count = Chance(0.7) ? 1 : Uniform(1, r.max_count);
    if (Chance(0.2))
      r.availability_zone =
          hosts_[Uniform(0, static_cast<int>(hosts_.size()) - 1)].availability_zone;
    if (Chance(0.03)) r.availability_zone = "home-1z";
    if (Chance(0.05)) r.region = Chance(0.5) ? "home-1" : "home-2";
    if (Chance(0.1))
      r.preferred_host_id = hosts_[Uniform(0, static_cast<int>(hosts_.size()) - 1)].host_id;
    int g = -1;
    if (Chance(0.6)) {
      g = Uniform(0, static_cast<int>(groups_.size()) - 1);
      r.group = GroupPtr(g);
      if (groups_[g].strategy == PlacementStrategy::kPartition && Chance(0.3)) {
        r.partition_number = Uniform(0, groups_[g].partition_count + 1);
      }
    } else if (Chance(0.02)) {
      r.partition_number = 1;  // invalid without a partition group
    }
    auto res = Decide(r);
    if (!res.ok()) return;
    Commit(r, *res, g);
  }

  void Commit(const PlacementRequest& r, const PlacementResult& res, int g) {
    for (size_t i = 0; i < res.placements.size(); ++i) {
      const auto& p = res.placements[i];
      Instance inst{"i-" + std::to_string(next_id_++),
                    p.host_id,
                    g,
                    r.vcpus,
                    r.memory_mib,
                    r.instance_store_gb};
      REQUIRE(fleet_->Adjust(p.host_id, r.vcpus, r.memory_mib, r.instance_store_gb).ok());
      if (g >= 0) {
        GroupMember m;
        m.instance_id = inst.id;
        m.host_id = p.host_id;
        m.availability_zone = p.availability_zone;
        m.rack = p.rack;
        m.partition_number = p.partition_number;
        groups_[g].members.push_back(m);
        members_.push_back(inst.id);
        if (!res.cluster_locked_az.empty()) groups_[g].locked_az = res.cluster_locked_az;
      }
      instances_.push_back(inst);
      ++placed_;
    }
  }

  void Terminate(int k) {
    const Instance inst = instances_[k];
    instances_.erase(instances_.begin() + k);
    if (inst.group >= 0) {
      auto& ms = groups_[inst.group].members;
      for (size_t i = 0; i < ms.size(); ++i) {
        if (ms[i].instance_id != inst.id) continue;
        if (ms[i].active) {
          REQUIRE(fleet_->Adjust(inst.host, -inst.vcpus, -inst.memory, -inst.disk).ok());
        }
        ms.erase(ms.begin() + i);
        break;
      }
      members_.erase(std::remove(members_.begin(), members_.end(), inst.id), members_.end());
    } else {
      REQUIRE(fleet_->Adjust(inst.host, -inst.vcpus, -inst.memory, -inst.disk).ok());
    }
  }

  // Stops an active group member, or restarts a stopped one through MakeRestartRequest.
  void StopOrStart(int step) {
    const std::string id = members_[Uniform(0, static_cast<int>(members_.size()) - 1)];
    auto it = std::find_if(instances_.begin(), instances_.end(),
                           [&](const Instance& i) { return i.id == id; });
    REQUIRE(it != instances_.end());
    auto& ms = groups_[it->group].members;
    auto m = std::find_if(ms.begin(), ms.end(),
                          [&](const GroupMember& x) { return x.instance_id == id; });
    REQUIRE(m != ms.end());
    if (m->active) {
      m->active = false;
      REQUIRE(fleet_->Adjust(it->host, -it->vcpus, -it->memory, -it->disk).ok());
      return;
    }
    PlacementRequest r = MakeRestartRequest("start-" + std::to_string(step), *m,
                                            GroupPtr(it->group), it->vcpus, it->memory, it->disk);
    auto res = Decide(r);
    if (!res.ok()) return;
    const auto& p = res->placements[0];
    REQUIRE(fleet_->Adjust(p.host_id, it->vcpus, it->memory, it->disk).ok());
    m->active = true;
    m->host_id = p.host_id;
    m->availability_zone = p.availability_zone;
    m->rack = p.rack;
    m->partition_number = p.partition_number;
    it->host = p.host_id;
  }

  std::mt19937 rng_;
  std::vector<HostSnapshot> hosts_;
  std::vector<PlacementGroup> groups_;
  std::vector<Instance> instances_;
  std::vector<std::string> members_;  // instance ids of group members
  std::unique_ptr<Fleet> fleet_;
  int next_id_ = 0;
  int decisions_ = 0;
  int placed_ = 0;
};

TEST_CASE("indexed decision equals the reference scan on small random fleets") {
  int decisions = 0, placed = 0;
  for (uint32_t seed = 1; seed <= 300; ++seed) {
    INFO("seed " << seed);
    Differential d(seed, /*max_racks=*/8, /*max_per_rack=*/6);
    for (int step = 0; step < 120; ++step) d.Step(step);
    decisions += d.decisions();
    placed += d.placed();
  }
  CHECK(decisions > 25000);
  CHECK(placed > 30000);
}

TEST_CASE("indexed decision equals the reference scan on larger fleets") {
  for (uint32_t seed = 1001; seed <= 1006; ++seed) {
    INFO("seed " << seed);
    Differential d(seed, /*max_racks=*/40, /*max_per_rack=*/20);
    for (int step = 0; step < 600; ++step) d.Step(step);
    CHECK(d.placed() > 150);
  }
}

}  // namespace
}  // namespace minicloud::scheduler
