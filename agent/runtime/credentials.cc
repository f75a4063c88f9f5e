// The agent's part of instance profiles: fetch each instance's short-lived credentials from the
// controller (HostService.GetInstanceCredentials), keep them, and republish the instance's
// metadata record with them, so IMDS serves them under iam/ while the controller is away, and
// fetch new ones `credentials_refresh_before` their expiration (EC2 rotates them ahead of expiry
// too). A failed fetch is retried at the next poll; the credentials already served stay.
#include <vector>

#include "agent/runtime/agent.h"
#include "common/logging.h"

namespace minicloud::agent {

void Agent::CredentialsLoop() {
  while (Sleep(std::chrono::milliseconds(config_.credentials_poll_ms))) RefreshCredentialsOnce();
}

void Agent::RefreshCredentialsOnce() {
  std::vector<std::string> due;
  std::string host_id;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!registered_) return;
    host_id = host_id_;
    const absl::Time now = clock_.Now();
    for (const auto& [instance_id, ip] : ip_by_instance_) {
      auto rec = metadata_by_ip_.find(ip);
      if (rec == metadata_by_ip_.end() || !rec->second->iam) continue;
      auto have = credentials_.find(instance_id);
      if (have == credentials_.end() ||
          have->second.expiration - now <= config_.credentials_refresh_before) {
        due.push_back(instance_id);
      }
    }
  }
  for (const std::string& instance_id : due) {
    v1::GetInstanceCredentialsRequest req;
    req.set_host_id(host_id);
    req.set_instance_id(instance_id);
    auto got = controller_.GetInstanceCredentials(req);
    if (!got.ok()) {
      spdlog::warn("instance credentials of {}: {}", instance_id, got.status().message());
      continue;
    }
    metadata::IamCredentials creds{got->access_key_id(), got->secret_access_key(), got->token(),
                                   absl::FromUnixMillis(got->last_updated_ms()),
                                   absl::FromUnixMillis(got->expiration_ms())};
    std::lock_guard<std::mutex> lock(mu_);
    auto ip = ip_by_instance_.find(instance_id);
    if (ip == ip_by_instance_.end()) continue;  // torn down meanwhile
    auto rec = metadata_by_ip_.find(ip->second);
    if (rec == metadata_by_ip_.end() || !rec->second->iam) continue;
    credentials_[instance_id] = creds;
    auto updated = std::make_shared<metadata::InstanceMetadata>(*rec->second);
    updated->iam->credentials = std::move(creds);
    rec->second = std::move(updated);
    spdlog::info("instance credentials of {} ({}) valid until {}", instance_id,
                 rec->second->iam->role_name,
                 absl::FormatTime(absl::FromUnixMillis(got->expiration_ms())));
  }
}

}  // namespace minicloud::agent
