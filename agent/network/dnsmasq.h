#pragma once

// PURE pieces of dnsmasq management: the command line, the DHCP hosts file, the instance-name
// records, the upstream resolver file and lease-file editing. Process handling lives in
// linux_host_network.cc.
//
// One dnsmasq per bridge:
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
// Without DNS: --port=0, and DHCP advertises `dns_servers` if any.
// With DNS (EC2's "AmazonProvidedDNS" at the VPC base + 2, held by the bridge):
//   DHCP options 6 (the DNS address) and 15 (the private domain, "<region>.compute.internal");
//   --addn-hosts=<dir>/instance-hosts  the names of this host's instances, re-read on SIGHUP;
//   --synth-domain=<domain>,<vpc>,ip-  "ip-a-b-c-d.<domain>" for every address of the VPC, so
//                                  instances on other hosts of the VPC resolve too;
//   --local=/<domain>/ --domain-needed --bogus-priv
//                                  names in the private domain, names without a dot and private
//                                  reverse lookups are never sent upstream;
//   --resolv-file=<dir>/upstream.conf  everything else goes to these servers; dnsmasq notices
//                                  when the file changes (the agent rewrites it from the machine's
//                                  resolv.conf).

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/net/addressing.h"

namespace minicloud::network {

// EC2's resolver address: the base of the VPC's block plus two (172.31.0.2 in the default VPC).
Ipv4Address VpcDnsAddress(const Ipv4Cidr& vpc);

// EC2's private DNS domain of a region: "ec2.internal" in us-east-1, else
// "<region>.compute.internal" (AWS VPC user guide, "DNS attributes for your VPC").
std::string PrivateDnsDomain(absl::string_view region);

struct DnsmasqConfig {
  std::string binary = "dnsmasq";
  std::string bridge;
  SubnetPlan plan;
  std::string dir;  // holds the pid, lease, hosts, upstream (and log) files
  absl::Duration lease_time = absl::Hours(1);
  std::vector<std::string> dns_servers;  // without `dns`: advertised by DHCP (IPv4 text)
  // DNS service: answered on the bridge at dns->address.
  struct Dns {
    Ipv4Address address;  // VpcDnsAddress(vpc)
    std::string domain;   // PrivateDnsDomain(region)
    Ipv4Cidr vpc;         // addresses whose ip-a-b-c-d names are synthesized
  };
  std::optional<Dns> dns;
  std::string user = "root";  // --user; "" keeps dnsmasq's compiled-in default
  bool log_to_file = false;   // <dir>/dnsmasq.log instead of syslog
};

std::string DnsmasqPidFile(absl::string_view dir);       // <dir>/dnsmasq.pid
std::string DnsmasqLeaseFile(absl::string_view dir);     // <dir>/dnsmasq.leases
std::string DnsmasqHostsFile(absl::string_view dir);     // <dir>/dhcp-hosts
std::string DnsmasqNamesFile(absl::string_view dir);     // <dir>/instance-hosts
std::string DnsmasqUpstreamFile(absl::string_view dir);  // <dir>/upstream.conf
std::string DnsmasqLogFile(absl::string_view dir);       // <dir>/dnsmasq.log

// The full argv (argv[0] = config.binary). dnsmasq daemonizes and writes its pid file.
std::vector<std::string> DnsmasqArgv(const DnsmasqConfig& config);

struct DhcpHost {
  MacAddress mac;
  Ipv4Address ip;
  std::string hostname;
};

// "02:11:22:33:44:55,10.0.0.4,ip-10-0-0-4\n" per host, in the given order.
std::string RenderDhcpHosts(const std::vector<DhcpHost>& hosts);

// The hosts-file records (dnsmasq --addn-hosts) of the instances, one line per instance in the
// given order: "<ip> <hostname>.<domain> <hostname>", followed by the EC2 name
// ip-a-b-c-d.<domain> when the hostname is another one. The first name is the PTR answer.
std::string RenderInstanceNames(absl::string_view domain, const std::vector<DhcpHost>& hosts);

// dnsmasq's lease file has one lease per line: "<expiry> <mac> <ip> <hostname|*> <client-id|*>".
// Returns `leases` keeping only the IPv4 leases that match one of `hosts` exactly (same MAC and
// IP); *removed counts the others. Lines that are not IPv4 leases ("duid ...") are kept. Used to
// forget a departed instance's lease: dnsmasq refuses a configured address to a new MAC while an
// old lease for it exists ("not using configured address ... because it is leased to ...").
std::string FilterLeases(absl::string_view leases, const std::vector<DhcpHost>& hosts,
                         int* removed);

}  // namespace minicloud::network
