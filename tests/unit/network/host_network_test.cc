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
#include "tests/unit/network/host_network_fixture.h"
#include "tests/unit/network/netns_fixture.h"

namespace minicloud::network {
namespace {

using testing::DnsmasqLog;
using testing::Guest;
using testing::Host;
using testing::kMetadataUrl;
using testing::LinkUplink;
using testing::MakeNetwork;
using testing::Nic;
using testing::PeerEchoServer;
using testing::ProcessAlive;
using testing::ScopedNetns;
using testing::SkipUnlessPossible;

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
  LinkUplink(host, outside, {"198.51.100.2", "198.51.100.3"});
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
