#pragma once

// PURE pieces of dnsmasq management: the command line, the DHCP hosts file and lease-file
// editing. Process handling lives in linux_host_network.cc.
//
// One dnsmasq per bridge, DHCP only by default:
//   --conf-file=/dev/null          ignore /etc/dnsmasq.conf and /etc/dnsmasq.d
//   --interface=<bridge> --except-interface=lo --bind-dynamic
//                                  serve the bridge only; with a single interface dnsmasq binds
//                                  its DHCP socket to the device, so several dnsmasqs (one per
//                                  bridge) coexist in one network namespace
//   --dhcp-range=<net>,static,<mask>,<secs>
//                                  answer only the MACs listed in the hosts file
//   --dhcp-hostsfile=<dir>/dhcp-hosts   "MAC,IP,hostname" lines, re-read on SIGHUP
//   --dhcp-option=option:router,<gateway>  the guest's default route, through which it reaches
//                                  169.254.169.254 (held by the bridge)
//   --port=0 (no DNS) unless dns_forwarder: then dnsmasq answers DNS on the bridge, forwarding to
//   the host's resolvers, and advertises the gateway as the guests' DNS server.

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/net/addressing.h"

namespace minicloud::network {

struct DnsmasqConfig {
  std::string binary = "dnsmasq";
  std::string bridge;
  SubnetPlan plan;
  std::string dir;  // holds the pid, lease, hosts (and log) files
  absl::Duration lease_time = absl::Hours(1);
  bool dns_forwarder = false;
  std::vector<std::string> dns_servers;  // advertised by DHCP when !dns_forwarder (IPv4 text)
  std::string user = "root";             // --user; "" keeps dnsmasq's compiled-in default
  bool log_to_file = false;              // <dir>/dnsmasq.log instead of syslog
};

std::string DnsmasqPidFile(absl::string_view dir);    // <dir>/dnsmasq.pid
std::string DnsmasqLeaseFile(absl::string_view dir);  // <dir>/dnsmasq.leases
std::string DnsmasqHostsFile(absl::string_view dir);  // <dir>/dhcp-hosts
std::string DnsmasqLogFile(absl::string_view dir);    // <dir>/dnsmasq.log

// The full argv (argv[0] = config.binary). dnsmasq daemonizes and writes its pid file.
std::vector<std::string> DnsmasqArgv(const DnsmasqConfig& config);

struct DhcpHost {
  MacAddress mac;
  Ipv4Address ip;
  std::string hostname;
};

// "02:11:22:33:44:55,10.0.0.4,ip-10-0-0-4\n" per host, in the given order.
std::string RenderDhcpHosts(const std::vector<DhcpHost>& hosts);

// dnsmasq's lease file has one lease per line: "<expiry> <mac> <ip> <hostname|*> <client-id|*>".
// Returns `leases` keeping only the IPv4 leases that match one of `hosts` exactly (same MAC and
// IP); *removed counts the others. Lines that are not IPv4 leases ("duid ...") are kept. Used to
// forget a departed instance's lease: dnsmasq refuses a configured address to a new MAC while an
// old lease for it exists ("not using configured address ... because it is leased to ...").
std::string FilterLeases(absl::string_view leases, const std::vector<DhcpHost>& hosts,
                         int* removed);

}  // namespace minicloud::network
