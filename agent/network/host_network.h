#pragma once

// HostNetwork: one host's guest network, as the agent's runtime sees it. The real
// implementation is LinuxHostNetwork (linux_host_network.h: bridge, dnsmasq, nftables); tests use
// FakeHostNetwork (fake/fake_host_network.h). Callers depend only on this header.
//
// Contract (every implementation; all methods thread-safe):
// - EnsureBridge() makes the network exist and match its configuration, creating or adopting
//   what is already there (after an agent restart it re-adopts the running network and the
//   instances recorded before). Idempotent. It must succeed before the other methods are used:
//   until it has, AddInstance and EnsureDhcpServer return FailedPrecondition (RemoveInstance may
//   too). After Teardown it is needed again.
// - AddInstance(nic) validates nic (NormalizeInstanceNic: InvalidArgument naming the field),
//   refuses an IP, MAC or tap another instance uses (CheckNoConflict: AlreadyExists), then makes
//   the NIC's traffic rules and its DHCP entry take effect. Idempotent; adding the same instance
//   id again with changed fields replaces its entry. On any error the previous state is kept
//   (no half-added instance).
// - RemoveInstance(id) removes the instance's rules and DHCP entry, so its IP can be given to
//   a new instance at once. Unknown ids are OK (idempotent).
// - EnsureDhcpServer() brings the DHCP service back if it stopped; cheap when it runs (the
//   reconcile loop calls it every pass).
// - Teardown() removes everything EnsureBridge made, including the recorded instances.
//   Idempotent; taps of running guests are detached, not deleted.
// - Instances() is the current instance set, sorted by id; plan() and bridge() never change.
// - Nothing here owns the taps: the hypervisor creates them (by the nic.tap name) and they go
//   away with the guest.
// - Errors are absl::Status with the bridge or instance in the message; no method crashes on bad
//   input.

#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/net/addressing.h"

namespace minicloud::network {

// One instance NIC on the bridge.
struct InstanceNic {
  std::string instance_id;  // [A-Za-z0-9._-], up to 64 characters
  std::string mac;          // unicast, usually InstanceMac(instance_id).ToString()
  std::string ip;           // within the subnet plan's instance range
  std::string tap;          // usually TapName(instance_id); the <target dev=…/> of the domain
  std::string hostname;     // DHCP host name; "" = Ec2Hostname(ip) ("ip-10-0-0-4")

  bool operator==(const InstanceNic&) const = default;
};

// The NIC for an instance with the deterministic MAC and tap name.
absl::StatusOr<InstanceNic> MakeInstanceNic(absl::string_view instance_id, Ipv4Address ip);

// Validates `nic` against the plan and returns it normalized (lowercase MAC, canonical IP text,
// default hostname). InvalidArgument on any malformed field.
absl::StatusOr<InstanceNic> NormalizeInstanceNic(const InstanceNic& nic, const SubnetPlan& plan,
                                                 absl::string_view bridge);

// AlreadyExists if an instance other than nic.instance_id uses nic's IP, MAC or tap.
absl::Status CheckNoConflict(const std::vector<InstanceNic>& existing, const InstanceNic& nic);

class HostNetwork {
 public:
  virtual ~HostNetwork() = default;

  // See the contract at the top of this file.
  virtual absl::Status EnsureBridge() = 0;
  virtual absl::Status AddInstance(const InstanceNic& nic) = 0;
  virtual absl::Status RemoveInstance(absl::string_view instance_id) = 0;
  virtual absl::Status EnsureDhcpServer() = 0;
  virtual absl::Status Teardown() = 0;

  // Instances currently configured, sorted by id (after EnsureBridge: including re-adopted ones).
  virtual std::vector<InstanceNic> Instances() const = 0;
  virtual const SubnetPlan& plan() const = 0;
  virtual const std::string& bridge() const = 0;
};

// Makes the network's instance set equal to `desired`: removes the others, adds (refreshes) the
// desired ones. Stops at the first error.
absl::Status SyncInstances(HostNetwork& network, const std::vector<InstanceNic>& desired);

}  // namespace minicloud::network
