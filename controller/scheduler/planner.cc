// The placement decision over a Fleet: Fleet::Place and Fleet::Explain.
//
// One decision = validate, resolve the group's members once, pick the candidate AZ(s) (the AZ
// filter), and for each candidate AZ plan up to max_count instance slots greedily with the
// request's strategy object (strategy_*.h). At each slot a host either fails a filter
// (filters.h: the host filters, then the strategy's group rules; its reason code is recorded)
// or gets a Score (score.h) from the strategy; the candidate that ranks first wins. The slot
// evaluates the hosts of the racks holding the group or the request, the preferred host, and
// then the AZ's other hosts in the order of the free-capacity index only until none left can
// rank better (see PlanAz); it evaluates every host of the AZ when it fails, when it is the
// last slot and rejections are wanted, when the strategy asks (spread: the AZ is full; cluster:
// a host outside its racks could win), for explanations (each instance's true runner-up), and
// at every slot for PlaceOptions::reference_scan (the tests compare). The whole request goes to
// the AZ whose plan placed the most instances (AZs are tried in a per-request hashed order; the
// first that places max_count wins).

#include <algorithm>
#include <map>
#include <utility>

#include "absl/algorithm/container.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "controller/scheduler/az_plan.h"
#include "controller/scheduler/filter_scratch.h"
#include "controller/scheduler/filters.h"
#include "controller/scheduler/fleet.h"
#include "controller/scheduler/score.h"
#include "controller/scheduler/strategy_cluster.h"
#include "controller/scheduler/strategy_none.h"
#include "controller/scheduler/strategy_partition.h"
#include "controller/scheduler/strategy_spread.h"

namespace minicloud::scheduler {
class Planner {
 public:
  Planner(const Fleet& fleet, const PlacementRequest& request, bool explain,
          bool rejections_on_success, size_t max_rejections, bool reference_scan)
      : f_(fleet),
        r_(request),
        explain_(explain),
        rejections_on_success_(rejections_on_success),
        max_rejections_(max_rejections),
        indexed_(!reference_scan) {}

  // Decides; fills out.status / out.result (+ verdicts and notes when explaining).
  void Decide(PlacementExplanation& out);

 private:
  using Host = Fleet::Host;
  struct Slot {
    int host = -1;
    int partition = 0;
    Score score;      // the winner's score parts
    Score runner_up;  // explain only: the candidate that ranked second (host -1: none)
    std::string why;  // explain only
  };

  struct AzPlan {
    int az = -1;
    std::vector<Slot> slots;
    std::vector<FilterResult> last;  // per az_slot: the filter result at the last slot evaluated
    std::vector<Score> last_score;   // explain only, per az_slot: the score there (host -1: none)
    std::vector<int> instances;      // per az_slot: instances placed on the host
  };

  absl::Status Validate();
  void ResolveMembers();
  AzPlan PlanAz(int az) const;
  template <class Strategy>
  AzPlan PlanAzWith(int az) const;
  const ScoreSchema& Schema() const;
  std::string ReasonText(const Host& h, const FilterResult& f) const;

  const Fleet& f_;
  const PlacementRequest& r_;
  const bool explain_;  // verdicts and notes for every host
  const bool rejections_on_success_;
  const size_t max_rejections_;
  const bool indexed_;  // false: evaluate every host of the AZ at every slot
  const PlacementGroup* group_ = nullptr;
  PlacementStrategy strategy_ = PlacementStrategy::kSpread;
  PlanContext ctx_;
  std::string target_az_;        // "" = any
  bool target_is_lock_ = false;  // target_az_ comes from the cluster lock
  std::vector<Member> members_;
};

absl::Status Planner::Validate() {
  const auto& r = r_;
  if (r.min_count < 1 || r.max_count < r.min_count) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad counts: min ", r.min_count, ", max ", r.max_count));
  }
  if (r.vcpus < 0 || r.memory_mib < 0 || r.instance_store_gb < 0) {
    return absl::InvalidArgumentError(absl::StrCat("bad size: ", r.vcpus, " vCPU, ", r.memory_mib,
                                                   " MiB, ", r.instance_store_gb, " GB"));
  }
  group_ = r.group.get();
  if (group_ != nullptr) {
    if (absl::Status s = ValidatePlacementGroup(*group_); !s.ok()) return s;
    strategy_ = group_->strategy;
  }
  if (!r.restart_instance_id.empty() && (r.min_count != 1 || r.max_count != 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("restarting ", r.restart_instance_id, " places exactly one instance"));
  }
  return absl::OkStatus();
}

