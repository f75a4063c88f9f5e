#include "agent/network/fake/fake_host_network.h"

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace minicloud::network {

FakeHostNetwork::FakeHostNetwork(std::string bridge, std::string subnet)
    : bridge_(std::move(bridge)) {
  auto plan = SubnetPlan::FromCidr(subnet);
  if (!plan.ok()) std::abort();
  plan_ = *plan;
}

absl::Status FakeHostNetwork::Injected(const std::string& method) {
  calls_.push_back(method);
  auto it = fail_next_.find(method);
  if (it == fail_next_.end()) return absl::OkStatus();
  absl::Status s = it->second;
  fail_next_.erase(it);
  return s;
}

absl::Status FakeHostNetwork::EnsureBridge() {
  std::lock_guard<std::mutex> lock(mu_);
  MC_RETURN_IF_ERROR(Injected("EnsureBridge"));
  up_ = true;
  return absl::OkStatus();
}

absl::Status FakeHostNetwork::AddInstance(const InstanceNic& requested) {
  std::lock_guard<std::mutex> lock(mu_);
  MC_RETURN_IF_ERROR(Injected("AddInstance"));
  if (!up_) {
    return absl::FailedPreconditionError(absl::StrCat(
        "add instance ", requested.instance_id, " to ", bridge_, ": EnsureBridge has not run"));
  }
  MC_ASSIGN_OR_RETURN(InstanceNic nic, NormalizeInstanceNic(requested, plan_, bridge_));
  std::vector<InstanceNic> others;
  for (const auto& [id, n] : instances_) others.push_back(n);
  MC_RETURN_IF_ERROR(CheckNoConflict(others, nic));
  instances_[nic.instance_id] = nic;
  return absl::OkStatus();
}

absl::Status FakeHostNetwork::RemoveInstance(absl::string_view instance_id) {
  std::lock_guard<std::mutex> lock(mu_);
  MC_RETURN_IF_ERROR(Injected("RemoveInstance"));
  instances_.erase(std::string(instance_id));
  return absl::OkStatus();
}

absl::Status FakeHostNetwork::EnsureDhcpServer() {
  std::lock_guard<std::mutex> lock(mu_);
  MC_RETURN_IF_ERROR(Injected("EnsureDhcpServer"));
  if (!up_) return absl::FailedPreconditionError("EnsureBridge has not run");
  return absl::OkStatus();
}

absl::Status FakeHostNetwork::Teardown() {
  std::lock_guard<std::mutex> lock(mu_);
  MC_RETURN_IF_ERROR(Injected("Teardown"));
  up_ = false;
  instances_.clear();
  return absl::OkStatus();
}

std::vector<InstanceNic> FakeHostNetwork::Instances() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<InstanceNic> out;
  for (const auto& [id, nic] : instances_) out.push_back(nic);
  return out;
}

void FakeHostNetwork::FailNext(const std::string& method, absl::Status status) {
  std::lock_guard<std::mutex> lock(mu_);
  fail_next_[method] = std::move(status);
}

bool FakeHostNetwork::bridge_up() const {
  std::lock_guard<std::mutex> lock(mu_);
  return up_;
}

std::vector<std::string> FakeHostNetwork::calls() const {
  std::lock_guard<std::mutex> lock(mu_);
  return calls_;
}

}  // namespace minicloud::network
