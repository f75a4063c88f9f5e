#pragma once

#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "controller/store/store.h"
#include "minicloud/v1/records.pb.h"

namespace minicloud::controller {

// Controller settings that shape business rules. Defaults suit a homelab.
struct ControllerConfig {
  std::string owner_id = "000000000000";  // the account id shown as OwnerId
  std::string region = "home-1";          // where placement groups live when none is named
  double cpu_allocation_ratio = 4.0;      // vCPU overcommit
  double memory_allocation_ratio = 1.0;
  int64_t reserved_host_memory_mib = 512;                // kept for the host itself
  absl::Duration host_timeout = absl::Seconds(15);       // no report for this long = unreachable
  absl::Duration launch_timeout = absl::Minutes(10);     // pending longer = failed launch
  absl::Duration terminated_retention = absl::Hours(1);  // EC2 shows terminated ~1 hour
  int report_interval_ms = 2000;
};

// What the controller knows of a host beyond its stored record; rebuilt after a restart.
struct HostRuntime {
  absl::Time last_report = absl::InfinitePast();
  uint64_t generation = 0;  // desired-state version sent to the agent
};

// The controller's state: the store plus an in-memory mirror of every record, guarded by one
// mutex. Every change is committed to the store first and applied to the mirror only when the
// commit succeeded, so memory never runs ahead of disk.
class CloudState {
 public:
  CloudState(Store& store, ControllerConfig config) : store_(store), config_(std::move(config)) {}

  // Loads every record from the store. Call once before serving.
  absl::Status Load(absl::Time now);

  // Commits `batch` and, when that succeeded, applies the same records to the mirror.
  // Requires mu() held. Records passed here are the new values.
  struct Changes {
    std::map<std::string, v1::InstanceRecord> instances;
    std::map<std::string, v1::ImageRecord> images;
    std::map<std::string, v1::HostRecord> hosts;
    std::map<std::string, v1::ClientTokenRecord> client_tokens;
    std::map<std::string, v1::KeyPairRecord> key_pairs;                // by key name
    std::map<std::string, v1::SubnetRecord> subnets;                   // by availability zone
    std::map<std::string, v1::PlacementGroupRecord> placement_groups;  // by group name
    std::vector<std::string> deleted_instances;
    std::vector<std::string> deleted_images;
    std::vector<std::string> deleted_key_pairs;
    std::vector<std::string> deleted_placement_groups;
  };
  absl::Status CommitLocked(const Changes& changes);

  // Marks the desired state of `host_id` changed and wakes its watcher. Requires mu() held.
  void BumpGenerationLocked(const std::string& host_id);

  std::mutex& mu() { return mu_; }
  std::condition_variable& desired_changed() { return desired_changed_; }
  const ControllerConfig& config() const { return config_; }

  std::map<std::string, v1::InstanceRecord>& instances() { return instances_; }
  std::map<std::string, v1::ImageRecord>& images() { return images_; }
  std::map<std::string, v1::HostRecord>& hosts() { return hosts_; }
  std::map<std::string, HostRuntime>& host_runtime() { return host_runtime_; }
  std::map<std::string, v1::ClientTokenRecord>& client_tokens() { return client_tokens_; }
  std::map<std::string, v1::KeyPairRecord>& key_pairs() { return key_pairs_; }
  std::map<std::string, v1::SubnetRecord>& subnets() { return subnets_; }
  std::map<std::string, v1::PlacementGroupRecord>& placement_groups() { return placement_groups_; }

  bool HostUpLocked(const std::string& host_id, absl::Time now) const;

 private:
  Store& store_;
  const ControllerConfig config_;
  std::mutex mu_;
  std::condition_variable desired_changed_;
  uint64_t generation_base_ = 0;
  std::map<std::string, v1::InstanceRecord> instances_;
  std::map<std::string, v1::ImageRecord> images_;
  std::map<std::string, v1::HostRecord> hosts_;
  std::map<std::string, HostRuntime> host_runtime_;
  std::map<std::string, v1::ClientTokenRecord> client_tokens_;
  std::map<std::string, v1::KeyPairRecord> key_pairs_;
  std::map<std::string, v1::SubnetRecord> subnets_;
  std::map<std::string, v1::PlacementGroupRecord> placement_groups_;
};

}  // namespace minicloud::controller
