// The placement decision: filters (named reasons), group rules and ranking over a Fleet.
//
// One decision = validate, resolve the group's members once, pick the candidate AZ(s), and for
// each candidate AZ plan up to max_count instance slots greedily. At each slot a host either
// fails a filter/rule (its reason code is recorded) or gets a ranking key; the smallest key
// wins. The slot evaluates the hosts of the racks holding the group or the request, the
// preferred host, and then the AZ's other hosts in the order of the free-capacity index only
// until none left can rank better (see PlanAz); it evaluates every host of the AZ when it fails,
// when it is the last slot and rejections are wanted, and for a cluster group whose racks are
// full. PlaceOptions::reference_scan evaluates every host at every slot (the tests compare).
// The whole request goes to the AZ whose plan placed the most instances (AZs are tried in a
// per-request hashed order; the first that places max_count wins).

#include "controller/scheduler/fleet.h"

#include <algorithm>
#include <array>
#include <limits>
#include <map>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace minicloud::scheduler {

uint64_t Fnv1a64(const std::string& s) {
  uint64_t h = 14695981039346656037ull;  // the FNV-1a 64-bit offset basis
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

uint64_t MixHash(uint64_t seed, uint64_t value) {
  // SplitMix64's finaliser over a combination of both: stable across processes and builds.
  uint64_t z = seed ^ (value + 0x9e3779b97f4a7c15ull + (seed << 6) + (seed >> 2));
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

namespace {

std::string RackKey(const std::string& az, const std::string& rack) {
  return absl::StrCat(az, "\n", rack);
}

}  // namespace

Fleet::Fleet(const std::vector<HostSnapshot>& hosts) {
  hosts_.reserve(hosts.size());
  for (const auto& s : hosts) {
    if (host_index_.contains(s.host_id)) continue;  // a duplicate id: the first entry wins
    const int index = static_cast<int>(hosts_.size());
    host_index_.emplace(s.host_id, index);
    Host h;
    h.id = s.host_id;
    h.region = s.region;
    auto [az_it, az_new] = az_index_.try_emplace(s.availability_zone, azs_.size());
    if (az_new) {
      azs_.push_back(s.availability_zone);
      az_hosts_.emplace_back();
    }
    h.az = az_it->second;
    auto [rack_it, rack_new] =
        rack_index_.try_emplace(RackKey(s.availability_zone, s.rack), racks_.size());
    if (rack_new) racks_.push_back({s.rack, h.az, {}});
    h.rack = rack_it->second;
    h.up = s.up;
    h.alloc_vcpus = s.allocatable_vcpus;
    h.alloc_memory = s.allocatable_memory_mib;
    h.alloc_disk = s.instance_store_gb;
    h.used_vcpus = s.used_vcpus;
    h.used_memory = s.used_memory_mib;
    h.used_disk = s.used_instance_store_gb;
    h.id_hash = Fnv1a64(s.host_id);
    h.az_slot = static_cast<int>(az_hosts_[h.az].size());
    az_hosts_[h.az].push_back(index);
    racks_[h.rack].hosts.push_back(index);
    for (const auto& m : s.group_members) hosted_[m.group_name].push_back({index, m});
    hosts_.push_back(std::move(h));
  }
  by_id_.resize(hosts_.size());
  for (size_t i = 0; i < by_id_.size(); ++i) by_id_[i] = static_cast<int>(i);
  std::sort(by_id_.begin(), by_id_.end(),
            [&](int a, int b) { return hosts_[a].id < hosts_[b].id; });
  az_by_free_.resize(azs_.size());
  for (size_t a = 0; a < azs_.size(); ++a) {
    std::vector<FreeKey> keys;
    keys.reserve(az_hosts_[a].size());
    for (int index : az_hosts_[a]) keys.push_back(KeyOf(index));
    std::sort(keys.begin(), keys.end());
    az_by_free_[a].insert(keys.begin(), keys.end());
  }
}

Fleet::FreeKey Fleet::KeyOf(int index) const {
  const Host& h = hosts_[index];
  return {h.used_memory - h.alloc_memory, h.used_vcpus - h.alloc_vcpus, index};
}

absl::Status Fleet::Adjust(const std::string& host_id, int vcpus, int64_t memory_mib,
                           int64_t instance_store_gb) {
  auto it = host_index_.find(host_id);
  if (it == host_index_.end()) return absl::NotFoundError(absl::StrCat("no host ", host_id));
  Host& h = hosts_[it->second];
  const bool reorder = vcpus != 0 || memory_mib != 0;
  if (reorder) az_by_free_[h.az].erase(KeyOf(it->second));
  h.used_vcpus += vcpus;
  h.used_memory += memory_mib;
  h.used_disk += instance_store_gb;
  if (reorder) az_by_free_[h.az].insert(KeyOf(it->second));
  return absl::OkStatus();
}

absl::Status Fleet::SetUp(const std::string& host_id, bool up) {
  auto it = host_index_.find(host_id);
  if (it == host_index_.end()) return absl::NotFoundError(absl::StrCat("no host ", host_id));
  hosts_[it->second].up = up;
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------------

namespace {

struct Fail {
  RejectCode code = RejectCode::kNone;
  int64_t need = 0;
  int64_t have = 0;
  int other = 0;  // partition owning the rack (kPartitionRackTaken)
};

struct Key {
  std::array<int64_t, 6> k{};
  uint64_t tie = 0;
  int host = -1;  // fleet index
};

// A member of the request's group, resolved against the fleet.
struct Member {
  int host = -1;  // fleet index, -1 if the host is not in the snapshot
  int az = -1;
  int rack = -1;
  int partition = 0;
  bool active = false;
};

struct Slot {
  int host = -1;
  int partition = 0;
  std::string why;  // explain only
};

struct AzPlan {
  int az = -1;
  std::vector<Slot> slots;
  std::vector<Fail> last;      // per az_slot: reason at the last slot evaluated
  std::vector<int> instances;  // per az_slot: instances placed on the host
};

}  // namespace

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

  absl::Status Validate();
  void ResolveMembers();
  AzPlan PlanAz(int az) const;
  Fail CapacityFail(const Host& h, int on_host) const;
  std::string ReasonText(const Host& h, const Fail& f) const;
  std::string GroupName() const { return group_ ? absl::StrCat("'", group_->name, "'") : ""; }
  int64_t FitsOn(const Host& h, int on_host) const;

  const Fleet& f_;
  const PlacementRequest& r_;
  const bool explain_;  // verdicts and notes for every host
  const bool rejections_on_success_;
  const size_t max_rejections_;
  const bool indexed_;  // false: evaluate every host of the AZ at every slot (tests' reference)
  const PlacementGroup* group_ = nullptr;
  PlacementStrategy strategy_ = PlacementStrategy::kSpread;
  uint64_t seed_ = 0;
  std::string target_az_;        // "" = any
  bool target_is_lock_ = false;  // target_az_ comes from the cluster lock
  int target_partition_ = 0;
  int preferred_host_ = -1;
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
      if (auto k = f_.rack_index_.find(RackKey(az, rack)); k != f_.rack_index_.end()) {
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

int64_t Planner::FitsOn(const Host& h, int on_host) const {
  // How many more instances of the request fit on h (capped at max_count).
  int64_t fits = r_.max_count;
  auto dim = [&](int64_t alloc, int64_t used, int64_t need) {
    if (need <= 0) return;
    const int64_t free = alloc - used - on_host * need;
    fits = std::min(fits, free <= 0 ? 0 : free / need);
  };
  dim(h.alloc_vcpus, h.used_vcpus, r_.vcpus);
  dim(h.alloc_memory, h.used_memory, r_.memory_mib);
  dim(h.alloc_disk, h.used_disk, r_.instance_store_gb);
  return std::max<int64_t>(fits, 0);
}

Fail Planner::CapacityFail(const Host& h, int on_host) const {
  if (!h.up) return {RejectCode::kHostDown};
  if (!r_.region.empty() && h.region != r_.region) return {RejectCode::kRegion};
  const int64_t free_v = h.alloc_vcpus - h.used_vcpus - int64_t{on_host} * r_.vcpus;
  if (free_v < r_.vcpus) return {RejectCode::kVcpu, r_.vcpus, free_v};
  const int64_t free_m = h.alloc_memory - h.used_memory - on_host * r_.memory_mib;
  if (free_m < r_.memory_mib) return {RejectCode::kMemory, r_.memory_mib, free_m};
  const int64_t free_d = h.alloc_disk - h.used_disk - on_host * r_.instance_store_gb;
  if (free_d < r_.instance_store_gb) {
    return {RejectCode::kInstanceStore, r_.instance_store_gb, free_d};
  }
  return {};
}

namespace {

bool Less(const Key& a, const Key& b, const std::vector<Fleet::Host>& hosts) {
  if (b.host < 0) return a.host >= 0;
  if (a.host < 0) return false;
  if (a.k != b.k) return a.k < b.k;
  if (a.tie != b.tie) return a.tie < b.tie;
  return hosts[a.host].id < hosts[b.host].id;
}

int PartitionBit(int p) { return (p >= 1 && p <= kMaxPartitions) ? (1 << p) : 1; }

}  // namespace

AzPlan Planner::PlanAz(int az) const {
  const std::vector<int>& hs = f_.az_hosts_[az];
  const int n = static_cast<int>(hs.size());
  const int racks = static_cast<int>(f_.racks_.size());
  AzPlan plan;
  plan.az = az;
  plan.instances.assign(n, 0);
  plan.last.assign(n, Fail{});
  std::vector<int> req_on_rack(racks, 0);

  // The group's active members in this AZ, per rack and per host.
  const bool grouped = group_ != nullptr;
  std::vector<int> grp_on_rack(grouped ? racks : 0, 0);
  std::vector<int> grp_on_host(grouped ? n : 0, 0);
  std::vector<int> rack_mask(strategy_ == PlacementStrategy::kPartition ? racks : 0, 0);
  std::array<int, kMaxPartitions + 1> part_size{};  // active + stopped members per partition
  // Indexed decision: the racks of this AZ holding an active member of the group or an instance
  // of this request. Only their hosts (and the preferred host) can rank differently from what
  // their free memory and vCPU say, so they are evaluated one by one at every slot.
  std::vector<char> special(indexed_ ? racks : 0, 0);
  std::vector<int> special_racks;
  auto mark_special = [&](int rack) {
    if (indexed_ && rack >= 0 && f_.racks_[rack].az == az && !special[rack]) {
      special[rack] = 1;
      special_racks.push_back(rack);
    }
  };
  int az_active = 0;
  for (const Member& m : members_) {
    if (m.az != az) continue;
    if (m.partition >= 1 && m.partition <= kMaxPartitions) ++part_size[m.partition];
    if (!m.active) continue;
    ++az_active;
    if (m.rack >= 0) {
      mark_special(m.rack);
      ++grp_on_rack[m.rack];
      if (!rack_mask.empty()) rack_mask[m.rack] |= PartitionBit(m.partition);
    }
    if (m.host >= 0 && f_.hosts_[m.host].az == az) ++grp_on_host[f_.hosts_[m.host].az_slot];
  }

  // cluster: instances of the request that still fit per rack (maintained incrementally).
  // The indexed decision computes a rack's entry when it first needs it, from the plan's
  // current instances: the same number, as the incremental update keeps every host's share at
  // FitsOn(host, instances) while the host passes the capacity filters and 0 otherwise.
  std::vector<int64_t> rack_fit;
  std::vector<char> fit_known;
  const bool cluster = strategy_ == PlacementStrategy::kCluster && grouped;
  if (cluster) {
    rack_fit.assign(racks, 0);
    if (!indexed_) {
      for (int i = 0; i < n; ++i) {
        const Host& h = f_.hosts_[hs[i]];
        if (CapacityFail(h, 0).code == RejectCode::kNone) rack_fit[h.rack] += FitsOn(h, 0);
      }
    } else {
      fit_known.assign(racks, 0);
    }
  }
  auto ensure_fit = [&](int rack) {
    if (fit_known.empty() || fit_known[rack]) return;
    fit_known[rack] = 1;
    for (int index : f_.racks_[rack].hosts) {
      const Host& h = f_.hosts_[index];
      const int on_host = plan.instances[h.az_slot];
      if (CapacityFail(h, on_host).code == RejectCode::kNone) {
        rack_fit[rack] += FitsOn(h, on_host);
      }
    }
  };
  const int preferred_here =
      preferred_host_ >= 0 && f_.hosts_[preferred_host_].az == az ? preferred_host_ : -1;
  const bool need_last = explain_ || rejections_on_success_;

  const int pcount =
      (grouped && strategy_ == PlacementStrategy::kPartition) ? group_->partition_count : 0;
  for (int slot = 0; slot < r_.max_count; ++slot) {
    const int placed = static_cast<int>(plan.slots.size());
    const int remaining = r_.max_count - placed;
    // Partition order for this slot (auto): fewest members first, then the request's seed.
    std::array<int, kMaxPartitions> order{};
    int order_n = 0;
    if (pcount > 0) {
      if (target_partition_ > 0) {
        order[order_n++] = target_partition_;
      } else {
        for (int p = 1; p <= pcount; ++p) order[order_n++] = p;
        std::sort(order.begin(), order.begin() + order_n, [&](int a, int b) {
          if (part_size[a] != part_size[b]) return part_size[a] < part_size[b];
          const uint64_t ha = MixHash(seed_, static_cast<uint64_t>(a));
          const uint64_t hb = MixHash(seed_, static_cast<uint64_t>(b));
          return ha != hb ? ha < hb : a < b;
        });
      }
    }
    Key best;  // non-partition strategies, and partition: best on a free rack
    int best_part = 0;
    std::array<Key, kMaxPartitions + 1> best_owned{};  // partition: best on p's own racks

    auto evaluate = [&](int i) {
      const Host& h = f_.hosts_[hs[i]];
      Fail fail = CapacityFail(h, plan.instances[i]);
      bool owned = false;
      int owner = 0;
      if (fail.code == RejectCode::kNone && grouped) {
        switch (strategy_) {
          case PlacementStrategy::kSpread:
            if (az_active + placed >= kMaxSpreadInstancesPerAz) {
              fail = {RejectCode::kSpreadAzFull, 1, az_active + placed};
            } else if (group_->spread_level == SpreadLevel::kRack) {
              if (grp_on_rack[h.rack] + req_on_rack[h.rack] > 0) {
                fail = {RejectCode::kSpreadRackTaken};
              }
            } else if (grp_on_host[i] + plan.instances[i] > 0) {
              fail = {RejectCode::kSpreadHostTaken};
            }
            break;
          case PlacementStrategy::kPartition: {
            const int mask = rack_mask[h.rack];
            if (mask != 0) {
              // Owner: the single partition on the rack; 0 if the rack is (wrongly) shared or
              // holds a member with an out-of-range number — then nobody may add to it.
              for (int p = 1; p <= kMaxPartitions; ++p) {
                if (mask == (1 << p)) owner = p;
              }
              if (owner == 0 || owner > pcount ||
                  (target_partition_ > 0 && owner != target_partition_)) {
                fail = {RejectCode::kPartitionRackTaken, target_partition_, 0, owner};
              } else {
                owned = true;
              }
            }
            break;
          }
          case PlacementStrategy::kCluster:
            break;
        }
      }
      plan.last[i] = fail;
      if (fail.code != RejectCode::kNone) return;

      const int64_t free_m =
          h.alloc_memory - h.used_memory - (plan.instances[i] + 1) * r_.memory_mib;
      const int64_t free_v =
          h.alloc_vcpus - h.used_vcpus - int64_t{plan.instances[i] + 1} * r_.vcpus;
      Key key;
      key.host = hs[i];
      key.tie = MixHash(seed_, h.id_hash);
      const int64_t not_preferred = hs[i] == preferred_host_ ? 0 : 1;
      if (!grouped) {
        key.k = {not_preferred, req_on_rack[h.rack], plan.instances[i], -free_m, -free_v, 0};
      } else if (strategy_ == PlacementStrategy::kSpread) {
        key.k = {not_preferred, -free_m, -free_v, 0, 0, 0};
      } else if (strategy_ == PlacementStrategy::kCluster) {
        const bool rack_has = grp_on_rack[h.rack] + req_on_rack[h.rack] > 0;
        const bool host_has = grp_on_host[i] + plan.instances[i] > 0;
        key.k = {not_preferred,    rack_has ? 0 : 1, rack_fit[h.rack] >= remaining ? 0 : 1,
                 host_has ? 0 : 1, free_m,           free_v};
      } else {  // partition: own racks first (keeps free racks for other partitions)
        key.k = {not_preferred, owned ? 0 : 1, -free_m, -free_v, 0, 0};
      }
      if (pcount > 0 && owned) {
        if (Less(key, best_owned[owner], f_.hosts_)) best_owned[owner] = key;
      } else if (Less(key, best, f_.hosts_)) {
        best = key;
      }
    };

    // Every host's reason is wanted for the last slot evaluated: a failing slot always scans
    // the AZ, and so does the last slot of a success when rejections are wanted.
    bool scan = !indexed_ || (need_last && slot == r_.max_count - 1);
    if (!scan && strategy_ == PlacementStrategy::kSpread && grouped &&
        az_active + placed >= kMaxSpreadInstancesPerAz) {
      scan = true;  // every host fails; the scan names each reason
    }
    if (!scan) {
      auto evaluate_index = [&](int index) {
        if (cluster) ensure_fit(f_.hosts_[index].rack);
        evaluate(f_.hosts_[index].az_slot);
      };
      for (int rack : special_racks) {
        for (int index : f_.racks_[rack].hosts) evaluate_index(index);
      }
      if (preferred_here >= 0 && !special[f_.hosts_[preferred_here].rack]) {
        evaluate_index(preferred_here);
      }
      if (cluster) {
        // Any other host ranks as (not preferred, rack without the group, ...): it can only win
        // when no host evaluated so far is preferred or on a rack holding the group.
        if (best.host < 0 || (best.k[0] != 0 && best.k[1] != 0)) scan = true;
      } else {
        // Every other host is not preferred and on a rack holding neither the group nor this
        // request, so it passes the group rules and the first key fields are the same for all
        // of them; the rest is (-free memory after, -free vCPU after, tie hash), i.e. the
        // index order up to the tie hash. Walk the index from the most free memory and stop at
        // the first host below (free memory, free vCPU) of the first host that passes: the
        // hosts equal to it on both are all evaluated, the tie hash decides among them.
        bool found = false;
        Fleet::FreeKey first;
        for (const Fleet::FreeKey& e : f_.az_by_free_[az]) {
          if (e.neg_free_memory > -r_.memory_mib) break;  // this and all later fail memory
          if (found && (e.neg_free_memory != first.neg_free_memory ||
                        e.neg_free_vcpus != first.neg_free_vcpus)) {
            break;
          }
          const Host& h = f_.hosts_[e.host];
          if (special[h.rack] || e.host == preferred_here) continue;
          evaluate(h.az_slot);
          if (!found && plan.last[h.az_slot].code == RejectCode::kNone) {
            found = true;
            first = e;
          }
        }
        bool any = best.host >= 0;
        for (const Key& k : best_owned) any = any || k.host >= 0;
        if (!any) scan = true;  // the slot fails: name every host's reason
      }
      if (scan) {
        best = Key{};
        best_owned.fill(Key{});
      }
    }
    if (scan) {
      for (int r = 0; r < static_cast<int>(fit_known.size()); ++r) {
        if (f_.racks_[r].az == az) ensure_fit(r);
      }
      for (int i = 0; i < n; ++i) evaluate(i);
    }

    if (pcount > 0) {
      // First partition (in order) that can take the instance: its own best, or a free rack.
      Key chosen;
      for (int k = 0; k < order_n; ++k) {
        const int p = order[k];
        Key c = best_owned[p];
        if (Less(best, c, f_.hosts_)) c = best;
        if (c.host >= 0) {
          chosen = c;
          best_part = p;
          break;
        }
      }
      best = chosen;
    }
    if (best.host < 0) break;

    const Host& h = f_.hosts_[best.host];
    const int i = h.az_slot;
    Slot s;
    s.host = best.host;
    s.partition = best_part;
    if (explain_) {
      const std::string& rack = f_.racks_[h.rack].name;
      std::string why;
      if (best.k[0] == 0) why = "preferred host (where it last ran); ";
      if (!grouped) {
        absl::StrAppend(&why, "rack ", rack, " had ", req_on_rack[h.rack], " and the host ",
                        plan.instances[i], " instance(s) of this request; ", -best.k[3], " MiB, ",
                        -best.k[4], " vCPU free after");
      } else if (strategy_ == PlacementStrategy::kSpread) {
        absl::StrAppend(&why, group_->spread_level == SpreadLevel::kRack ? "rack " : "host ",
                        group_->spread_level == SpreadLevel::kRack ? rack : h.id,
                        " holds no other instance of spread group ", GroupName(), " (",
                        az_active + placed + 1, " of ", kMaxSpreadInstancesPerAz, " in ",
                        f_.azs_[az], "); ", -best.k[1], " MiB free after");
      } else if (strategy_ == PlacementStrategy::kCluster) {
        absl::StrAppend(&why, best.k[1] == 0 ? "rack " : "new rack ", rack,
                        best.k[1] == 0 ? " already holds the group" : "",
                        best.k[2] == 0 ? absl::StrCat("; rack fits the remaining ", remaining)
                                       : absl::StrCat("; rack fits only ", rack_fit[h.rack]),
                        best.k[3] == 0 ? "; host already holds the group" : "",
                        "; best fit: ", best.k[4], " MiB free after");
      } else {
        absl::StrAppend(&why, "partition ", best_part,
                        target_partition_ > 0
                            ? " (requested)"
                            : absl::StrCat(" (", part_size[best_part], " member(s), fewest first)"),
                        best.k[1] == 0 ? "; rack " : "; free rack ", rack,
                        best.k[1] == 0 ? " already belongs to it" : " now belongs to it", "; ",
                        -best.k[2], " MiB free after");
      }
      s.why = std::move(why);
    }
    // Apply the slot to the plan's tentative state.
    if (!rack_fit.empty()) rack_fit[h.rack] -= FitsOn(h, plan.instances[i]);
    ++plan.instances[i];
    ++req_on_rack[h.rack];
    mark_special(h.rack);
    if (!rack_fit.empty() && CapacityFail(h, plan.instances[i]).code == RejectCode::kNone) {
      rack_fit[h.rack] += FitsOn(h, plan.instances[i]);
    }
    if (pcount > 0) {
      rack_mask[h.rack] |= PartitionBit(best_part);
      ++part_size[best_part];
    }
    plan.slots.push_back(std::move(s));
  }
  return plan;
}

std::string Planner::ReasonText(const Host& h, const Fail& f) const {
  const std::string& az = h.az >= 0 ? f_.azs_[h.az] : h.region;
  switch (f.code) {
    case RejectCode::kNone:
      return "";
    case RejectCode::kHostDown:
      return "host is unreachable";
    case RejectCode::kRegion:
      return absl::StrCat("in region ", h.region, ", not ", r_.region);
    case RejectCode::kAvailabilityZone:
      return absl::StrCat("in ", az, ", not ", target_az_);
    case RejectCode::kClusterAz:
      return absl::StrCat("in ", az, "; cluster group ", GroupName(), " is locked to ", target_az_);
    case RejectCode::kVcpu:
      return absl::StrCat("needs ", f.need, " vCPU, ", f.have, " free");
    case RejectCode::kMemory:
      return absl::StrCat("needs ", f.need, " MiB, ", f.have, " MiB free");
    case RejectCode::kInstanceStore:
      return absl::StrCat("needs ", f.need, " GB instance store, ", f.have, " GB free");
    case RejectCode::kSpreadAzFull:
      return absl::StrCat("spread group ", GroupName(), " already has ", f.have,
                          " active instances in ", az, " (at most ", kMaxSpreadInstancesPerAz,
                          " per AZ)");
    case RejectCode::kSpreadRackTaken:
      return absl::StrCat("rack ", f_.racks_[h.rack].name,
                          " already holds an instance of spread group ", GroupName());
    case RejectCode::kSpreadHostTaken:
      return absl::StrCat("host already holds an instance of spread group ", GroupName());
    case RejectCode::kPartitionRackTaken:
      if (f.other == 0) {
        return absl::StrCat("rack ", f_.racks_[h.rack].name, " holds instances of several ",
                            "partitions of ", GroupName(), "; it takes no more");
      }
      return absl::StrCat("rack ", f_.racks_[h.rack].name, " belongs to partition ", f.other,
                          " of ", GroupName(),
                          f.need > 0 ? absl::StrCat(", not ", f.need) : std::string());
  }
  return "";
}

void Planner::Decide(PlacementExplanation& out) {
  out.status = Validate();
  if (!out.status.ok()) return;
  seed_ = Fnv1a64(r_.request_id);
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
  target_partition_ = r_.partition_number;
  if (target_partition_ == 0 && restarting != nullptr) {
    target_partition_ = restarting->partition_number;
  }
  std::string preferred = r_.preferred_host_id;
  if (preferred.empty() && restarting != nullptr) preferred = restarting->host_id;
  if (auto it = f_.host_index_.find(preferred); !preferred.empty() && it != f_.host_index_.end()) {
    preferred_host_ = it->second;
  }
  if (target_partition_ != 0) {
    if (group_ == nullptr || strategy_ != PlacementStrategy::kPartition) {
      out.status = absl::InvalidArgumentError(
          "a partition number is only valid with a partition placement group");
      return;
    }
    if (target_partition_ < 1 || target_partition_ > group_->partition_count) {
      out.status = absl::InvalidArgumentError(absl::StrCat(
          "partition number ", target_partition_, " is out of range for placement group '",
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

  // Candidate AZs.
  std::vector<int> candidates;
  if (!target_az_.empty()) {
    if (auto it = f_.az_index_.find(target_az_); it != f_.az_index_.end()) {
      candidates.push_back(it->second);
    }
  } else {
    for (int a = 0; a < static_cast<int>(f_.azs_.size()); ++a) candidates.push_back(a);
    std::vector<uint64_t> h(f_.azs_.size());
    for (int a : candidates) h[a] = MixHash(seed_, Fnv1a64(f_.azs_[a]));
    std::sort(candidates.begin(), candidates.end(),
              [&](int a, int b) { return h[a] != h[b] ? h[a] < h[b] : f_.azs_[a] < f_.azs_[b]; });
  }
  std::vector<AzPlan> plans;
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
  std::vector<std::vector<std::string>> why_by_host(explain_ ? f_.hosts_.size() : 0);
  if (ok && explain_) {
    int k = 0;
    for (const Slot& s : plans[best].slots) {
      const Host& h = f_.hosts_[s.host];
      out.notes.push_back(
          absl::StrCat("instance ", ++k, " -> ", h.id, " (", chosen_az, "/", f_.racks_[h.rack].name,
                       s.partition > 0 ? absl::StrCat(", partition ", s.partition) : std::string(),
                       "): ", s.why));
      why_by_host[s.host].push_back(absl::StrCat("instance ", k, ": ", s.why));
    }
  }
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
    out.notes.insert(out.notes.begin(), az_note);
  }

  // Every host in id order: verdicts (explain only) and rejections.
  struct Rejected {
    int host;
    Fail fail;
  };
  std::vector<Rejected> rejected;
  for (int idx : f_.by_id_) {
    const Host& h = f_.hosts_[idx];
    const int pi = planned_az[h.az];
    Fail fail;
    HostVerdict v;
    if (pi >= 0) {
      const AzPlan& p = plans[pi];
      if (ok && pi == best && p.instances[h.az_slot] > 0) {
        v.verdict = Verdict::kChosen;
        v.instances = p.instances[h.az_slot];
        if (explain_) v.reason = absl::StrJoin(why_by_host[idx], "; ");
      } else {
        fail = p.last[h.az_slot];
        if (fail.code == RejectCode::kNone && explain_) {
          v.reason = ok && pi != best ? absl::StrCat("request placed in ", chosen_az)
                                      : "passes every filter; ranked below the chosen host(s)";
        }
      }
    } else if (!h.up) {
      fail = {RejectCode::kHostDown};
    } else if (!r_.region.empty() && h.region != r_.region) {
      fail = {RejectCode::kRegion};
    } else if (!target_az_.empty()) {
      fail = {target_is_lock_ ? RejectCode::kClusterAz : RejectCode::kAvailabilityZone};
    } else if (explain_) {
      v.reason = absl::StrCat("request placed in ", chosen_az);  // AZ not tried: one sufficed
    }
    if (fail.code != RejectCode::kNone) rejected.push_back({idx, fail});
    if (explain_) {
      v.host_id = h.id;
      if (fail.code != RejectCode::kNone) {
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
      std::map<std::string, int> rest;
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
