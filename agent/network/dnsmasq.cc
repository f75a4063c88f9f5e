#include "agent/network/dnsmasq.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace minicloud::network {

std::string DnsmasqPidFile(absl::string_view dir) { return absl::StrCat(dir, "/dnsmasq.pid"); }
std::string DnsmasqLeaseFile(absl::string_view dir) { return absl::StrCat(dir, "/dnsmasq.leases"); }
std::string DnsmasqHostsFile(absl::string_view dir) { return absl::StrCat(dir, "/dhcp-hosts"); }
std::string DnsmasqLogFile(absl::string_view dir) { return absl::StrCat(dir, "/dnsmasq.log"); }

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
  if (c.dns_forwarder) {
    argv.push_back(absl::StrCat("--dhcp-option=option:dns-server,", c.plan.gateway.ToString()));
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
