#include "controller/service/cloud_state.h"

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace minicloud::controller {
namespace {

template <typename Record>
absl::Status LoadTable(Store& store, Table table, std::map<std::string, Record>& out) {
  MC_ASSIGN_OR_RETURN(auto rows, store.Scan(table));
  for (auto& [key, value] : rows) {
    Record r;
    if (!r.ParseFromString(value)) {
      // A record we cannot parse is our own broken invariant: refuse to run on it.
      return absl::DataLossError(
          absl::StrCat("store record ", TableName(table), "/", key, " does not parse"));
    }
    out.emplace(key, std::move(r));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CloudState::Load(absl::Time now) {
  std::lock_guard<std::mutex> lock(mu_);
  MC_RETURN_IF_ERROR(LoadTable(store_, Table::kInstances, instances_));
  MC_RETURN_IF_ERROR(LoadTable(store_, Table::kImages, images_));
  MC_RETURN_IF_ERROR(LoadTable(store_, Table::kHosts, hosts_));
  MC_RETURN_IF_ERROR(LoadTable(store_, Table::kClientTokens, client_tokens_));
  MC_RETURN_IF_ERROR(LoadTable(store_, Table::kKeyPairs, key_pairs_));
  MC_RETURN_IF_ERROR(LoadTable(store_, Table::kSubnets, subnets_));
  MC_RETURN_IF_ERROR(LoadTable(store_, Table::kPlacementGroups, placement_groups_));
  // Generations restart from the clock so an agent holding an older number sees a change.
  generation_base_ = static_cast<uint64_t>(absl::ToUnixMillis(now)) << 16;
  for (const auto& [id, host] : hosts_) {
    // A restarted controller gives every known host a full liveness window to report again.
    host_runtime_[id] = HostRuntime{now, generation_base_};
  }
  return absl::OkStatus();
}

absl::Status CloudState::CommitLocked(const Changes& c) {
  WriteBatch batch;
  for (const auto& [k, v] : c.instances) batch.Put(Table::kInstances, k, v.SerializeAsString());
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
  if (batch.empty()) return absl::OkStatus();
  MC_RETURN_IF_ERROR(store_.Commit(batch));

  for (const auto& [k, v] : c.instances) instances_[k] = v;
  for (const auto& [k, v] : c.images) images_[k] = v;
  for (const auto& [k, v] : c.hosts) hosts_[k] = v;
  for (const auto& [k, v] : c.client_tokens) client_tokens_[k] = v;
  for (const auto& [k, v] : c.key_pairs) key_pairs_[k] = v;
  for (const auto& [k, v] : c.subnets) subnets_[k] = v;
  for (const auto& [k, v] : c.placement_groups) placement_groups_[k] = v;
  for (const auto& k : c.deleted_placement_groups) placement_groups_.erase(k);
  for (const auto& k : c.deleted_instances) instances_.erase(k);
  for (const auto& k : c.deleted_key_pairs) key_pairs_.erase(k);
  for (const auto& k : c.deleted_images) images_.erase(k);
  return absl::OkStatus();
}

void CloudState::BumpGenerationLocked(const std::string& host_id) {
  auto& rt = host_runtime_[host_id];
  rt.generation = std::max(rt.generation + 1, generation_base_ + 1);
  desired_changed_.notify_all();
}

bool CloudState::HostUpLocked(const std::string& host_id, absl::Time now) const {
  auto it = host_runtime_.find(host_id);
  return it != host_runtime_.end() && now - it->second.last_report <= config_.host_timeout;
}

}  // namespace minicloud::controller