void Planner::ResolveMembers() {
  if (group_ == nullptr) return;
  auto resolve = [&](const std::string& host_id, const std::string& az, const std::string& rack) {
    Member m;
    if (auto it = f_.host_index_.find(host_id); it != f_.host_index_.end()) {
      m.host = it->second;
      m.az = f_.hosts_[m.host].az;
      m.rack = f_.hosts_[m.host].rack;
    } else {
      if (auto a = f_.az_index_.find(az); a != f_.az_index_.end()) m.az = a->second;
      if (auto k = f_.rack_index_.find(Fleet::RackKey(az, rack)); k != f_.rack_index_.end()) {
        m.rack = k->second;
      }
    }
    return m;
  };
  members_.reserve(group_->members.size());
  for (const auto& gm : group_->members) {
    if (!r_.restart_instance_id.empty() && gm.instance_id == r_.restart_instance_id) continue;
    Member m = resolve(gm.host_id, gm.availability_zone, gm.rack);
    m.partition = gm.partition_number;
    m.active = gm.active;
    members_.push_back(m);
  }
  // Members the hosts report but the group's list lacks (or lists as stopped).
  auto hosted = f_.hosted_.find(group_->name);
  if (hosted == f_.hosted_.end()) return;
  absl::flat_hash_map<std::string, size_t> listed;
  for (size_t i = 0; i < group_->members.size(); ++i) {
    listed.emplace(group_->members[i].instance_id, i);
  }
  for (const auto& [host, hm] : hosted->second) {
    if (!r_.restart_instance_id.empty() && hm.instance_id == r_.restart_instance_id) continue;
    auto it = listed.find(hm.instance_id);
    if (it != listed.end() && group_->members[it->second].active) continue;  // already counted
    Member m;
    m.host = host;
    m.az = f_.hosts_[host].az;
    m.rack = f_.hosts_[host].rack;
    m.partition = hm.partition_number;
    m.active = true;
    members_.push_back(m);
  }
}

const ScoreSchema& Planner::Schema() const {
  if (group_ == nullptr) return NoGroupStrategy::Schema();
  switch (strategy_) {
    case PlacementStrategy::kCluster:
      return ClusterStrategy::Schema();
    case PlacementStrategy::kPartition:
      return PartitionStrategy::Schema();
    case PlacementStrategy::kSpread:
      break;
  }
  return SpreadStrategy::Schema();
}

Planner::AzPlan Planner::PlanAz(int az) const {
  if (group_ == nullptr) return PlanAzWith<NoGroupStrategy>(az);
  switch (strategy_) {
    case PlacementStrategy::kCluster:
      return PlanAzWith<ClusterStrategy>(az);
    case PlacementStrategy::kPartition:
      return PlanAzWith<PartitionStrategy>(az);
    case PlacementStrategy::kSpread:
      break;
  }
  return PlanAzWith<SpreadStrategy>(az);
}

