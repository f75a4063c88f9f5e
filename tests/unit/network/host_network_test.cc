// LinuxHostNetwork for real: bridges, dnsmasq and nftables inside throw-away network namespaces,
// guests simulated by veth pairs in namespaces of their own. Needs root.
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "agent/network/linux_host_network.h"
#include "agent/network/nftables.h"
#include "tests/testing/skip.h"
#include "tests/testing/temp_dir.h"
#include "tests/unit/network/netns_fixture.h"

namespace minicloud::network {
namespace {

using testing::Guest;
using testing::PeerEchoServer;
using testing::ScopedNetns;

constexpr char kMetadataUrl[] = "http://169.254.169.254/latest/meta-data/";

#define REQUIRE_OK(expr)                        \
  do {                                          \
    const absl::Status mc_st_ = (expr);         \
    INFO(#expr << " -> " << mc_st_.ToString()); \
    REQUIRE(mc_st_.ok());                       \
  } while (0)

// Ends the test as skipped (tests/testing/skip.h) when this machine cannot run it.
void SkipUnlessPossible() {
  std::string why;
  MC_SKIP_UNLESS(testing::CanRunNetworkTests(&why), why);
}

// Whether this kernel takes a bridge-family rule with `meta ibrname`, asked of nft directly in
// a scratch table (the network's own detection is what the tests check against this).
bool KernelHasMetaIbrname(testing::ScopedNetns& ns) {
  const std::string t = "mc_probe_" + testing::RandomSuffix();
  const CommandResult r =
      ns.Run({"nft", "-f", "-"}, absl::Seconds(15),
             absl::StrCat("add table bridge ", t, "\n", "add chain bridge ", t,
                          " c { type filter hook prerouting priority 0; }\n", "add rule bridge ", t,
                          " c meta ibrname \"x\" counter\n"));
  ns.Run({"nft", "delete", "table", "bridge", t});
  return r.exit_code == 0;
}

// Packets the port chain of `tap` dropped for a foreign IPv4 source (its dedicated counter), or
// -1 when the rule is not there.
int64_t ForeignIpv4Drops(testing::ScopedNetns& ns, const std::string& tap) {
  const CommandResult r =
      ns.Run({"nft", "list", "chain", "bridge", NftTableName("br-mc0"), NftPortChainName(tap)});
  for (absl::string_view line : absl::StrSplit(r.out, '\n')) {
    if (!absl::StrContains(line, "comment \"foreign IPv4 source\"")) continue;
    const std::vector<absl::string_view> words = absl::StrSplit(line, ' ', absl::SkipEmpty());
    for (size_t i = 0; i + 1 < words.size(); ++i) {
      int64_t n = 0;
      if (words[i] == "packets" && absl::SimpleAtoi(words[i + 1], &n)) return n;
    }
  }
  return -1;
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

std::unique_ptr<LinuxHostNetwork> MakeNetwork(const HostNetworkOptions& options) {
  auto net = LinuxHostNetwork::Create(options);
  REQUIRE(net.ok());
  return std::move(*net);
}

InstanceNic Nic(const std::string& id, const std::string& ip) {
  auto nic = MakeInstanceNic(id, *Ipv4Address::Parse(ip));
  REQUIRE(nic.ok());
  return *nic;
}

std::string DnsmasqLog(const LinuxHostNetwork& net) {
  std::ifstream in(net.dnsmasq_dir() + "/dnsmasq.log");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool ProcessAlive(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string all((std::istreambuf_iterator<char>(in)), {});
  const size_t p = all.rfind(')');
  return p != std::string::npos && p + 2 < all.size() && all[p + 2] != 'Z';
}

TEST_CASE("guests get their fixed IP by DHCP and reach the metadata address via the gateway") {
  SkipUnlessPossible();
  const std::string prefix = "mc-test-" + testing::RandomSuffix();
  Host host(prefix);
  REQUIRE(host.ns.ok());
  auto net = MakeNetwork(host.Options("br-mc0", "10.77.0.1/24"));
  REQUIRE_OK(net->EnsureBridge());
  REQUIRE_OK(net->EnsureBridge());  // idempotent

  // The bridge holds the gateway and both metadata addresses, with its fixed MAC.
  CommandResult addrs = host.ns.Run({"ip", "addr", "show", "dev", "br-mc0"});
  CHECK(absl::StrContains(addrs.out, "inet 10.77.0.1/24"));
  CHECK(absl::StrContains(addrs.out, "inet 169.254.169.254/32"));
  CHECK(absl::StrContains(addrs.out, "inet6 fd00:ec2::254/128"));
  CHECK(absl::StrContains(addrs.out, net->bridge_mac().ToString()));
  CHECK((absl::StrContains(addrs.out, "state UP") || absl::StrContains(addrs.out, ",UP")));

  const InstanceNic a = Nic("i-0000000000000000a", "10.77.0.4");
  const InstanceNic b = Nic("i-0000000000000000b", "10.77.0.9");
  REQUIRE_OK(net->AddInstance(a));
  REQUIRE_OK(net->AddInstance(b));
  REQUIRE_OK(net->AddInstance(a));  // idempotent
  CHECK(net->Instances().size() == 2);

  Guest ga(prefix, "ga", host.ns.name(), "br-mc0", a.tap, a.mac, host.state.path());
  Guest gb(prefix, "gb", host.ns.name(), "br-mc0", b.tap, b.mac, host.state.path());
  REQUIRE(ga.ok());
  REQUIRE(gb.ok());
  PeerEchoServer metadata(host.ns.name(), "169.254.169.254", 80);
  REQUIRE_OK(metadata.status());

  auto lease = ga.Dhcp();
  INFO(DnsmasqLog(*net));
  REQUIRE_OK(lease.status());
  CHECK((*lease)["ip"] == "10.77.0.4");
  CHECK((*lease)["mask"] == "24");
  CHECK((*lease)["router"] == "10.77.0.1");
  CHECK((*lease)["serverid"] == "10.77.0.1");
  CHECK((*lease)["hostname"] == "ip-10-77-0-4");
  CHECK((*lease)["dns"].empty());  // DNS is off unless asked for
  CHECK((*lease)["lease"] == "3600");
  auto lease_b = gb.Dhcp();
  REQUIRE_OK(lease_b.status());
  CHECK((*lease_b)["ip"] == "10.77.0.9");

  // 169.254.169.254 is not on the guest's subnet: it goes through the default route, and the
  // server sees the guest's own address.
  CommandResult route = ga.ns().Run({"ip", "route", "get", "169.254.169.254"});
  CHECK(absl::StrContains(route.out, "via 10.77.0.1"));
  auto body = ga.HttpGet(kMetadataUrl);
  REQUIRE_OK(body.status());
  CHECK(*body == "10.77.0.4");
  body = gb.HttpGet(kMetadataUrl);
  REQUIRE_OK(body.status());
  CHECK(*body == "10.77.0.9");

  // Guests on one bridge talk to each other.
  CHECK(ga.ns().Run({"busybox", "ping", "-c", "1", "-W", "2", "10.77.0.9"}).exit_code == 0);

  // No IPv6 route: cloud-init's http://[fd00:ec2::254] attempt fails at once.
  CommandResult v6 = ga.ns().Run({"ip", "-6", "route", "get", "fd00:ec2::254"});
  CHECK(v6.exit_code != 0);

  // A port nobody registered gets nothing, not even DHCP.
  const InstanceNic c = Nic("i-0000000000000000c", "10.77.0.5");
  Guest gc(prefix, "gc", host.ns.name(), "br-mc0", c.tap, c.mac, host.state.path());
  REQUIRE(gc.ok());
  CHECK_FALSE(gc.Dhcp(2).ok());  // dnsmasq answers registered MACs only
  REQUIRE_OK(gc.SetIp("10.77.0.5/24", "10.77.0.1"));
  // Dropping it needs nftables' `meta ibrname` (CONFIG_NFT_BRIDGE_META; some VM kernels lack
  // it). The network must know which kernel it runs on, and each kernel has one outcome: with
  // it the port gets nothing; without it the documented fallback filters registered taps only.
  const bool kernel_has_ibrname = KernelHasMetaIbrname(host.ns);
  INFO("kernel has nftables meta ibrname: " << kernel_has_ibrname);
  REQUIRE(net->drops_unknown_ports() == kernel_has_ibrname);
  if (kernel_has_ibrname) {
    CHECK_FALSE(gc.HttpGet(kMetadataUrl).ok());
  } else {
    CHECK(gc.HttpGet(kMetadataUrl).value_or("") == "10.77.0.5");
  }
  // ...until it is added: the rules follow the tap name.
  REQUIRE_OK(net->AddInstance(c));
  auto lease_c = gc.Dhcp();
  REQUIRE_OK(lease_c.status());
  CHECK((*lease_c)["ip"] == "10.77.0.5");
  CHECK(gc.HttpGet(kMetadataUrl).value_or("") == "10.77.0.5");

  // Conflicts are refused and leave the network as it was.
  InstanceNic clash = Nic("i-0000000000000000d", "10.77.0.4");
  CHECK(absl::IsAlreadyExists(net->AddInstance(clash)));
  CHECK(absl::IsInvalidArgument(net->AddInstance(Nic("i-0000000000000000d", "10.77.0.2"))));
  CHECK(net->Instances().size() == 3);
  CHECK(ga.HttpGet(kMetadataUrl).value_or("") == "10.77.0.4");

  REQUIRE_OK(net->Teardown());
}

TEST_CASE(
    "a guest cannot spoof another guest's IP, MAC or ARP while the honest guest keeps working") {
  SkipUnlessPossible();
  const std::string prefix = "mc-test-" + testing::RandomSuffix();
  Host host(prefix);
  REQUIRE(host.ns.ok());
  auto net = MakeNetwork(host.Options("br-mc0", "10.77.0.0/24"));
  REQUIRE_OK(net->EnsureBridge());
  const InstanceNic honest = Nic("i-00000000000000001", "10.77.0.4");
  const InstanceNic evil = Nic("i-00000000000000002", "10.77.0.5");
  REQUIRE_OK(net->AddInstance(honest));
  REQUIRE_OK(net->AddInstance(evil));
  Guest g1(prefix, "g1", host.ns.name(), "br-mc0", honest.tap, honest.mac, host.state.path());
  Guest g2(prefix, "g2", host.ns.name(), "br-mc0", evil.tap, evil.mac, host.state.path());
  REQUIRE(g1.ok());
  REQUIRE(g2.ok());
  PeerEchoServer metadata(host.ns.name(), "169.254.169.254", 80);
  REQUIRE_OK(metadata.status());
  REQUIRE_OK(g1.Dhcp().status());
  REQUIRE_OK(g2.Dhcp().status());
  REQUIRE(g1.HttpGet(kMetadataUrl).value_or("") == "10.77.0.4");
  REQUIRE(g2.HttpGet(kMetadataUrl).value_or("") == "10.77.0.5");
  const std::string bridge_mac = net->bridge_mac().ToString();
  auto host_neigh_of_honest = [&] {
    return host.ns.Run({"ip", "neigh", "show", "10.77.0.4", "dev", "br-mc0"}).out;
  };
  REQUIRE(absl::StrContains(host_neigh_of_honest(), honest.mac));

  SECTION("IP spoofing: the other guest's IP with its own MAC") {
    REQUIRE_OK(g2.SetIp("10.77.0.4/24", "10.77.0.1"));
    CHECK_FALSE(g2.HttpGet(kMetadataUrl).ok());  // its ARP for the gateway is dropped
    // Gratuitous ARP claiming 10.77.0.4 must not poison the host's neighbour table.
    g2.ns().Run({"busybox", "arping", "-U", "-c", "2", "-w", "2", "-I", "eth0", "-s", "10.77.0.4",
                 "10.77.0.4"});
    g2.ns().Run({"busybox", "arping", "-A", "-c", "2", "-w", "2", "-I", "eth0", "-s", "10.77.0.4",
                 "10.77.0.4"});
    CHECK(absl::StrContains(host_neigh_of_honest(), honest.mac));
    CHECK_FALSE(absl::StrContains(host_neigh_of_honest(), evil.mac));
    // It cannot even resolve the gateway with the stolen source address.
    CHECK(g2.ns()
              .Run({"busybox", "arping", "-c", "2", "-w", "2", "-I", "eth0", "-s", "10.77.0.4",
                    "10.77.0.1"})
              .exit_code != 0);
    // So far only ARP left the guest: the IPv4 counter of its port has seen nothing.
    CHECK(ForeignIpv4Drops(host.ns, evil.tap) == 0);
    // With a static neighbour entry its IP packets get out of the guest — and are dropped, by
    // the rule for foreign IPv4 sources.
    REQUIRE(g2.ns()
                .Run({"ip", "neigh", "replace", "10.77.0.1", "lladdr", bridge_mac, "dev", "eth0",
                      "nud", "permanent"})
                .exit_code == 0);
    CHECK_FALSE(g2.HttpGet(kMetadataUrl).ok());
    CHECK(ForeignIpv4Drops(host.ns, evil.tap) > 0);
    CHECK(ForeignIpv4Drops(host.ns, honest.tap) == 0);
    CHECK(g1.HttpGet(kMetadataUrl).value_or("") == "10.77.0.4");
  }

  SECTION("MAC spoofing: the other guest's MAC with its own IP") {
    REQUIRE_OK(g2.SetMac(honest.mac));
    REQUIRE_OK(g2.SetIp("10.77.0.5/24", "10.77.0.1"));
    CHECK_FALSE(g2.HttpGet(kMetadataUrl).ok());
    CHECK(g2.ns()
              .Run({"busybox", "arping", "-c", "2", "-w", "2", "-I", "eth0", "10.77.0.1"})
              .exit_code != 0);
    CHECK(g1.HttpGet(kMetadataUrl).value_or("") == "10.77.0.4");
  }

  SECTION("full clone: the other guest's MAC and IP") {
    REQUIRE_OK(g2.SetMac(honest.mac));
    REQUIRE_OK(g2.SetIp("10.77.0.4/24", "10.77.0.1"));
    REQUIRE(g2.ns()
                .Run({"ip", "neigh", "replace", "10.77.0.1", "lladdr", bridge_mac, "dev", "eth0",
                      "nud", "permanent"})
                .exit_code == 0);
    CHECK_FALSE(g2.HttpGet(kMetadataUrl).ok());
    // The bridge never learned the honest MAC on the evil port.
    CommandResult fdb = host.ns.Run({"bridge", "fdb", "show", "br", "br-mc0"});
    for (absl::string_view line : absl::StrSplit(fdb.out, '\n')) {
      if (absl::StrContains(line, honest.mac)) CHECK_FALSE(absl::StrContains(line, evil.tap));
    }
    CHECK(g1.HttpGet(kMetadataUrl).value_or("") == "10.77.0.4");
    CHECK(g1.ns().Run({"busybox", "ping", "-c", "1", "-W", "2", "10.77.0.1"}).exit_code == 0);
  }

  SECTION("DHCP for someone else's MAC is refused") {
    // udhcpc sends chaddr = its interface MAC, so clone the MAC for DHCP only: the frame's
    // source MAC then mismatches the port and the request is dropped.
    REQUIRE_OK(g2.SetMac(honest.mac));
    CHECK_FALSE(g2.Dhcp(2).ok());
  }

  // Back to honest: the evil guest works again, so the drops above were about spoofing.
  REQUIRE_OK(g2.SetMac(evil.mac));
  g2.ns().Run({"ip", "neigh", "flush", "dev", "eth0"});
  REQUIRE_OK(g2.Dhcp().status());
  CHECK(g2.HttpGet(kMetadataUrl).value_or("") == "10.77.0.5");
  CHECK(g1.HttpGet(kMetadataUrl).value_or("") == "10.77.0.4");

  // Drops are counted per port (operators can see who misbehaves).
  CommandResult rules = host.ns.Run(
      {"nft", "list", "chain", "bridge", NftTableName("br-mc0"), NftPortChainName(evil.tap)});
  CHECK(absl::StrContains(rules.out, "instance " + evil.instance_id));
  REQUIRE_OK(net->Teardown());
}

TEST_CASE("re-adoption after an agent restart, dnsmasq restart, removal and IP reuse, teardown") {
  SkipUnlessPossible();
  const std::string prefix = "mc-test-" + testing::RandomSuffix();
  Host host(prefix);
  REQUIRE(host.ns.ok());
  const HostNetworkOptions options = host.Options("br-mc0", "10.77.0.0/24");
  const InstanceNic a = Nic("i-0000000000000000a", "10.77.0.4");
  const InstanceNic b = Nic("i-0000000000000000b", "10.77.0.5");
  int first_pid = 0;
  std::string dir;
  {
    auto net = MakeNetwork(options);
    REQUIRE_OK(net->EnsureBridge());
    REQUIRE_OK(net->AddInstance(a));
    REQUIRE_OK(net->AddInstance(b));
    REQUIRE(net->DhcpServerPid().has_value());
    first_pid = *net->DhcpServerPid();
    dir = net->dir();
  }  // the "agent" exits; bridge, rules and dnsmasq stay

  Guest ga(prefix, "ga", host.ns.name(), "br-mc0", a.tap, a.mac, host.state.path());
  REQUIRE(ga.ok());
  PeerEchoServer metadata(host.ns.name(), "169.254.169.254", 80);
  REQUIRE_OK(metadata.status());
  REQUIRE(ga.Dhcp().value_or(std::map<std::string, std::string>{})["ip"] == "10.77.0.4");

  auto net = MakeNetwork(options);
  REQUIRE_OK(net->EnsureBridge());
  CHECK(net->DhcpServerPid() == first_pid);  // reused, not restarted
  REQUIRE(net->Instances().size() == 2);
  CHECK(net->Instances()[0] == NormalizeInstanceNic(a, net->plan(), "br-mc0").value());
  CHECK(ga.HttpGet(kMetadataUrl).value_or("") == "10.77.0.4");

  // dnsmasq dies: EnsureDhcpServer brings it back.
  kill(first_pid, SIGKILL);
  for (int i = 0; i < 100 && ProcessAlive(first_pid); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  CHECK_FALSE(net->DhcpServerPid().has_value());
  REQUIRE_OK(net->EnsureDhcpServer());
  REQUIRE(net->DhcpServerPid().has_value());
  CHECK(*net->DhcpServerPid() != first_pid);
  REQUIRE(ga.Dhcp().value_or(std::map<std::string, std::string>{})["ip"] == "10.77.0.4");

  // Options changed (new DNS servers): the next EnsureBridge restarts dnsmasq with them.
  HostNetworkOptions with_dns = options;
  with_dns.dns_servers = {"192.0.2.53"};
  auto net2 = MakeNetwork(with_dns);
  REQUIRE_OK(net2->EnsureBridge());
  auto lease = ga.Dhcp();
  REQUIRE_OK(lease.status());
  CHECK((*lease)["dns"] == "192.0.2.53");
  net = std::move(net2);

  // Removal: the guest loses its port; its IP goes to a new instance with another MAC at once.
  REQUIRE_OK(net->RemoveInstance(a.instance_id));
  REQUIRE_OK(net->RemoveInstance(a.instance_id));  // idempotent
  if (net->drops_unknown_ports()) CHECK_FALSE(ga.HttpGet(kMetadataUrl).ok());
  CHECK(absl::StrContains(
      host.ns.Run({"nft", "list", "map", "bridge", NftTableName("br-mc0"), "ports"}).out,
      "elements = { \"" + b.tap + "\""));
  const InstanceNic c = Nic("i-0000000000000000c", "10.77.0.4");
  REQUIRE_OK(net->AddInstance(c));
  Guest gc(prefix, "gc", host.ns.name(), "br-mc0", c.tap, c.mac, host.state.path());
  REQUIRE(gc.ok());
  auto lease_c = gc.Dhcp();
  INFO(DnsmasqLog(*net));
  REQUIRE_OK(lease_c.status());
  CHECK((*lease_c)["ip"] == "10.77.0.4");
  CHECK(gc.HttpGet(kMetadataUrl).value_or("") == "10.77.0.4");

  // SyncInstances converges on the desired set.
  REQUIRE_OK(SyncInstances(*net, {c}));
  CHECK(net->Instances().size() == 1);

  // Teardown leaves nothing: no bridge, no tables, no dnsmasq, no files.
  const int pid = net->DhcpServerPid().value_or(0);
  REQUIRE(pid > 0);
  REQUIRE_OK(net->Teardown());
  CHECK(host.ns.Run({"ip", "link", "show", "dev", "br-mc0"}).exit_code != 0);
  CommandResult tables = host.ns.Run({"nft", "list", "tables"});
  CHECK(tables.exit_code == 0);
  CHECK_FALSE(absl::StrContains(tables.out, "minicloud"));
  CHECK_FALSE(ProcessAlive(pid));
  CHECK_FALSE(net->DhcpServerPid().has_value());
  CHECK_FALSE(std::filesystem::exists(dir));
  CHECK_FALSE(std::filesystem::exists(net->dnsmasq_dir()));
  REQUIRE_OK(net->Teardown());  // idempotent
  CHECK(absl::IsFailedPrecondition(net->AddInstance(c)));
  // And it comes back from nothing.
  REQUIRE_OK(net->EnsureBridge());
  REQUIRE_OK(net->Teardown());
}

TEST_CASE(
    "NAT egress masquerades guests and without it nothing is routed and the host is guarded") {
  SkipUnlessPossible();
  const std::string prefix = "mc-test-" + testing::RandomSuffix();
  Host host(prefix);
  REQUIRE(host.ns.ok());
  // An "outside" network (TEST-NET-2) behind the host's uplink.
  ScopedNetns outside(prefix + "-o");
  REQUIRE(outside.ok());
  REQUIRE(testing::Exec({"ip", "link", "add", "mc-up", "netns", host.ns.name(), "type", "veth",
                         "peer", "name", "eth0", "netns", outside.name()})
              .exit_code == 0);
  REQUIRE(host.ns.Run({"ip", "addr", "add", "198.51.100.1/24", "dev", "mc-up"}).exit_code == 0);
  REQUIRE(host.ns.Run({"ip", "link", "set", "mc-up", "up"}).exit_code == 0);
  REQUIRE(outside.Run({"ip", "addr", "add", "198.51.100.2/24", "dev", "eth0"}).exit_code == 0);
  REQUIRE(outside.Run({"ip", "addr", "add", "198.51.100.3/24", "dev", "eth0"}).exit_code == 0);
  REQUIRE(outside.Run({"ip", "link", "set", "eth0", "up"}).exit_code == 0);
  PeerEchoServer far(outside.name(), "198.51.100.2", 8080);
  REQUIRE_OK(far.status());
  PeerEchoServer controller(outside.name(), "198.51.100.3", 8080);  // stands for the controller
  REQUIRE_OK(controller.status());

  std::ifstream fwd_in("/proc/sys/net/ipv4/ip_forward");
  std::string machine_forwarding;
  fwd_in >> machine_forwarding;

  HostNetworkOptions plain = host.Options("br-mc0", "10.77.0.0/24");
  auto net = MakeNetwork(plain);
  REQUIRE_OK(net->EnsureBridge());
  PeerEchoServer host_service(host.ns.name(), "10.77.0.1", 8080);  // e.g. the agent's API
  REQUIRE_OK(host_service.status());
  PeerEchoServer metadata(host.ns.name(), "169.254.169.254", 80);
  REQUIRE_OK(metadata.status());
  const InstanceNic a = Nic("i-0000000000000000a", "10.77.0.4");
  REQUIRE_OK(net->AddInstance(a));
  Guest ga(prefix, "ga", host.ns.name(), "br-mc0", a.tap, a.mac, host.state.path());
  REQUIRE(ga.ok());
  REQUIRE_OK(ga.Dhcp().status());

  CHECK(ga.HttpGet(kMetadataUrl).value_or("") == "10.77.0.4");
  CHECK_FALSE(ga.HttpGet("http://198.51.100.2:8080/").ok());  // NAT off: not routed
  CHECK_FALSE(ga.HttpGet("http://10.77.0.1:8080/").ok());     // guard: host services closed
  CHECK(ga.ns().Run({"busybox", "ping", "-c", "1", "-W", "2", "10.77.0.1"}).exit_code == 0);

  HostNetworkOptions nat = plain;
  nat.nat_egress = true;
  nat.egress_interface = "mc-up";
  nat.blocked_destinations = {"198.51.100.3"};
  net = MakeNetwork(nat);
  REQUIRE_OK(net->EnsureBridge());
  CHECK(ga.HttpGet("http://198.51.100.2:8080/").value_or("") == "198.51.100.1");  // masqueraded
  CHECK_FALSE(ga.HttpGet("http://198.51.100.3:8080/").ok());  // the controller stays closed
  CHECK(testing::HttpGetIn(host.ns.name(), "http://198.51.100.3:8080/").value_or("") ==
        "198.51.100.1");  // for guests only, not for the host itself
  CHECK_FALSE(ga.HttpGet("http://10.77.0.1:8080/").ok());
  // The outside cannot open connections to guests.
  REQUIRE(outside.Run({"ip", "route", "add", "10.77.0.0/24", "via", "198.51.100.1"}).exit_code ==
          0);
  PeerEchoServer guest_service(ga.ns().name(), "10.77.0.4", 8080);
  REQUIRE_OK(guest_service.status());
  CHECK_FALSE(testing::HttpGetIn(outside.name(), "http://10.77.0.4:8080/").ok());
  CHECK(ga.HttpGet("http://10.77.0.4:8080/").value_or("") == "10.77.0.4");

  HostNetworkOptions port_open = plain;
  port_open.open_tcp_ports = {8080};
  net = MakeNetwork(port_open);
  REQUIRE_OK(net->EnsureBridge());
  CHECK(ga.HttpGet("http://10.77.0.1:8080/").value_or("") == "10.77.0.4");

  HostNetworkOptions open = plain;
  open.guard_host = false;
  net = MakeNetwork(open);
  REQUIRE_OK(net->EnsureBridge());  // NAT and guard tables go away
  CHECK(ga.HttpGet("http://10.77.0.1:8080/").value_or("") == "10.77.0.4");
  CommandResult tables = host.ns.Run({"nft", "list", "tables"});
  CHECK_FALSE(absl::StrContains(tables.out, "minicloud_nat_"));
  CHECK_FALSE(absl::StrContains(tables.out, "inet minicloud_"));

  // Forwarding was switched on in the host's namespace only.
  CHECK(host.ns.Run({"cat", "/proc/sys/net/ipv4/ip_forward"}).out == "1\n");
  std::ifstream fwd_after("/proc/sys/net/ipv4/ip_forward");
  std::string machine_after;
  fwd_after >> machine_after;
  CHECK(machine_after == machine_forwarding);
  REQUIRE_OK(net->Teardown());
}

// Guest-side DNS lookup through `server` with busybox nslookup: the IPv4 addresses answered for
// `name`; an error carrying nslookup's output when there are none.
absl::StatusOr<std::vector<std::string>> Lookup(const Guest& g, const std::string& name,
                                                const std::string& server) {
  const CommandResult r =
      g.ns().Run({"busybox", "nslookup", "-type=a", name, server}, absl::Seconds(30));
  std::vector<std::string> addresses;
  bool in_answer = false;
  for (absl::string_view line : absl::StrSplit(r.out, '\n')) {
    if (absl::StartsWith(line, "Name:")) in_answer = true;
    if (in_answer && absl::StartsWith(line, "Address:")) {
      addresses.emplace_back(absl::StripAsciiWhitespace(line.substr(8)));
    }
  }
  if (r.exit_code != 0 || addresses.empty()) {
    return absl::NotFoundError(
        absl::StrCat("nslookup ", name, " ", server, " (exit ", r.exit_code, "): ", r.out, r.err));
  }
  return addresses;
}

std::string OneAddress(const Guest& g, const std::string& name) {
  auto a = Lookup(g, name, "172.31.0.2");
  INFO(name << ": " << a.status().ToString());
  if (!a.ok() || a->size() != 1) return "";
  return (*a)[0];
}

// Polls `lookup` until it returns `want` (dnsmasq notices a rewritten upstream file
// asynchronously); gives up after ~10 s.
bool EventuallyResolves(const Guest& g, const std::string& name, const std::string& want) {
  for (int i = 0; i < 40; ++i) {
    if (OneAddress(g, name) == want) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  return false;
}

TEST_CASE("DNS at the VPC base + 2: instance names, other hosts' names, forwarding upstream") {
  SkipUnlessPossible();
  const std::string prefix = "mc-test-" + testing::RandomSuffix();
  Host host(prefix);
  REQUIRE(host.ns.ok());
  // "Outside": a resolver that knows repo.outside.test, and that would answer names of the
  // private domain wrongly if they were ever forwarded to it.
  ScopedNetns outside(prefix + "-o");
  REQUIRE(outside.ok());
  REQUIRE(testing::Exec({"ip", "link", "add", "mc-up", "netns", host.ns.name(), "type", "veth",
                         "peer", "name", "eth0", "netns", outside.name()})
              .exit_code == 0);
  REQUIRE(host.ns.Run({"ip", "addr", "add", "198.51.100.1/24", "dev", "mc-up"}).exit_code == 0);
  REQUIRE(host.ns.Run({"ip", "link", "set", "mc-up", "up"}).exit_code == 0);
  REQUIRE(outside.Run({"ip", "addr", "add", "198.51.100.2/24", "dev", "eth0"}).exit_code == 0);
  REQUIRE(outside.Run({"ip", "link", "set", "eth0", "up"}).exit_code == 0);
  const CommandResult upstream = outside.Run(
      {"dnsmasq", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
       "--listen-address=198.51.100.2", "--bind-interfaces", "--user=root",
       "--pid-file=" + host.state.path() + "/outside-dns.pid",
       "--address=/outside.test/198.51.100.80", "--address=/compute.internal/198.51.100.99"});
  REQUIRE(upstream.exit_code == 0);

  // The machine's resolv.conf as the agent sees it: a loopback resolver (unreachable from the
  // host's namespace, left out) and the outside one.
  const std::string resolv = host.state.path() + "/resolv.conf";
  std::ofstream(resolv) << "# test\nnameserver 127.0.0.53\nnameserver 198.51.100.2\n";

  HostNetworkOptions options = host.Options("br-mc0", "172.31.16.0/20");
  options.dns = true;
  options.vpc_cidr = "172.31.0.0/16";
  options.dns_domain = "home-1.compute.internal";
  options.resolv_conf = resolv;
  // A dnsmasq an older agent started, with its pid file still in the state directory.
  const std::string legacy_dir = host.state.path() + "/network-br-mc0";
  std::filesystem::create_directories(legacy_dir);
  REQUIRE(host.ns
              .Run({"dnsmasq", "--conf-file=/dev/null", "--port=0", "--interface=br-mc0",
                    "--bind-dynamic", "--user=root", "--pid-file=" + legacy_dir + "/dnsmasq.pid"})
              .exit_code == 0);
  int legacy_pid = 0;
  {
    std::ifstream in(legacy_dir + "/dnsmasq.pid");
    in >> legacy_pid;
  }
  REQUIRE(legacy_pid > 0);
  auto net = MakeNetwork(options);
  REQUIRE_OK(net->EnsureBridge());
  CHECK_FALSE(ProcessAlive(legacy_pid));  // replaced, not left next to the new one
  REQUIRE(net->dns_address().has_value());
  CHECK(net->dns_address()->ToString() == "172.31.0.2");
  CHECK(absl::StrContains(host.ns.Run({"ip", "addr", "show", "dev", "br-mc0"}).out,
                          "inet 172.31.0.2/32"));
  std::ifstream upstream_in(net->dnsmasq_dir() + "/upstream.conf");
  std::string upstream_text((std::istreambuf_iterator<char>(upstream_in)), {});
  CHECK(upstream_text == "nameserver 198.51.100.2\n");

  // dnsmasq runs as the unprivileged user, and its directory is its own, read-only.
  const std::optional<int> pid = net->DhcpServerPid();
  REQUIRE(pid.has_value());
  struct passwd* pw = getpwnam("dnsmasq");
  REQUIRE(pw != nullptr);
  std::ifstream status_in("/proc/" + std::to_string(*pid) + "/status");
  std::string status_text((std::istreambuf_iterator<char>(status_in)), {});
  const std::string uid = std::to_string(pw->pw_uid);
  CHECK(absl::StrContains(status_text, "Uid:\t" + uid + "\t" + uid + "\t" + uid));
  struct stat dir_stat {};
  REQUIRE(stat(net->dnsmasq_dir().c_str(), &dir_stat) == 0);
  CHECK(dir_stat.st_uid == pw->pw_uid);
  CHECK((dir_stat.st_mode & 07777) == 0500);

  const InstanceNic a = Nic("i-0000000000000000a", "172.31.16.4");
  REQUIRE_OK(net->AddInstance(a));
  Guest ga(prefix, "ga", host.ns.name(), "br-mc0", a.tap, a.mac, host.state.path());
  REQUIRE(ga.ok());
  auto lease = ga.Dhcp();
  INFO(DnsmasqLog(*net));
  REQUIRE_OK(lease.status());
  CHECK((*lease)["ip"] == "172.31.16.4");
  CHECK((*lease)["dns"] == "172.31.0.2");  // DHCP option 6: the VPC resolver, not the gateway
  CHECK((*lease)["domain"] == "home-1.compute.internal");

  // The instance's own names, another host's instance, and an outside name.
  CHECK(OneAddress(ga, "ip-172-31-16-4.home-1.compute.internal") == "172.31.16.4");
  CHECK(OneAddress(ga, "ip-172-31-16-4") == "172.31.16.4");
  CHECK(OneAddress(ga, "ip-172-31-32-9.home-1.compute.internal") == "172.31.32.9");
  CHECK(OneAddress(ga, "repo.outside.test") == "198.51.100.80");
  // Names of the private domain are never forwarded: unknown ones do not exist.
  CHECK_FALSE(Lookup(ga, "nothing.home-1.compute.internal", "172.31.0.2").ok());
  CHECK_FALSE(Lookup(ga, "ip-10-1-2-3.home-1.compute.internal", "172.31.0.2").ok());  // not VPC

  // An instance added later, with a hostname of its own, resolves at once; removed, it is gone.
  InstanceNic web = Nic("i-0000000000000000b", "172.31.16.5");
  web.hostname = "web";
  REQUIRE_OK(net->AddInstance(web));
  CHECK(OneAddress(ga, "web.home-1.compute.internal") == "172.31.16.5");
  CHECK(OneAddress(ga, "web") == "172.31.16.5");
  REQUIRE_OK(net->RemoveInstance(web.instance_id));
  CHECK_FALSE(Lookup(ga, "web.home-1.compute.internal", "172.31.0.2").ok());

  // Only DNS, DHCP and metadata on the host: another port of the DNS address stays closed.
  PeerEchoServer other(host.ns.name(), "172.31.0.2", 8080);
  REQUIRE_OK(other.status());
  CHECK_FALSE(ga.HttpGet("http://172.31.0.2:8080/").ok());

  // The machine's resolvers change: the next EnsureDhcpServer follows them.
  std::ofstream(resolv) << "nameserver 127.0.0.53\n";
  REQUIRE_OK(net->EnsureDhcpServer());
  CHECK(EventuallyResolves(ga, "repo.outside.test", ""));
  CHECK(OneAddress(ga, "ip-172-31-16-4.home-1.compute.internal") == "172.31.16.4");
  std::ofstream(resolv) << "nameserver 198.51.100.2\n";
  REQUIRE_OK(net->EnsureDhcpServer());
  CHECK(EventuallyResolves(ga, "repo.outside.test", "198.51.100.80"));

  // A configured upstream wins over resolv.conf.
  HostNetworkOptions fixed = options;
  fixed.dns_upstream = {"198.51.100.7"};
  auto net2 = MakeNetwork(fixed);
  REQUIRE_OK(net2->EnsureBridge());
  std::ifstream fixed_in(net2->dnsmasq_dir() + "/upstream.conf");
  CHECK(std::string((std::istreambuf_iterator<char>(fixed_in)), {}) == "nameserver 198.51.100.7\n");

  REQUIRE_OK(net2->Teardown());
  CHECK_FALSE(std::filesystem::exists(net2->dnsmasq_dir()));
}

TEST_CASE("two host networks in one namespace do not collide") {
  SkipUnlessPossible();
  const std::string prefix = "mc-test-" + testing::RandomSuffix();
  Host host(prefix);
  REQUIRE(host.ns.ok());
  auto net1 = MakeNetwork(host.Options("br-mca", "10.77.1.0/24"));
  auto net2 = MakeNetwork(host.Options("br-mcb", "10.77.2.0/24"));
  REQUIRE_OK(net1->EnsureBridge());
  REQUIRE_OK(net2->EnsureBridge());
  CHECK(net1->bridge_mac() != net2->bridge_mac());
  const InstanceNic a = Nic("i-0000000000000000a", "10.77.1.4");
  const InstanceNic b = Nic("i-0000000000000000b", "10.77.2.4");
  REQUIRE_OK(net1->AddInstance(a));
  REQUIRE_OK(net2->AddInstance(b));
  Guest ga(prefix, "ga", host.ns.name(), "br-mca", a.tap, a.mac, host.state.path());
  Guest gb(prefix, "gb", host.ns.name(), "br-mcb", b.tap, b.mac, host.state.path());
  REQUIRE(ga.ok());
  REQUIRE(gb.ok());
  auto la = ga.Dhcp();
  auto lb = gb.Dhcp();
  INFO(DnsmasqLog(*net1) << DnsmasqLog(*net2));
  REQUIRE_OK(la.status());
  REQUIRE_OK(lb.status());
  CHECK((*la)["ip"] == "10.77.1.4");
  CHECK((*la)["router"] == "10.77.1.1");
  CHECK((*lb)["ip"] == "10.77.2.4");
  CHECK((*lb)["router"] == "10.77.2.1");
  PeerEchoServer metadata(host.ns.name(), "169.254.169.254", 80);
  REQUIRE_OK(metadata.status());
  CHECK(ga.HttpGet(kMetadataUrl).value_or("") == "10.77.1.4");
  CHECK(gb.HttpGet(kMetadataUrl).value_or("") == "10.77.2.4");

  REQUIRE_OK(net1->Teardown());
  auto again = gb.Dhcp();
  REQUIRE_OK(again.status());
  CHECK((*again)["ip"] == "10.77.2.4");
  CHECK(gb.HttpGet(kMetadataUrl).value_or("") == "10.77.2.4");
  REQUIRE_OK(net2->Teardown());
}

}  // namespace
}  // namespace minicloud::network
