#include "agent/network/dnsmasq.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace minicloud::network {

std::string DnsmasqPidFile(absl::string_view dir) { return absl::StrCat(dir, "/dnsmasq.pid"); }
std::string DnsmasqLeaseFile(absl::string_view dir) { return absl::StrCat(dir, "/dnsmasq.leases"); }
std::string DnsmasqHostsFile(absl::string_view dir) { return absl::StrCat(dir, "/dhcp-hosts"); }
std::string DnsmasqNamesFile(absl::string_view dir) { return absl::StrCat(dir, "/instance-hosts"); }
std::string DnsmasqUpstreamFile(absl::string_view dir) {
  return absl::StrCat(dir, "/upstream.conf");
}
std::string DnsmasqLogFile(absl::string_view dir) { return absl::StrCat(dir, "/dnsmasq.log"); }

Ipv4Address VpcDnsAddress(const Ipv4Cidr& vpc) { return Ipv4Address{vpc.Network().value + 2}; }

std::string PrivateDnsDomain(absl::string_view region) {
  if (region == "us-east-1") return "ec2.internal";
  return absl::StrCat(region, ".compute.internal");
}

std::vector<std::string> DnsmasqArgv(const DnsmasqConfig& c) {
  const int64_t lease_secs = absl::ToInt64Seconds(c.lease_time);
  std::vector<std::string> argv = {
      c.binary,
      "--conf-file=/dev/null",
      absl::StrCat("--pid-file=", DnsmasqPidFile(c.dir)),
      absl::StrCat("--interface=", c.bridge),
      "--except-interface=lo",
      "--bind-dynamic",
      "--no-hosts",
      "--dhcp-authoritative",
      absl::StrCat("--dhcp-range=", c.plan.subnet.Network().ToString(), ",static,",
                   c.plan.subnet.Netmask().ToString(), ",", lease_secs),
      absl::StrCat("--dhcp-hostsfile=", DnsmasqHostsFile(c.dir)),
      absl::StrCat("--dhcp-leasefile=", DnsmasqLeaseFile(c.dir)),
      absl::StrCat("--dhcp-option=option:router,", c.plan.gateway.ToString()),
  };
  if (c.dns) {
    const std::string& domain = c.dns->domain;
    argv.push_back(absl::StrCat("--dhcp-option=option:dns-server,", c.dns->address.ToString()));
    argv.push_back(absl::StrCat("--dhcp-option=option:domain-name,", domain));
    argv.push_back(absl::StrCat("--domain=", domain));
    argv.push_back(absl::StrCat("--local=/", domain, "/"));
    argv.push_back("--domain-needed");
    argv.push_back("--bogus-priv");
    argv.push_back(absl::StrCat("--addn-hosts=", DnsmasqNamesFile(c.dir)));
    argv.push_back(
        absl::StrCat("--synth-domain=", domain, ",", c.dns->vpc.Masked().ToString(), ",ip-"));
    argv.push_back(absl::StrCat("--resolv-file=", DnsmasqUpstreamFile(c.dir)));
  } else {
    argv.push_back("--port=0");
    if (!c.dns_servers.empty()) {
      argv.push_back(
          absl::StrCat("--dhcp-option=option:dns-server,", absl::StrJoin(c.dns_servers, ",")));
    }
  }
  if (!c.user.empty()) argv.push_back(absl::StrCat("--user=", c.user));
  if (c.log_to_file) {
    argv.push_back(absl::StrCat("--log-facility=", DnsmasqLogFile(c.dir)));
  }
  return argv;
}

std::string RenderDhcpHosts(const std::vector<DhcpHost>& hosts) {
  std::string out;
  for (const DhcpHost& h : hosts) {
    absl::StrAppend(&out, h.mac.ToString(), ",", h.ip.ToString(), ",", h.hostname, "\n");
  }
  return out;
}

std::string RenderInstanceNames(absl::string_view domain, const std::vector<DhcpHost>& hosts) {
  std::string out;
  for (const DhcpHost& h : hosts) {
    absl::StrAppend(&out, h.ip.ToString(), " ", h.hostname, ".", domain, " ", h.hostname);
    const std::string ec2 = Ec2Hostname(h.ip);
    if (h.hostname != ec2) absl::StrAppend(&out, " ", ec2, ".", domain);
    absl::StrAppend(&out, "\n");
  }
  return out;
}

std::string FilterLeases(absl::string_view leases, const std::vector<DhcpHost>& hosts,
                         int* removed) {
  *removed = 0;
  std::string out;
  for (absl::string_view line : absl::StrSplit(leases, '\n', absl::SkipEmpty())) {
    std::vector<absl::string_view> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
    absl::StatusOr<MacAddress> mac = absl::InvalidArgumentError("short line");
    absl::StatusOr<Ipv4Address> ip = absl::InvalidArgumentError("short line");
    if (f.size() >= 3) {
      mac = MacAddress::Parse(f[1]);
      ip = Ipv4Address::Parse(f[2]);
    }
    if (mac.ok() && ip.ok()) {
      bool wanted = false;
      for (const DhcpHost& h : hosts) {
        if (h.mac == *mac && h.ip == *ip) wanted = true;
      }
      if (!wanted) {
        ++*removed;
        continue;
      }
    }
    absl::StrAppend(&out, line, "\n");
  }
  return out;
}

}  // namespace minicloud::network
