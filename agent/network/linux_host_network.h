#pragma once

// LinuxHostNetwork: the real HostNetwork (host_network.h has the contract). A Linux bridge that is
// the guests' default gateway and holds the metadata addresses, a dnsmasq handing out a fixed IPv4
// address per MAC, and nftables rules that stop a guest from spoofing another's MAC, IP or ARP.
//
//   guest eth0 (MAC m, DHCP -> ip) == tap mcXXXXXXXXXXXX ==+== bridge br-mc0
//                                                          |     10.0.0.1/24  (gateway)
//                                                          |     169.254.169.254/32,
//                                                          |     fd00:ec2::254/128
//                                                          |     dnsmasq (DHCP only, static
//                                                          |     leases)
//                                                          +== other taps
//
// What the contract's terms mean here:
// - EnsureBridge(): bridge (fixed MAC, addresses made exact, up), nftables tables, optional NAT,
//   the dnsmasq process, and the anti-spoofing rules of every instance recorded in the state
//   directory. A running dnsmasq started with the same arguments (found through its pid file) is
//   reused.
// - AddInstance(): installs the anti-spoofing rules for the NIC (by tap NAME, so before libvirt
//   creates the tap) and then publishes its DHCP entry.
// - RemoveInstance(): also drops the instance's DHCP lease.
// - EnsureDhcpServer(): restarts dnsmasq if it died.
// - Teardown(): removes the bridge, the nftables tables, dnsmasq and the state directory. It does
//   not reset net.ipv4.ip_forward (other networks may need it).

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "agent/network/host_network.h"
#include "common/net/addressing.h"

namespace minicloud::network {

struct DhcpHost;  // dnsmasq.h

struct HostNetworkOptions {
  std::string bridge = "br-mc0";  // Linux interface name, <= 15 characters
  std::string subnet;             // "10.0.0.0/24" or the gateway form "10.0.0.1/24"; /16../28
  // The agent's state directory. This network owns only <state_dir>/network-<bridge>/ (pid,
  // lease, hosts and instance files), which Teardown deletes.
  std::string state_dir;
  // Run every command inside `ip netns exec <netns>` and write sysctls there ("" = the
  // agent's own namespace). Used by tests and multi-host setups on one machine.
  std::string netns;

  bool nat_egress = false;       // masquerade guest traffic leaving the host; sets ip_forward=1
  std::string egress_interface;  // with nat_egress: only out of this interface ("" = any other)
  bool guard_host = true;        // guests may reach only DHCP, metadata, (DNS) and ping on the host
  std::vector<int> open_tcp_ports;  // with guard_host: extra host TCP ports guests may reach
  bool dns_forwarder = false;  // dnsmasq also serves DNS on the gateway (forwards to the host's
                               // resolvers) and DHCP advertises it
  std::vector<std::string>
      dns_servers;  // else: DNS servers advertised by DHCP (IPv4; may be empty)
  absl::Duration lease_time = absl::Hours(1);  // >= 2 minutes (dnsmasq's minimum)

  std::string dnsmasq_binary = "dnsmasq";
  // dnsmasq drops privileges to this user after start-up and re-reads the hosts file as that
  // user on SIGHUP, so a non-root user needs read access to the state directory path.
  std::string dnsmasq_user = "root";
  bool dnsmasq_log_to_file = false;  // <dir>/dnsmasq.log instead of syslog (debugging)
  absl::Duration command_timeout = absl::Seconds(20);
};

// The real thing: ip(8), nft(8), dnsmasq(8). Needs root (CAP_NET_ADMIN, CAP_NET_RAW for dnsmasq).
class LinuxHostNetwork : public HostNetwork {
 public:
  // Validates the options; no side effects.
  static absl::StatusOr<std::unique_ptr<LinuxHostNetwork>> Create(HostNetworkOptions options);

  absl::Status EnsureBridge() override;
  absl::Status AddInstance(const InstanceNic& nic) override;
  absl::Status RemoveInstance(absl::string_view instance_id) override;
  absl::Status EnsureDhcpServer() override;
  absl::Status Teardown() override;
  std::vector<InstanceNic> Instances() const override;
  const SubnetPlan& plan() const override { return plan_; }
  const std::string& bridge() const override { return options_.bridge; }

  // The running dnsmasq's pid, if any (diagnostics and tests).
  std::optional<int> DhcpServerPid() const;
  // <state_dir>/network-<bridge>
  const std::string& dir() const { return dir_; }
  const MacAddress& bridge_mac() const { return bridge_mac_; }
  // Whether frames from bridge ports no instance owns are dropped (fail-closed). False when the
  // kernel lacks `meta ibrname` (CONFIG_NFT_BRIDGE_META): then only registered taps are filtered.
  bool drops_unknown_ports() const;

 private:
  LinuxHostNetwork(HostNetworkOptions options, SubnetPlan plan);

  std::vector<std::string> InNetns(std::vector<std::string> argv) const;
  absl::StatusOr<std::string> Run(std::vector<std::string> argv, std::string stdin_data = "") const;
  absl::Status Nft(const std::string& script) const;
  absl::Status WriteSysctl(const std::string& key, const std::string& value) const;
  absl::StatusOr<bool> LinkExists(const std::string& name, std::string* kind) const;
  absl::Status EnsureBridgeLink();
  absl::Status EnsureBridgeAddresses(bool ipv6);
  absl::Status LoadStateLocked();
  absl::Status SaveStateLocked() const;
  std::vector<DhcpHost> DhcpHostsLocked() const;
  absl::Status PublishHostsLocked();
  absl::Status EnsureDhcpServerLocked(bool reload);
  absl::Status StartDnsmasqLocked();
  std::vector<int> FindDnsmasqPids(bool exhaustive) const;
  void StopDnsmasqPids(const std::vector<int>& pids) const;
  std::vector<std::string> DnsmasqArgvLocked() const;

  const HostNetworkOptions options_;
  const SubnetPlan plan_;
  const std::string dir_;
  const MacAddress bridge_mac_;

  mutable std::mutex mu_;
  bool loaded_ = false;          // instances_ reflects the state file
  bool ensured_ = false;         // EnsureBridge succeeded since construction / Teardown
  bool scope_to_bridge_ = true;  // kernel supports `meta ibrname` (learned by EnsureBridge)
  std::map<std::string, InstanceNic> instances_;
};

}  // namespace minicloud::network
