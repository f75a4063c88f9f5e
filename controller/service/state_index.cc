#include "controller/service/state_index.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "controller/service/cloud_state.h"
#include "controller/service/instance_common.h"
#include "controller/service/instance_state.h"
#include "controller/service/instance_types.h"

namespace minicloud::controller {
namespace {

bool Terminated(const v1::InstanceRecord& r) {
  return r.state() == v1::INSTANCE_STATE_CODE_TERMINATED;
}

// The address an instance holds in its subnet, or none.
std::optional<std::pair<std::string, uint32_t>> HeldAddress(const v1::InstanceRecord& r) {
  if (Terminated(r)) return std::nullopt;
  auto a = network::Ipv4Address::Parse(r.network().private_ip());
  if (!a.ok()) return std::nullopt;  // no address (yet): holds none
  return std::make_pair(r.network().subnet_id(), a->value);
}

}  // namespace

StateIndex::StateIndex(const ControllerConfig& config) : config_(config) {}
StateIndex::~StateIndex() = default;

bool StateIndex::HostUp(const HostEntry& h, absl::Time now) const {
  return now - h.last_report <= config_.host_timeout;  // HostUpLocked's rule
}

void StateIndex::Unlist(const std::string& id, const HostEntry& h) {
  (h.listed_up ? up_by_report_ : down_by_report_).erase({h.last_report, id});
}

void StateIndex::List(const std::string& id, HostEntry& h, bool up) {
  h.listed_up = up;
  (up ? up_by_report_ : down_by_report_).insert({h.last_report, id});
}

void StateIndex::ApplyHost(const std::string& id, const v1::HostRecord* before,
                           const v1::HostRecord* after) {
  HostEntry& h = hosts_[id];
  if (after == nullptr) {  // hosts are not deleted today; handled for completeness
    if (h.registered) Unlist(id, h);
    h.registered = false;
    fleet_.reset();
    return;
  }
  const v1::Capacity alloc = AllocatableCapacity(after->capacity(), config_);
  const auto& t = after->topology();
  const bool same = h.registered && before != nullptr && h.region == t.region() &&
                    h.availability_zone == t.availability_zone() && h.rack == t.rack() &&
                    h.alloc_vcpus == alloc.vcpus() && h.alloc_memory == alloc.memory_mib() &&
                    h.alloc_disk == alloc.instance_store_gb();
  if (same) return;  // endpoint, hostname, accelerator: not what placement looks at
  if (!h.registered) List(id, h, /*up=*/false);  // FleetAt moves it up when it reported
  h.registered = true;
  h.region = t.region();
  h.availability_zone = t.availability_zone();
  h.rack = t.rack();
  h.alloc_vcpus = alloc.vcpus();
  h.alloc_memory = alloc.memory_mib();
  h.alloc_disk = alloc.instance_store_gb();
  fleet_.reset();  // a new host or a new shape: rebuild the fleet (in host id order) once
}

void StateIndex::SetLastReport(const std::string& host_id, absl::Time at) {
  HostEntry& h = hosts_[host_id];
  if (h.registered) Unlist(host_id, h);
  h.last_report = at;
  if (h.registered) List(host_id, h, h.listed_up);  // FleetAt moves it if its state changed
}

void StateIndex::Occupy(const v1::InstanceRecord& r, int sign) {
  const auto type = FindInstanceType(r.instance_type());
  const int64_t disk = type ? InstanceStoreGb(*type) : 0;
  HostEntry& h = hosts_[r.host_id()];
  h.used_vcpus += sign * static_cast<int64_t>(r.vcpus());
  h.used_memory += sign * r.memory_mib();
  h.used_disk += sign * disk;
  h.occupying += sign;
  if (fleet_ != nullptr && h.registered) {
    // The fleet holds every registered host; failing here is our own broken invariant.
    const absl::Status s =
        fleet_->Adjust(r.host_id(), sign * r.vcpus(), sign * r.memory_mib(), sign * disk);
    if (!s.ok()) fleet_.reset();
  }
}

void StateIndex::ApplyInstance(const std::string& id, const v1::InstanceRecord* before,
                               const v1::InstanceRecord* after) {
  // Capacity.
  if (before != nullptr && HoldsCapacity(before->state())) Occupy(*before, -1);
  if (after != nullptr && HoldsCapacity(after->state())) Occupy(*after, +1);

  // Placement group members (in instance id order).
  auto by_id = [](const scheduler::GroupMember& m, const std::string& key) {
    return m.instance_id < key;
  };
  if (before != nullptr && !before->placement_group().empty() && !Terminated(*before)) {
    if (auto g = groups_.find(before->placement_group()); g != groups_.end()) {
      const auto& members = g->second->members;
      auto at = std::lower_bound(members.begin(), members.end(), id, by_id);
      if (at != members.end() && at->instance_id == id) {
        std::vector<scheduler::GroupMember>& writable = WritableGroup(g->first).members;
        writable.erase(writable.begin() + (at - members.begin()));
        if (writable.empty()) groups_.erase(before->placement_group());
      }
    }
  }
  if (after != nullptr && !after->placement_group().empty() && !Terminated(*after)) {
    scheduler::GroupMember m;
    m.instance_id = id;
    m.host_id = after->host_id();
    m.availability_zone = after->topology().availability_zone();
    m.rack = after->topology().rack();
    m.partition_number = after->partition_number();
    m.active = HoldsCapacity(after->state());
    std::vector<scheduler::GroupMember>& members = WritableGroup(after->placement_group()).members;
    auto at = std::lower_bound(members.begin(), members.end(), id, by_id);
    if (at != members.end() && at->instance_id == id) {
      *at = std::move(m);
    } else {
      members.insert(at, std::move(m));
    }
  }

  // Addresses.
  if (before != nullptr) {
    if (auto held = HeldAddress(*before)) {
      auto s = subnets_.find(held->first);
      if (s != subnets_.end()) {
        s->second.Remove(held->second);
        if (s->second.used.empty()) subnets_.erase(s);
      }
    }
  }
  if (after != nullptr) {
    if (auto held = HeldAddress(*after)) subnets_[held->first].Add(held->second);
  }

  // Records per host.
  if (before != nullptr) {
    auto on = host_instances_.find(before->host_id());
    if (on != host_instances_.end()) {
      on->second.erase(id);
      if (on->second.empty()) host_instances_.erase(on);
    }
  }
  if (after != nullptr) host_instances_[after->host_id()].insert(id);
}

scheduler::HostSnapshot StateIndex::SnapshotOf(const std::string& id, const HostEntry& h,
                                               absl::Time now) const {
  scheduler::HostSnapshot s;
  s.host_id = id;
  s.region = h.region;
  s.availability_zone = h.availability_zone;
  s.rack = h.rack;
  s.up = HostUp(h, now);
  s.allocatable_vcpus = static_cast<int>(h.alloc_vcpus);
  s.allocatable_memory_mib = h.alloc_memory;
  s.instance_store_gb = h.alloc_disk;
  s.used_vcpus = static_cast<int>(h.used_vcpus);
  s.used_memory_mib = h.used_memory;
  s.used_instance_store_gb = h.used_disk;
  return s;
}

std::vector<scheduler::HostSnapshot> StateIndex::Snapshot(absl::Time now) const {
  std::vector<scheduler::HostSnapshot> out;
  for (const auto& [id, h] : hosts_) {
    if (h.registered) out.push_back(SnapshotOf(id, h, now));
  }
  // In host id order, as SnapshotLocked listed the records (hosts_ is hashed).
  std::sort(out.begin(), out.end(),
            [](const scheduler::HostSnapshot& a, const scheduler::HostSnapshot& b) {
              return a.host_id < b.host_id;
            });
  return out;
}

scheduler::Fleet& StateIndex::FleetAt(absl::Time now) {
  if (fleet_ == nullptr) {
    fleet_ = std::make_unique<scheduler::Fleet>(Snapshot(now));
    up_by_report_.clear();
    down_by_report_.clear();
    for (auto& [id, h] : hosts_) {
      if (h.registered) List(id, h, HostUp(h, now));
    }
    return *fleet_;
  }
  // Up exactly when last_report >= now - host_timeout: move the hosts that crossed the line.
  const absl::Time cutoff = now - config_.host_timeout;
  while (!up_by_report_.empty() && up_by_report_.begin()->first < cutoff) {
    auto node = up_by_report_.extract(up_by_report_.begin());
    hosts_[node.value().second].listed_up = false;
    (void)fleet_->SetUp(node.value().second, false);
    down_by_report_.insert(std::move(node));
  }
  while (!down_by_report_.empty() && std::prev(down_by_report_.end())->first >= cutoff) {
    auto node = down_by_report_.extract(std::prev(down_by_report_.end()));
    hosts_[node.value().second].listed_up = true;
    (void)fleet_->SetUp(node.value().second, true);
    up_by_report_.insert(std::move(node));
  }
  return *fleet_;
}

const std::vector<scheduler::GroupMember>& StateIndex::GroupMembers(
    const std::string& group) const {
  static const std::vector<scheduler::GroupMember> kNone;
  auto it = groups_.find(group);
  return it == groups_.end() ? kNone : it->second->members;
}

scheduler::PlacementGroup& StateIndex::WritableGroup(const std::string& name) {
  std::shared_ptr<scheduler::PlacementGroup>& g = groups_[name];
  if (g == nullptr) {
    g = std::make_shared<scheduler::PlacementGroup>();
    g->name = name;
  } else if (g.use_count() > 1) {
    g = std::make_shared<scheduler::PlacementGroup>(*g);  // the holder keeps the old view
  }
  return *g;
}

std::shared_ptr<const scheduler::PlacementGroup> StateIndex::SchedulerGroup(
    const scheduler::PlacementGroup& shape) {
  auto same_shape = [&](const scheduler::PlacementGroup& g) {
    return g.name == shape.name && g.strategy == shape.strategy &&
           g.spread_level == shape.spread_level && g.partition_count == shape.partition_count &&
           g.locked_az == shape.locked_az;
  };
  auto it = groups_.find(shape.name);
  if (it == groups_.end()) {
    // No members: a view of its own (not kept; the first member makes the kept one).
    auto g = std::make_shared<scheduler::PlacementGroup>(shape);
    g->members.clear();
    return g;
  }
  std::shared_ptr<scheduler::PlacementGroup>& g = it->second;
  if (!same_shape(*g)) {
    if (g.use_count() > 1) g = std::make_shared<scheduler::PlacementGroup>(*g);
    g->strategy = shape.strategy;
    g->spread_level = shape.spread_level;
    g->partition_count = shape.partition_count;
    g->locked_az = shape.locked_az;
  }
  return g;
}

void StateIndex::SubnetAddresses::Add(uint32_t a) {
  if (used[a]++ > 0) return;
  run_ends.erase(a);
  if (a != UINT32_MAX && !Used(a + 1)) run_ends.insert(a + 1);
}

void StateIndex::SubnetAddresses::Remove(uint32_t a) {
  auto it = used.find(a);
  if (it == used.end() || --it->second > 0) return;
  used.erase(it);
  if (a != UINT32_MAX) run_ends.erase(a + 1);  // it ended a run only because `a` was used
  if (a != 0 && Used(a - 1)) run_ends.insert(a);
}

uint64_t StateIndex::SubnetAddresses::FirstFreeFrom(uint32_t a) const {
  if (!Used(a)) return a;
  auto it = run_ends.lower_bound(a);
  return it == run_ends.end() ? uint64_t{1} << 32 : *it;
}

absl::StatusOr<network::Ipv4Address> StateIndex::FirstFreeAddress(const std::string& subnet_id,
                                                                  const network::SubnetPlan& plan,
                                                                  uint32_t from) const {
  static const SubnetAddresses kEmpty;
  auto s = subnets_.find(subnet_id);
  const SubnetAddresses& used = s == subnets_.end() ? kEmpty : s->second;
  const uint64_t v = from > plan.last_instance.value
                         ? uint64_t{from}
                         : used.FirstFreeFrom(std::max(from, plan.first_instance.value));
  if (v > plan.last_instance.value) {
    return absl::ResourceExhaustedError(
        absl::StrCat("subnet ", plan.subnet.ToString(), " has no free instance address"));
  }
  return network::Ipv4Address{static_cast<uint32_t>(v)};
}

const StateIndex::InstanceIds& StateIndex::InstancesOn(const std::string& host_id) const {
  static const InstanceIds kNone;
  auto it = host_instances_.find(host_id);
  return it == host_instances_.end() ? kNone : it->second;
}

int StateIndex::OccupyingCount(const std::string& host_id) const {
  auto it = hosts_.find(host_id);
  return it == hosts_.end() ? 0 : it->second.occupying;
}

}  // namespace minicloud::controller
