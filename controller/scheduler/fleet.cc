// Fleet: the indexed host set every decision runs on (fleet.h). The decision itself is in
// planner.cc.

#include "controller/scheduler/fleet.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

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

std::string Fleet::RackKey(const std::string& az, const std::string& rack) {
  return absl::StrCat(az, "\n", rack);
}

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

}  // namespace minicloud::scheduler
