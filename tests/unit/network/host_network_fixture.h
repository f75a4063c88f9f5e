#pragma once

// What the LinuxHostNetwork tests share (host_network_test.cc, host_network_dns_test.cc): a
// simulated host (its namespace, state and runtime directories), the network over it, NICs,
// dnsmasq's log, and the skip when this machine cannot run them.

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "agent/network/linux_host_network.h"
#include "tests/testing/skip.h"
#include "tests/testing/temp_dir.h"
#include "tests/unit/network/netns_fixture.h"

#define REQUIRE_OK(expr)                        \
  do {                                          \
    const absl::Status mc_st_ = (expr);         \
    INFO(#expr << " -> " << mc_st_.ToString()); \
    REQUIRE(mc_st_.ok());                       \
  } while (0)

namespace minicloud::network::testing {

inline constexpr char kMetadataUrl[] = "http://169.254.169.254/latest/meta-data/";

// Ends the test as skipped (tests/testing/skip.h) when this machine cannot run it.
inline void SkipUnlessPossible() {
  std::string why;
  MC_SKIP_UNLESS(CanRunNetworkTests(&why), why);
}

// One simulated host: its namespace, a state directory and a LinuxHostNetwork over them. dnsmasq's
// directory goes under /run/<prefix>, removed also when a test stops half-way.
struct Host {
  explicit Host(const std::string& prefix) : ns(prefix + "-h"), runtime("/run/" + prefix) {}
  ~Host() {
    std::error_code ec;
    std::filesystem::remove_all(runtime, ec);
  }

  HostNetworkOptions Options(const std::string& bridge, const std::string& subnet) const {
    HostNetworkOptions o;
    o.bridge = bridge;
    o.subnet = subnet;
    o.state_dir = state.path();
    o.netns = ns.name();
    o.runtime_dir = runtime;
    o.dnsmasq_log_to_file = true;
    return o;
  }

  ScopedNetns ns;
  minicloud::testing::TempDir state;
  std::string runtime;
};

inline std::unique_ptr<LinuxHostNetwork> MakeNetwork(const HostNetworkOptions& options) {
  auto net = LinuxHostNetwork::Create(options);
  REQUIRE(net.ok());
  return std::move(*net);
}

inline InstanceNic Nic(const std::string& id, const std::string& ip) {
  auto nic = MakeInstanceNic(id, *Ipv4Address::Parse(ip));
  REQUIRE(nic.ok());
  return *nic;
}

inline std::string DnsmasqLog(const LinuxHostNetwork& net) {
  std::ifstream in(net.dnsmasq_dir() + "/dnsmasq.log");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline bool ProcessAlive(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string all((std::istreambuf_iterator<char>(in)), {});
  const size_t p = all.rfind(')');
  return p != std::string::npos && p + 2 < all.size() && all[p + 2] != 'Z';
}

// Links `outside` to the host's namespace as its uplink (TEST-NET-2): a veth pair, mc-up with
// 198.51.100.1/24 on the host's side, eth0 with each of `outside_addresses` (/24) on the other,
// both up.
inline void LinkUplink(Host& host, ScopedNetns& outside,
                       const std::vector<std::string>& outside_addresses) {
  REQUIRE(Exec({"ip", "link", "add", "mc-up", "netns", host.ns.name(), "type", "veth", "peer",
                "name", "eth0", "netns", outside.name()})
              .exit_code == 0);
  REQUIRE(host.ns.Run({"ip", "addr", "add", "198.51.100.1/24", "dev", "mc-up"}).exit_code == 0);
  REQUIRE(host.ns.Run({"ip", "link", "set", "mc-up", "up"}).exit_code == 0);
  for (const std::string& address : outside_addresses) {
    REQUIRE(outside.Run({"ip", "addr", "add", address + "/24", "dev", "eth0"}).exit_code == 0);
  }
  REQUIRE(outside.Run({"ip", "link", "set", "eth0", "up"}).exit_code == 0);
}

}  // namespace minicloud::network::testing
