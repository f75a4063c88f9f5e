#pragma once

// In-memory HostNetwork for runtime tests without root: same validation and conflict rules as
// LinuxHostNetwork, no processes, no kernel state. Failures can be injected per method.

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "agent/network/host_network.h"

namespace minicloud::network {

class FakeHostNetwork : public HostNetwork {
 public:
  // `subnet` as in HostNetworkOptions; a bad one is a test bug (CHECK-style abort).
  explicit FakeHostNetwork(std::string bridge = "br-mc0", std::string subnet = "10.0.0.0/24");

  absl::Status EnsureBridge() override;
  absl::Status AddInstance(const InstanceNic& nic) override;
  absl::Status RemoveInstance(absl::string_view instance_id) override;
  absl::Status EnsureDhcpServer() override;
  absl::Status Teardown() override;
  std::vector<InstanceNic> Instances() const override;
  const SubnetPlan& plan() const override { return plan_; }
  const std::string& bridge() const override { return bridge_; }

  // The next call of `method` ("EnsureBridge", "AddInstance", ...) returns `status`.
  void FailNext(const std::string& method, absl::Status status);
  bool bridge_up() const;
  // Method names in call order.
  std::vector<std::string> calls() const;

 private:
  absl::Status Injected(const std::string& method);  // requires mu_

  const std::string bridge_;
  SubnetPlan plan_;
  mutable std::mutex mu_;
  bool up_ = false;
  std::map<std::string, InstanceNic> instances_;
  std::map<std::string, absl::Status> fail_next_;
  std::vector<std::string> calls_;
};

}  // namespace minicloud::network