template <class Strategy>
Planner::AzPlan Planner::PlanAzWith(int az) const {
  const std::vector<int>& hs = f_.az_hosts_[az];
  const int n = static_cast<int>(hs.size());
  const int racks = static_cast<int>(f_.racks_.size());
  const Host* hosts = f_.hosts_.data();
  AzPlan plan;
  plan.az = az;
  plan.last = FilterScratch::Take(n);  // not cleared: see FilterScratch
  // Value-initialising constructors (not assign(n, value)): they compile to a plain memset in
  // every instantiation of this template; these arrays are filled once per AZ plan.
  if (explain_) plan.last_score = std::vector<Score>(n);
  AzState st;
  st.az = az;
  st.instances = std::vector<int>(n);
  st.req_on_rack = std::vector<int>(racks);
  if (group_ != nullptr) {
    st.grp_on_rack = std::vector<int>(racks);
    st.grp_on_host = std::vector<int>(n);
  }
  Strategy strategy(ctx_, st);

  // Indexed decision: the racks of this AZ holding an active member of the group or an instance
  // of this request. Only their hosts (and the preferred host) can rank differently from what
  // their free memory and vCPU say, so they are evaluated one by one at every slot.
  std::vector<char> special(indexed_ ? racks : 0);
  std::vector<int> special_racks;
  auto mark_special = [&](int rack) {
    if (indexed_ && rack >= 0 && f_.racks_[rack].az == az && !special[rack]) {
      special[rack] = 1;
      special_racks.push_back(rack);
    }
  };
  // The group's members in this AZ; active ones count per rack and per host.
  for (const Member& m : members_) {
    if (m.az != az) continue;
    strategy.AddMember(m);
    if (!m.active) continue;
    ++st.active_in_az;
    if (m.rack >= 0) {
      mark_special(m.rack);
      ++st.grp_on_rack[m.rack];
    }
    if (m.host >= 0 && f_.hosts_[m.host].az == az) ++st.grp_on_host[f_.hosts_[m.host].az_slot];
  }

  const int preferred_here = ctx_.preferred_host >= 0 && f_.hosts_[ctx_.preferred_host].az == az
                                 ? ctx_.preferred_host
                                 : -1;
  const bool need_last = explain_ || rejections_on_success_;
  const uint64_t seed = ctx_.seed;

  for (int slot = 0; slot < r_.max_count; ++slot) {
    st.placed = static_cast<int>(plan.slots.size());
    st.remaining = r_.max_count - st.placed;
    strategy.BeginSlot();
    Podiums podiums{};

    // The filters in order, then the strategy's score; the candidate goes on its podium.
    auto evaluate = [&](int i) {
      const int index = hs[i];
      const Host& h = hosts[index];
      Candidate c;
      c.host = index;
      c.slot = i;
      c.h = &h;
      c.on_host = st.instances[i];
      FilterResult fail = HostFilters(h, c.on_host, r_);
      if (fail.ok()) fail = strategy.Filter(c);
      plan.last[i] = fail;
      if (!fail.ok()) {
        if (explain_) plan.last_score[i] = Score{};
        return;
      }
      c.free_memory_after = h.alloc_memory - h.used_memory - (c.on_host + 1) * r_.memory_mib;
      c.free_vcpus_after = h.alloc_vcpus - h.used_vcpus - int64_t{c.on_host + 1} * r_.vcpus;
      c.preferred = index == ctx_.preferred_host;
      Score s;
      s.host = index;
      s.tie = MixHash(seed, h.id_hash);
      strategy.Rank(c, s);
      if (explain_) plan.last_score[i] = s;
      podiums[strategy.Bucket(c)].Offer(s, hosts, explain_);
    };

    // Every host's reason is wanted for the last slot evaluated: a failing slot always scans
    // the AZ, and so does the last slot of a success when rejections are wanted. Explanations
    // scan every slot so that each instance's runner-up is the true one.
    bool scan =
        !indexed_ || explain_ || (need_last && slot == r_.max_count - 1) || strategy.MustScan();
    if (!scan) {
      auto evaluate_index = [&](int index) {
        strategy.PrepareRack(hosts[index].rack);
        evaluate(hosts[index].az_slot);
      };
      for (int rack : special_racks) {
        for (int index : f_.racks_[rack].hosts) evaluate_index(index);
      }
      if (preferred_here >= 0 && !special[hosts[preferred_here].rack]) {
        evaluate_index(preferred_here);
      }
      if constexpr (!Strategy::kWalkIndex) {
        if (strategy.OutsiderMayWin(podiums[0].first)) scan = true;
      } else {
        // Every other host is not preferred and on a rack holding neither the group nor this
        // request, so it passes the group rules and its first score parts are the same as every
        // other such host's; the rest is (-free memory after, -free vCPU after, tie hash), i.e.
        // the index order up to the tie hash. Walk the index from the most free memory and stop
        // at the first host below (free memory, free vCPU) of the first host that passes: the
        // hosts equal to it on both are all evaluated, the tie hash decides among them.
        bool found = false;
        Fleet::FreeKey first;
        for (const Fleet::FreeKey& e : f_.az_by_free_[az]) {
          if (e.neg_free_memory > -r_.memory_mib) break;  // this and all later fail memory
          if (found && (e.neg_free_memory != first.neg_free_memory ||
                        e.neg_free_vcpus != first.neg_free_vcpus)) {
            break;
          }
          const Host& h = hosts[e.host];
          if (special[h.rack] || e.host == preferred_here) continue;
          evaluate(h.az_slot);
          if (!found && plan.last[h.az_slot].ok()) {
            found = true;
            first = e;
          }
        }
        bool any = false;
        for (const Podium& p : podiums) any = any || p.first.host >= 0;
        if (!any) scan = true;  // the slot fails: name every host's reason
      }
      if (scan) podiums.fill(Podium{});
    }
    if (scan) {
      strategy.PrepareAz();
      for (int i = 0; i < n; ++i) evaluate(i);
    }

    Slot s;
    s.partition = strategy.Choose(podiums, s.score, s.runner_up);
    if (s.score.host < 0) break;
    s.host = s.score.host;
    const Host& h = hosts[s.host];
    const int i = h.az_slot;
    Candidate c;
    c.host = s.host;
    c.slot = i;
    c.h = &h;
    c.on_host = st.instances[i];
    if (explain_) {
      s.why = absl::StrCat(WhyWon(Strategy::Schema(), s.score, s.runner_up, hosts), "; ",
                           strategy.Account(c, s.score, s.partition));
    }
    // Apply the slot to the plan's tentative state.
    strategy.Apply(c, s.partition);
    ++st.instances[i];
    ++st.req_on_rack[h.rack];
    mark_special(h.rack);
    plan.slots.push_back(std::move(s));
  }
  plan.instances = std::move(st.instances);
  return plan;
}

