#include "controller/service/cloud_state.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <type_traits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "controller/service/instance_network.h"
#include "controller/service/record_migration.h"

namespace minicloud::controller {
namespace {

template <typename Record, typename Add>
absl::Status LoadRows(Store& store, Table table, Add add) {
  MC_ASSIGN_OR_RETURN(auto rows, store.Scan(table));
  for (auto& [key, value] : rows) {
    Record r;
    if (!r.ParseFromString(value)) {
      // A record we cannot parse is our own broken invariant: refuse to run on it.
      return absl::DataLossError(
          absl::StrCat("store record ", TableName(table), "/", key, " does not parse"));
    }
    MC_RETURN_IF_ERROR(Annotate(MigrateRecord(value, r),
                                absl::StrCat("migrate store record ", TableName(table), "/", key)));
    add(std::move(key), std::move(r));
  }
  return absl::OkStatus();
}

template <typename Record>
absl::Status LoadTable(Store& store, Table table, std::map<std::string, Record>& out) {
  return LoadRows<Record>(store, table,
                          [&](std::string key, Record r) { out.emplace(key, std::move(r)); });
}

template <typename Record>
absl::Status LoadTable(Store& store, Table table, RecordTable<Record>& out) {
  return LoadRows<Record>(
      store, table, [&](std::string key, Record r) { out.Put(std::move(key), std::move(r)); });
}

}  // namespace

std::string StackEventKey(absl::string_view stack_id, uint64_t sequence) {
  return absl::StrCat(stack_id, "#", absl::Hex(~uint64_t{0} - sequence, absl::kZeroPad16));
}
std::string StackEventsBegin(absl::string_view stack_id) { return absl::StrCat(stack_id, "#"); }
std::string StackEventsEnd(absl::string_view stack_id) { return absl::StrCat(stack_id, "$"); }

absl::Status CloudState::MoveEmbeddedStackEvents() {
  for (auto& [id, r] : stacks_) {
    std::vector<v1::StackEventRecord> events = TakeEmbeddedStackEvents(r);
    if (events.empty()) continue;
    // One atomic batch: a crash leaves the record with its events, migrated again next load.
    WriteBatch batch;
    uint64_t seq = r.event_sequence() - events.size();
    for (const auto& e : events) {
      batch.Put(Table::kStackEvents, StackEventKey(id, ++seq), e.SerializeAsString());
    }
    batch.Put(Table::kStacks, id, r.SerializeAsString());
    MC_RETURN_IF_ERROR(
        Annotate(store_.Commit(batch), absl::StrCat("migrate the events of stack ", id)));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::pair<std::string, v1::StackEventRecord>>>
CloudState::StackEventsLocked(const std::string& stack_id, const std::string& after_key,
                              size_t limit) {
  const std::string begin = StackEventsBegin(stack_id);
  MC_ASSIGN_OR_RETURN(auto rows,
                      store_.ScanRange(Table::kStackEvents, after_key.empty() ? begin : after_key,
                                       StackEventsEnd(stack_id), limit));
  std::vector<std::pair<std::string, v1::StackEventRecord>> out;
  for (auto& [key, value] : rows) {
    v1::StackEventRecord e;
    if (!e.ParseFromString(value)) {
      return absl::DataLossError(
          absl::StrCat("store record stack_events/", key, " does not parse"));
    }
    out.emplace_back(std::move(key), std::move(e));
  }
  return out;
}

v1::Capacity AllocatableCapacity(const v1::Capacity& physical, const ControllerConfig& config) {
  // Registration refuses capacities whose products do not fit; the clamps only keep a record
  // written before that check from overflowing the conversions.
  v1::Capacity a;
  a.set_vcpus(static_cast<int32_t>(std::clamp(physical.vcpus() * config.cpu_allocation_ratio, 0.0,
                                              double(std::numeric_limits<int32_t>::max()))));
  a.set_memory_mib(static_cast<int64_t>(std::clamp(
      (physical.memory_mib() - config.reserved_host_memory_mib) * config.memory_allocation_ratio,
      0.0, double(int64_t{1} << 62))));
  a.set_instance_store_gb(physical.instance_store_gb());
  return a;
}

absl::Status CloudState::Load(absl::Time now) {
  std::lock_guard<std::mutex> lock(mu_);
  MC_RETURN_IF_ERROR(LoadTable(store_, Table::kInstances, instances_));
  MC_RETURN_IF_ERROR(LoadTable(store_, Table::kImages, images_));
  MC_RETURN_IF_ERROR(LoadTable(store_, Table::kHosts, hosts_));
  MC_RETURN_IF_ERROR(LoadTable(store_, Table::kClientTokens, client_tokens_));
  MC_RETURN_IF_ERROR(LoadTable(store_, Table::kKeyPairs, key_pairs_));
  MC_RETURN_IF_ERROR(LoadTable(store_, Table::kSubnets, subnets_));
  MC_RETURN_IF_ERROR(LoadTable(store_, Table::kPlacementGroups, placement_groups_));
  MC_RETURN_IF_ERROR(LoadTable(store_, Table::kInstanceProfiles, instance_profiles_));
  MC_RETURN_IF_ERROR(LoadTable(store_, Table::kVolumes, volumes_));
  MC_RETURN_IF_ERROR(LoadTable(store_, Table::kSnapshots, snapshots_));
  MC_RETURN_IF_ERROR(LoadTable(store_, Table::kStacks, stacks_));
  MC_RETURN_IF_ERROR(MoveEmbeddedStackEvents());
  for (const auto& [id, unused] : instances_) {
    MC_RETURN_IF_ERROR(Annotate(MigrateDerivedNetwork(subnets_, *instances_.Find(id)),
                                absl::StrCat("migrate store record instances/", id)));
  }
  for (const auto& [id, host] : hosts_) host_by_id_[id] = &host;
  for (const auto& [name, g] : placement_groups_) group_by_name_[name] = &g;
  for (const auto& [id, host] : hosts_) index_.ApplyHost(id, nullptr, &host);
  for (const auto& [id, r] : instances_) index_.ApplyInstance(id, nullptr, &r);
  // Generations restart from the clock so an agent holding an older number sees a change.
  generation_base_ = static_cast<uint64_t>(absl::ToUnixMillis(now)) << 16;
  for (const auto& [id, host] : hosts_) {
    // A restarted controller gives every known host a full liveness window to report again.
    host_runtime_[id] = HostRuntime{now, generation_base_};
    index_.SetLastReport(id, now);
  }
  return absl::OkStatus();
}

uint64_t CloudState::StageLocked(const Changes& c) { return StageImpl(c, nullptr); }

uint64_t CloudState::StageLocked(Changes&& c, std::vector<const v1::InstanceRecord*>* staged) {
  return StageImpl(c, staged);  // c is an lvalue here: StageImpl moves only from a non-const one
}

template <typename ChangesRef>
uint64_t CloudState::StageImpl(ChangesRef&& c, std::vector<const v1::InstanceRecord*>* staged) {
  // A non-const Changes gives its instance records up to the mirror (moved, not copied).
  constexpr bool kMove = !std::is_const_v<std::remove_reference_t<ChangesRef>>;
  if (staged != nullptr) staged->reserve(staged->size() + c.instances.size());
  WriteBatch batch;
  for (const auto& [k, v] : c.subnets) subnets_[k] = v;  // before the instances that use them
  // The indexes see every instance change here, before the mirror takes it (old and new value);
  // the stored bytes are made from the mirror's copy, without the derived network fields.
  for (auto& [k, v] : c.instances) {
    // One hash probe of the (large) instance table; a new id also goes into its order.
    v1::InstanceRecord* present = instances_.Find(k);
    index_.ApplyInstance(k, present, &v);
    v1::InstanceRecord* r = present;
    if constexpr (kMove) {
      if (present) {
        *present = std::move(v);
      } else {
        r = &instances_.Insert(k, std::move(v));
      }
    } else {
      if (present) {
        *present = v;
      } else {
        r = &instances_.Insert(k, v);
      }
    }
    if (staged != nullptr) staged->push_back(r);
    if (c.instances_network_derived) {
      batch.Put(Table::kInstances, k, StoredDerivedInstanceBytes(*r));
      continue;
    }
    auto subnet = subnets_.find(r->topology().availability_zone());
    batch.Put(Table::kInstances, k,
              StoredInstanceBytes(subnet == subnets_.end() ? nullptr : &subnet->second, *r));
  }
  for (const auto& [k, v] : c.images) batch.Put(Table::kImages, k, v.SerializeAsString());
  for (const auto& [k, v] : c.hosts) batch.Put(Table::kHosts, k, v.SerializeAsString());
  for (const auto& [k, v] : c.client_tokens) {
    batch.Put(Table::kClientTokens, k, v.SerializeAsString());
  }
  for (const auto& [k, v] : c.key_pairs) batch.Put(Table::kKeyPairs, k, v.SerializeAsString());
  for (const auto& [k, v] : c.subnets) batch.Put(Table::kSubnets, k, v.SerializeAsString());
  for (const auto& [k, v] : c.placement_groups) {
    batch.Put(Table::kPlacementGroups, k, v.SerializeAsString());
  }
  for (const auto& k : c.deleted_placement_groups) batch.Delete(Table::kPlacementGroups, k);
  for (const auto& k : c.deleted_instances) batch.Delete(Table::kInstances, k);
  for (const auto& k : c.deleted_key_pairs) batch.Delete(Table::kKeyPairs, k);
  for (const auto& k : c.deleted_images) batch.Delete(Table::kImages, k);
  for (const auto& [k, v] : c.instance_profiles) {
    batch.Put(Table::kInstanceProfiles, k, v.SerializeAsString());
  }
  for (const auto& k : c.deleted_instance_profiles) batch.Delete(Table::kInstanceProfiles, k);
  for (const auto& [k, v] : c.volumes) batch.Put(Table::kVolumes, k, v.SerializeAsString());
  for (const auto& k : c.deleted_volumes) batch.Delete(Table::kVolumes, k);
  for (const auto& [k, v] : c.snapshots) batch.Put(Table::kSnapshots, k, v.SerializeAsString());
  for (const auto& k : c.deleted_snapshots) batch.Delete(Table::kSnapshots, k);
  for (const auto& [k, v] : c.stacks) batch.Put(Table::kStacks, k, v.SerializeAsString());
  for (const auto& k : c.deleted_stacks) batch.Delete(Table::kStacks, k);
  for (const auto& [k, v] : c.stack_events) {
    batch.Put(Table::kStackEvents, k, v.SerializeAsString());
  }
  for (const auto& k : c.deleted_stack_events) batch.Delete(Table::kStackEvents, k);
  if (batch.empty()) return 0;  // ticket 0 is always durable
  // Queued while mu() is held, so the store sees changes in the order the mirror did.
  const uint64_t ticket = committer_.Enqueue(std::move(batch));

  for (const auto& [k, v] : c.images) images_[k] = v;
  // The indexes see every host change here, before the mirror takes it (old and new value).
  for (const auto& [k, v] : c.hosts) {
    auto it = hosts_.find(k);
    index_.ApplyHost(k, it == hosts_.end() ? nullptr : &it->second, &v);
    if (it == hosts_.end()) {
      host_by_id_[k] = &hosts_.emplace(k, v).first->second;
    } else {
      it->second = v;
    }
  }
  for (const auto& [k, v] : c.client_tokens) client_tokens_[k] = v;
  for (const auto& [k, v] : c.key_pairs) key_pairs_[k] = v;
  for (const auto& [k, v] : c.placement_groups) {
    v1::PlacementGroupRecord& g = placement_groups_[k];
    g = v;
    group_by_name_[k] = &g;
  }
  for (const auto& k : c.deleted_placement_groups) {
    placement_groups_.erase(k);
    group_by_name_.erase(k);
  }
  for (const auto& k : c.deleted_instances) {
    const v1::InstanceRecord* r = instances_.Find(k);
    if (r == nullptr) continue;
    index_.ApplyInstance(k, r, nullptr);
    instances_.Erase(k);
  }
  for (const auto& k : c.deleted_key_pairs) key_pairs_.erase(k);
  for (const auto& k : c.deleted_images) images_.erase(k);
  for (const auto& [k, v] : c.instance_profiles) instance_profiles_[k] = v;
  for (const auto& k : c.deleted_instance_profiles) instance_profiles_.erase(k);
  for (const auto& [k, v] : c.volumes) volumes_[k] = v;
  for (const auto& k : c.deleted_volumes) volumes_.erase(k);
  for (const auto& [k, v] : c.snapshots) snapshots_[k] = v;
  for (const auto& k : c.deleted_snapshots) snapshots_.erase(k);
  for (const auto& [k, v] : c.stacks) stacks_[k] = v;
  for (const auto& k : c.deleted_stacks) stacks_.erase(k);
  return ticket;
}

[[noreturn]] void FatalStoreWriteFailure(const absl::Status& status) {
  // The mirror holds changes the disk refused; serving on would answer from a state that a
  // restart would not find. Stop; the restart reloads the store (the source of truth).
  spdlog::critical("durable write to the controller store failed, stopping: {}", status.ToString());
  spdlog::shutdown();
  std::abort();
}

void CloudState::WaitDurable(uint64_t ticket) {
  absl::Status s = committer_.Wait(ticket);
  if (!s.ok()) FatalStoreWriteFailure(s);
}

absl::Status CloudState::CommitLocked(const Changes& c) {
  WaitDurable(StageLocked(c));
  return absl::OkStatus();
}

void CloudState::CommitPipelined(std::unique_lock<std::mutex>& lock, const Changes& changes,
                                 const std::set<std::string>& hosts) {
  const uint64_t ticket = StageLocked(changes);
  for (const auto& h : hosts) host_staged_ticket_[h] = ticket;
  FinishPipelined(lock, ticket, !hosts.empty());
}

uint64_t CloudState::StagePipelinedLocked(Changes&& changes, const std::set<std::string>& hosts,
                                          std::vector<const v1::InstanceRecord*>* staged) {
  const uint64_t ticket = StageLocked(std::move(changes), staged);
  for (const auto& h : hosts) host_staged_ticket_[h] = ticket;
  return ticket;
}

void CloudState::FinishPipelined(std::unique_lock<std::mutex>& lock, uint64_t ticket,
                                 bool any_hosts) {
  lock.unlock();
  WaitDurable(ticket);
  if (!any_hosts || generations_bumped_through_.load(std::memory_order_acquire) >= ticket) {
    return;  // another call of the same synced write bumped this call's hosts already
  }
  lock.lock();
  // Calls of the same synced write queue here together: the first bumps for all of them.
  if (generations_bumped_through_.load(std::memory_order_relaxed) < ticket) {
    BumpDurableHostsLocked();
  }
  lock.unlock();
}

void CloudState::BumpDurableHostsLocked() {
  const uint64_t durable = committer_.durable();
  bool bumped = false;
  for (auto it = host_staged_ticket_.begin(); it != host_staged_ticket_.end();) {
    if (it->second > durable) {
      ++it;  // staged again by a later call, which bumps it once that is durable
      continue;
    }
    auto& rt = host_runtime_[it->first];
    rt.generation = std::max(rt.generation + 1, generation_base_ + 1);
    bumped = true;
    host_staged_ticket_.erase(it++);  // erasing leaves the other iterators valid
  }
  if (bumped) desired_changed_.notify_all();
  if (durable > generations_bumped_through_.load(std::memory_order_relaxed)) {
    generations_bumped_through_.store(durable, std::memory_order_release);
  }
}

void CloudState::SyncLocked() {
  absl::Status s = committer_.Sync();
  if (!s.ok()) FatalStoreWriteFailure(s);
}

std::unique_lock<std::mutex> CloudState::LockCommitted() {
  std::unique_lock<std::mutex> lock(mu_);
  SyncLocked();
  return lock;
}

void CloudState::BumpGenerationLocked(const std::string& host_id) {
  if (auto staged = host_staged_ticket_.find(host_id); staged != host_staged_ticket_.end()) {
    // Not durable yet: the CommitPipelined call that staged that ticket bumps the host later.
    if (staged->second > committer_.durable()) return;
    host_staged_ticket_.erase(staged);
  }
  auto& rt = host_runtime_[host_id];
  rt.generation = std::max(rt.generation + 1, generation_base_ + 1);
  desired_changed_.notify_all();
}

void CloudState::RecordReportLocked(const std::string& host_id, absl::Time now) {
  host_runtime_[host_id].last_report = now;
  index_.SetLastReport(host_id, now);
}

uint64_t CloudState::GenerationLocked(const std::string& host_id) const {
  auto it = host_runtime_.find(host_id);
  return it == host_runtime_.end() ? 0 : it->second.generation;
}

const v1::BootImage& CloudState::BootImageOf(const v1::InstanceRecord& r) const {
  if (r.has_image()) return r.image();
  auto it = images_.find(r.image_id());
  return it == images_.end() ? v1::BootImage::default_instance() : it->second.boot();
}

const v1::HostRecord* CloudState::FindHost(const std::string& id) const {
  auto it = host_by_id_.find(id);
  return it == host_by_id_.end() ? nullptr : it->second;
}

const v1::PlacementGroupRecord* CloudState::FindPlacementGroup(const std::string& name) const {
  auto it = group_by_name_.find(name);
  return it == group_by_name_.end() ? nullptr : it->second;
}

bool CloudState::HostUpLocked(const std::string& host_id, absl::Time now) const {
  auto it = host_runtime_.find(host_id);
  return it != host_runtime_.end() && now - it->second.last_report <= config_.host_timeout;
}

}  // namespace minicloud::controller
