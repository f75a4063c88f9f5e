#pragma once

// LinuxHostNetwork: the real HostNetwork (host_network.h has the contract). A Linux bridge that is
// the guests' default gateway and holds the metadata addresses, a dnsmasq handing out a fixed IPv4
// address per MAC, and nftables rules that stop a guest from spoofing another's MAC, IP or ARP.
//
//   guest eth0 (MAC m, DHCP -> ip) == tap mcXXXXXXXXXXXX ==+== bridge br-mc0
//                                                          |     10.0.0.1/24  (gateway)
//                                                          |     169.254.169.254/32,
//                                                          |     fd00:ec2::254/128
//                                                          |     172.31.0.2/32 (VPC base + 2)
//                                                          |     dnsmasq (DHCP with static
//                                                          |     leases; DNS at VPC base + 2)
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
// - Teardown(): removes the bridge, the nftables tables, dnsmasq, its directory and the state
//   directory. It does not reset net.ipv4.ip_forward (other networks may need it).

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
  bool guard_host = true;        // guests may reach only DHCP, metadata, DNS and ping on the host
  std::vector<int> open_tcp_ports;  // with guard_host: extra host TCP ports guests may reach
  // With guard_host: IPv4 addresses guests may not reach through the host (the controller's).
  std::vector<std::string> blocked_destinations;

  // DNS for guests, as EC2's AmazonProvidedDNS: dnsmasq answers at the VPC base + 2 (a /32 the
  // bridge holds), DHCP hands that address and the private domain out, instance names resolve
  // to their addresses and every other name is forwarded upstream.
  bool dns = false;
  std::string vpc_cidr;    // the VPC's block, containing `subnet` ("" = the subnet itself)
  std::string dns_domain;  // with dns: the private domain, e.g. PrivateDnsDomain(region)
  // Upstream resolvers (IPv4/IPv6 literals). Empty: the machine's, from `resolv_conf`, re-read
  // whenever EnsureDhcpServer runs (resolv_conf.h says which are usable).
  std::vector<std::string> dns_upstream;
  // "" = /etc/netns/<netns>/resolv.conf when `netns` is set and that file exists (what
  // `ip netns exec` shows dnsmasq), else /etc/resolv.conf.
  std::string resolv_conf;
  std::vector<std::string>
      dns_servers;  // without dns: DNS servers advertised by DHCP (IPv4; may be empty)
  absl::Duration lease_time = absl::Hours(1);  // >= 2 minutes (dnsmasq's minimum)

  std::string dnsmasq_binary = "dnsmasq";
  // dnsmasq drops privileges to this user after start-up; it then re-reads its hosts, names and
  // upstream files as that user. They live in <runtime_dir>/dnsmasq-<bridge>-<hash of
  // state_dir>/, a directory owned by this user, mode 0500 (root writes it; dnsmasq can read
  // it), so the state directory itself can stay 0700. Debian's dnsmasq-base creates the user.
  std::string dnsmasq_user = "dnsmasq";
  std::string runtime_dir = "/run/minicloud";
  bool dnsmasq_log_to_file = false;  // <dnsmasq dir>/dnsmasq.log instead of syslog (debugging)
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
  // <state_dir>/network-<bridge>: the recorded instances.
  const std::string& dir() const { return dir_; }
  // dnsmasq's files (pid, leases, hosts, names, upstream, log); see dnsmasq_user.
  const std::string& dnsmasq_dir() const { return dnsmasq_dir_; }
  // The address guests send DNS queries to (VPC base + 2), when dns is on.
  std::optional<Ipv4Address> dns_address() const { return dns_address_; }
  const MacAddress& bridge_mac() const { return bridge_mac_; }
  // Whether frames from bridge ports no instance owns are dropped (fail-closed). False when the
  // kernel lacks `meta ibrname` (CONFIG_NFT_BRIDGE_META): then only registered taps are filtered.
  bool drops_unknown_ports() const;

 private:
  LinuxHostNetwork(HostNetworkOptions options, SubnetPlan plan, Ipv4Cidr vpc);

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
  absl::Status PrepareDnsmasqDirLocked();
  absl::Status RefreshUpstreamsLocked();
  std::string ResolvConfPath() const;

  const HostNetworkOptions options_;
  const SubnetPlan plan_;
  const std::string dir_;
  const MacAddress bridge_mac_;
  const Ipv4Cidr vpc_;
  const std::optional<Ipv4Address> dns_address_;
  const std::string dnsmasq_dir_;

  mutable std::mutex mu_;
  bool loaded_ = false;          // instances_ reflects the state file
  bool ensured_ = false;         // EnsureBridge succeeded since construction / Teardown
  bool scope_to_bridge_ = true;  // kernel supports `meta ibrname` (learned by EnsureBridge)
  std::map<std::string, InstanceNic> instances_;
  std::string upstream_text_;  // what upstream.conf holds (written by RefreshUpstreamsLocked)
};

}  // namespace minicloud::network