std::string Planner::ReasonText(const Host& h, const FilterResult& f) const {
  RejectionSubject s;
  s.region = &h.region;
  s.availability_zone = &f_.azs_[h.az];
  s.rack = &f_.racks_[h.rack].name;
  s.requested_region = &r_.region;
  s.target_az = &target_az_;
  if (group_ != nullptr) s.group = absl::StrCat("'", group_->name, "'");
  return RejectionText(f, s);
}

void Planner::Decide(PlacementExplanation& out) {
  out.status = Validate();
  if (!out.status.ok()) return;
  ctx_.hosts = f_.hosts_.data();
  ctx_.racks = f_.racks_.data();
  ctx_.rack_count = static_cast<int>(f_.racks_.size());
  ctx_.request = &r_;
  ctx_.group = group_;
  ctx_.seed = Fnv1a64(r_.request_id);
  ctx_.indexed = indexed_;
  ResolveMembers();

  // The restarting member's own record supplies defaults.
  const GroupMember* restarting = nullptr;
  if (group_ != nullptr && !r_.restart_instance_id.empty()) {
    for (const auto& m : group_->members) {
      if (m.instance_id == r_.restart_instance_id) restarting = &m;
    }
  }
  target_az_ = r_.availability_zone;
  if (target_az_.empty() && restarting != nullptr) {
    auto it = f_.host_index_.find(restarting->host_id);
    target_az_ = it != f_.host_index_.end() ? f_.azs_[f_.hosts_[it->second].az]
                                            : restarting->availability_zone;
  }
  ctx_.target_partition = r_.partition_number;
  if (ctx_.target_partition == 0 && restarting != nullptr) {
    ctx_.target_partition = restarting->partition_number;
  }
  std::string preferred = r_.preferred_host_id;
  if (preferred.empty() && restarting != nullptr) preferred = restarting->host_id;
  if (auto it = f_.host_index_.find(preferred); !preferred.empty() && it != f_.host_index_.end()) {
    ctx_.preferred_host = it->second;
  }
  const int target_partition = ctx_.target_partition;
  if (target_partition != 0) {
    if (group_ == nullptr || strategy_ != PlacementStrategy::kPartition) {
      out.status = absl::InvalidArgumentError(
          "a partition number is only valid with a partition placement group");
      return;
    }
    if (target_partition < 1 || target_partition > group_->partition_count) {
      out.status = absl::InvalidArgumentError(absl::StrCat(
          "partition number ", target_partition, " is out of range for placement group '",
          group_->name, "' (1..", group_->partition_count, ")"));
      return;
    }
  }
  std::string lock;
  if (group_ != nullptr && strategy_ == PlacementStrategy::kCluster) {
    lock = group_->locked_az;
    for (size_t i = 0; lock.empty() && i < group_->members.size(); ++i) {
      const auto& m = group_->members[i];
      auto it = f_.host_index_.find(m.host_id);
      lock = it != f_.host_index_.end() ? f_.azs_[f_.hosts_[it->second].az] : m.availability_zone;
    }
    if (!lock.empty()) {
      if (!target_az_.empty() && target_az_ != lock) {
        out.status = absl::InvalidArgumentError(absl::StrCat(
            "cluster placement group '", group_->name, "' is locked to availability zone ", lock,
            "; cannot place in ", target_az_));
        return;
      }
      target_is_lock_ = target_az_.empty();
      target_az_ = lock;
    }
  }

  // Candidate AZs: the AZ filter at the level of the whole request.
  int target_az = kAnyAz;
  std::vector<int> candidates;
  if (!target_az_.empty()) {
    target_az = kUnknownAz;
    if (auto it = f_.az_index_.find(target_az_); it != f_.az_index_.end()) {
      target_az = it->second;
      candidates.push_back(it->second);
    }
  } else {
    for (int a = 0; a < static_cast<int>(f_.azs_.size()); ++a) {
      if (r_.allowed_zones.empty() || absl::c_linear_search(r_.allowed_zones, f_.azs_[a])) {
        candidates.push_back(a);
      }
    }
    std::vector<uint64_t> h(f_.azs_.size());
    for (int a : candidates) h[a] = MixHash(ctx_.seed, Fnv1a64(f_.azs_[a]));
    std::sort(candidates.begin(), candidates.end(),
              [&](int a, int b) { return h[a] != h[b] ? h[a] < h[b] : f_.azs_[a] < f_.azs_[b]; });
  }
  std::vector<AzPlan> plans;
  struct ReturnScratch {
    std::vector<AzPlan>& plans;
    ~ReturnScratch() {
      for (AzPlan& p : plans) FilterScratch::Give(std::move(p.last));
    }
  } return_scratch{plans};
  int best = -1;
  for (int az : candidates) {
    plans.push_back(PlanAz(az));
    const int placed = static_cast<int>(plans.back().slots.size());
    if (best < 0 || placed > static_cast<int>(plans[best].slots.size())) {
      best = static_cast<int>(plans.size()) - 1;
    }
    if (placed == r_.max_count) break;
  }
  const int placed = best < 0 ? 0 : static_cast<int>(plans[best].slots.size());
  const bool ok = placed >= r_.min_count;
  const std::string chosen_az = best >= 0 ? f_.azs_[plans[best].az] : "";

  if (ok) {
    const AzPlan& p = plans[best];
    out.result.availability_zone = chosen_az;
    if (group_ != nullptr && strategy_ == PlacementStrategy::kCluster) {
      out.result.cluster_locked_az = chosen_az;
    }
    for (const Slot& s : p.slots) {
      const Host& h = f_.hosts_[s.host];
      out.result.host_ids.push_back(h.id);
      out.result.placements.push_back({h.id, chosen_az, f_.racks_[h.rack].name, s.partition});
    }
  }
  if (ok && !explain_ && !rejections_on_success_) return;

  // Notes (explain), then verdicts (explain) and rejections for every host.
  std::vector<int> planned_az(f_.azs_.size(), -1);
  for (size_t i = 0; i < plans.size(); ++i) planned_az[plans[i].az] = static_cast<int>(i);
  const ScoreSchema& schema = Schema();
  std::vector<std::vector<std::string>> why_by_host(explain_ ? f_.hosts_.size() : 0);
  std::vector<const Slot*> first_slot(explain_ ? f_.hosts_.size() : 0, nullptr);
  if (explain_) {
    std::string az_note;
    if (candidates.empty()) {
      az_note = absl::StrCat("no hosts in availability zone ", target_az_);
    } else if (!target_az_.empty()) {
      az_note = absl::StrCat("availability zone ", target_az_,
                             target_is_lock_ ? " (cluster group lock)" : " (requested)");
    } else {
      std::vector<std::string> tried;
      for (const auto& p : plans) {
        tried.push_back(absl::StrCat(f_.azs_[p.az], ": ", p.slots.size()));
      }
      az_note = absl::StrCat("availability zones tried in seeded order, instances placeable: ",
                             absl::StrJoin(tried, ", "),
                             ok ? absl::StrCat("; chose ", chosen_az) : std::string());
    }
    out.notes.push_back(std::move(az_note));
    out.notes.push_back(
        absl::StrCat("ranking (", group_ != nullptr ? PlacementStrategyName(strategy_) : "no group",
                     "): ", RankingOrderText(schema)));
  }
  if (ok && explain_) {
    int k = 0;
    for (const Slot& s : plans[best].slots) {
      const Host& h = f_.hosts_[s.host];
      out.notes.push_back(
          absl::StrCat("instance ", ++k, " -> ", h.id, " (", chosen_az, "/", f_.racks_[h.rack].name,
                       s.partition > 0 ? absl::StrCat(", partition ", s.partition) : std::string(),
                       "): ", s.why));
      why_by_host[s.host].push_back(absl::StrCat("instance ", k, ": ", s.why));
      if (first_slot[s.host] == nullptr) first_slot[s.host] = &s;
    }
  }

  // Every host in id order: verdicts (explain only) and rejections.
  struct Rejected {
    int host;
    FilterResult fail;
  };
  std::vector<Rejected> rejected;
  for (int idx : f_.by_id_) {
    const Host& h = f_.hosts_[idx];
    const int pi = planned_az[h.az];
    FilterResult fail;
    HostVerdict v;
    if (pi >= 0) {
      const AzPlan& p = plans[pi];
      if (ok && pi == best && p.instances[h.az_slot] > 0) {
        v.verdict = Verdict::kChosen;
        v.instances = p.instances[h.az_slot];
        if (explain_) {
          v.reason = absl::StrJoin(why_by_host[idx], "; ");
          v.score = RenderScore(schema, first_slot[idx]->score);
        }
      } else {
        fail = p.last[h.az_slot];
        if (fail.ok() && explain_) {
          v.reason = ok && pi != best ? absl::StrCat("request placed in ", chosen_az)
                                      : "passes every filter; ranked below the chosen host(s)";
          if (p.last_score[h.az_slot].host >= 0) {
            v.score = RenderScore(schema, p.last_score[h.az_slot]);
          }
        }
      }
    } else {  // an AZ the request did not plan in
      fail = HostUpFilter(h);
      if (fail.ok()) fail = RegionFilter(h, r_.region);
      if (fail.ok()) fail = AvailabilityZoneFilter(h, target_az, target_is_lock_);
      if (fail.ok() && target_az == kAnyAz && !r_.allowed_zones.empty() &&
          !absl::c_linear_search(r_.allowed_zones, f_.azs_[h.az])) {
        fail = {RejectCode::kAvailabilityZone};
      }
      if (fail.ok() && explain_) {
        v.reason = absl::StrCat("request placed in ", chosen_az);  // AZ not tried: one sufficed
      }
    }
    if (!fail.ok()) rejected.push_back({idx, fail});
    if (explain_) {
      v.host_id = h.id;
      if (!fail.ok()) {
        v.verdict = Verdict::kRejected;
        v.code = fail.code;
        v.reason = ReasonText(h, fail);
      }
      out.hosts.push_back(std::move(v));
    }
  }
  // Hosts of the AZs the request could use first (their reasons explain the failure), then the
  // ones filtered out by state, region or AZ; each group in id order.
  auto outside = [](const Rejected& r) {
    const RejectCode c = r.fail.code;
    return c == RejectCode::kHostDown || c == RejectCode::kRegion ||
           c == RejectCode::kAvailabilityZone || c == RejectCode::kClusterAz;
  };
  const bool all = rejected.size() <= max_rejections_;
  if (!all || !ok) {
    std::stable_partition(rejected.begin(), rejected.end(),
                          [&](const Rejected& r) { return !outside(r); });
  }
  const size_t listed = std::min(rejected.size(), max_rejections_);
  out.result.rejections.reserve(listed);
  for (size_t i = 0; i < listed; ++i) {
    const Host& h = f_.hosts_[rejected[i].host];
    out.result.rejections.push_back({h.id, ReasonText(h, rejected[i].fail), rejected[i].fail.code});
  }

  if (!ok) {
    constexpr size_t kMaxDetail = 20;
    std::vector<std::string> parts;
    for (size_t i = 0; i < rejected.size() && i < kMaxDetail; ++i) {
      const Host& h = f_.hosts_[rejected[i].host];
      parts.push_back(absl::StrCat(
          h.id, ": ",
          i < listed ? out.result.rejections[i].reason : ReasonText(h, rejected[i].fail)));
    }
    if (rejected.size() > kMaxDetail) {
      std::map<absl::string_view, int> rest;  // RejectCodeName's static names, in name order
      for (size_t i = kMaxDetail; i < rejected.size(); ++i) {
        ++rest[RejectCodeName(rejected[i].fail.code)];
      }
      std::vector<std::string> counts;
      for (const auto& [code, n] : rest) counts.push_back(absl::StrCat(code, " x", n));
      parts.push_back(absl::StrCat("and ", rejected.size() - kMaxDetail, " more hosts (",
                                   absl::StrJoin(counts, ", "), ")"));
    }
    if (f_.hosts_.empty()) parts.push_back("no hosts are registered");
    if (!target_az_.empty() && candidates.empty() && !f_.hosts_.empty()) {
      parts.push_back(absl::StrCat("no hosts in ", target_az_));
    }
    out.status = absl::ResourceExhaustedError(absl::StrCat(
        "placed ", placed, " of the minimum ", r_.min_count, " instances",
        group_ != nullptr
            ? absl::StrCat(" in ", PlacementStrategyName(strategy_), " group '", group_->name, "'")
            : std::string(),
        " (", absl::StrJoin(parts, "; "), ")"));
    out.result.host_ids.clear();
    out.result.placements.clear();
  }
}

absl::StatusOr<PlacementResult> Fleet::Place(const PlacementRequest& request,
                                             const PlaceOptions& options) const {
  PlacementExplanation out;
  Planner(*this, request, /*explain=*/false, options.rejections_on_success, options.max_rejections,
          options.reference_scan)
      .Decide(out);
  if (!out.status.ok()) return out.status;
  return std::move(out.result);
}

PlacementExplanation Fleet::Explain(const PlacementRequest& request) const {
  PlacementExplanation out;
  Planner(*this, request, /*explain=*/true, /*rejections_on_success=*/true, SIZE_MAX,
          /*reference_scan=*/false)
      .Decide(out);
  return out;
}

}  // namespace minicloud::scheduler
