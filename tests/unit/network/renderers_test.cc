// Pure renderers: nftables scripts, dnsmasq command line and files, NIC validation, the fake.
#include <catch2/catch.hpp>
#include <string>

#include "absl/strings/match.h"
#include "agent/network/dnsmasq.h"
#include "agent/network/fake/fake_host_network.h"
#include "agent/network/host_network.h"
#include "agent/network/nftables.h"

namespace minicloud::network {
namespace {

SubnetPlan Plan(const char* cidr = "10.0.0.0/24") { return *SubnetPlan::FromCidr(cidr); }

TEST_CASE("RenderNftPort: the exact anti-spoofing chain for one instance") {
  PortSpec port{"i-0123456789abcdef0", "mc56789abcdef0", *MacAddress::Parse("02:11:22:33:44:55"),
                *Ipv4Address::Parse("10.0.0.4")};
  const std::string expected =
      "add chain bridge minicloud_br-mc0 port_mc56789abcdef0\n"
      "flush chain bridge minicloud_br-mc0 port_mc56789abcdef0\n"
      "add rule bridge minicloud_br-mc0 port_mc56789abcdef0 ether saddr != 02:11:22:33:44:55 "
      "counter drop comment \"instance i-0123456789abcdef0\"\n"
      "add rule bridge minicloud_br-mc0 port_mc56789abcdef0 arp htype 1 arp ptype ip arp hlen 6 "
      "arp plen 4 arp saddr ether 02:11:22:33:44:55 arp saddr ip { 10.0.0.4, 0.0.0.0 } accept\n"
      "add rule bridge minicloud_br-mc0 port_mc56789abcdef0 udp sport 67 counter drop\n"
      "add rule bridge minicloud_br-mc0 port_mc56789abcdef0 ip saddr 10.0.0.4 accept\n"
      "add rule bridge minicloud_br-mc0 port_mc56789abcdef0 ip saddr 0.0.0.0 ip daddr "
      "255.255.255.255 udp sport 68 udp dport 67 @th,288,48 0x021122334455 accept\n"
      "add rule bridge minicloud_br-mc0 port_mc56789abcdef0 meta protocol ip counter drop "
      "comment \"foreign IPv4 source\"\n"
      "add rule bridge minicloud_br-mc0 port_mc56789abcdef0 ip6 saddr { fe80::11:22ff:fe33:4455, "
      ":: } icmpv6 type { nd-router-solicit, nd-neighbor-solicit, nd-neighbor-advert, "
      "mld-listener-report, mld-listener-done, mld2-listener-report } accept\n"
      "add rule bridge minicloud_br-mc0 port_mc56789abcdef0 counter drop\n"
      "add element bridge minicloud_br-mc0 ports { \"mc56789abcdef0\" : jump "
      "port_mc56789abcdef0 }\n";
  CHECK(RenderNftPort("br-mc0", port) == expected);
}

TEST_CASE("RenderNftRemovePort uses add-then-delete so it is idempotent") {
  CHECK(RenderNftRemovePort("br-mc0", "mcx") ==
        "add chain bridge minicloud_br-mc0 port_mcx\n"
        "add element bridge minicloud_br-mc0 ports { \"mcx\" : jump port_mcx }\n"
        "delete element bridge minicloud_br-mc0 ports { \"mcx\" }\n"
        "flush chain bridge minicloud_br-mc0 port_mcx\n"
        "delete chain bridge minicloud_br-mc0 port_mcx\n");
}

TEST_CASE("RenderNftBase: guard and NAT follow the options") {
  NftConfig c{.bridge = "br-mc0",
              .plan = Plan(),
              .guard_host = true,
              .dns_forwarder = false,
              .open_tcp_ports = {},
              .nat_egress = false,
              .egress_interface = "",
              .scope_to_bridge = true};
  std::string s = RenderNftBase(c);
  CHECK(absl::StrContains(s,
                          "add rule bridge minicloud_br-mc0 prerouting meta ibrname \"br-mc0\" "
                          "iifname vmap @ports\n"));
  CHECK(absl::StrContains(s,
                          "add rule bridge minicloud_br-mc0 prerouting meta ibrname \"br-mc0\" "
                          "counter drop"));
  NftConfig unscoped = c;
  unscoped.scope_to_bridge = false;
  const std::string u = RenderNftBase(unscoped);
  CHECK(absl::StrContains(u, "add rule bridge minicloud_br-mc0 prerouting iifname vmap @ports\n"));
  CHECK_FALSE(absl::StrContains(u, "prerouting counter drop"));
  CHECK(absl::StrContains(s,
                          "add rule inet minicloud_br-mc0 input iifname \"br-mc0\" jump "
                          "guest_to_host\n"));
  CHECK(absl::StrContains(s, "ip daddr 169.254.169.254 tcp dport 80 accept"));
  CHECK(absl::StrContains(s, "ip6 daddr fd00:ec2::254 tcp dport 80 accept"));
  CHECK_FALSE(absl::StrContains(s, "dport 53"));
  CHECK(absl::StrContains(s,
                          "add table ip minicloud_nat_br-mc0\ndelete table ip "
                          "minicloud_nat_br-mc0\n"));

  c.guard_host = false;
  c.dns_forwarder = true;
  c.nat_egress = true;
  c.egress_interface = "eth0";
  s = RenderNftBase(c);
  CHECK(absl::StrContains(s,
                          "add table inet minicloud_br-mc0\ndelete table inet "
                          "minicloud_br-mc0\n"));
  CHECK(absl::StrContains(s,
                          "add rule ip minicloud_nat_br-mc0 postrouting ip saddr 10.0.0.0/24 "
                          "ip daddr != 10.0.0.0/24 oifname != \"br-mc0\" oifname \"eth0\" "
                          "masquerade\n"));
  CHECK(absl::StrContains(s, "forward oifname \"br-mc0\" ct state established,related accept\n"));
  CHECK(absl::StrContains(s, "forward oifname \"br-mc0\" drop\n"));

  c.guard_host = true;
  c.open_tcp_ports = {8773, 9000};
  CHECK(absl::StrContains(RenderNftBase(c), "guest_to_host tcp dport { 8773, 9000 } accept\n"));
  CHECK(absl::StrContains(RenderNftBase(c),
                          "ip daddr 10.0.0.1 meta l4proto { tcp, udp } th dport 53 accept"));
}

TEST_CASE("RenderNftTeardown deletes all three tables, present or not") {
  CHECK(RenderNftTeardown("b") ==
        "add table bridge minicloud_b\ndelete table bridge minicloud_b\n"
        "add table inet minicloud_b\ndelete table inet minicloud_b\n"
        "add table ip minicloud_nat_b\ndelete table ip minicloud_nat_b\n");
}

TEST_CASE("DnsmasqArgv: DHCP only, static leases, bound to the bridge") {
  DnsmasqConfig c;
  c.bridge = "br-mc0";
  c.plan = Plan();
  c.dir = "/var/lib/minicloud/network-br-mc0";
  const std::vector<std::string> expected = {
      "dnsmasq",
      "--conf-file=/dev/null",
      "--pid-file=/var/lib/minicloud/network-br-mc0/dnsmasq.pid",
      "--interface=br-mc0",
      "--except-interface=lo",
      "--bind-dynamic",
      "--no-hosts",
      "--dhcp-authoritative",
      "--dhcp-range=10.0.0.0,static,255.255.255.0,3600",
      "--dhcp-hostsfile=/var/lib/minicloud/network-br-mc0/dhcp-hosts",
      "--dhcp-leasefile=/var/lib/minicloud/network-br-mc0/dnsmasq.leases",
      "--dhcp-option=option:router,10.0.0.1",
      "--port=0",
      "--user=root",
  };
  CHECK(DnsmasqArgv(c) == expected);

  c.dns_servers = {"192.0.2.53", "192.0.2.54"};
  auto with_dns = DnsmasqArgv(c);
  CHECK(std::find(with_dns.begin(), with_dns.end(),
                  "--dhcp-option=option:dns-server,192.0.2.53,192.0.2.54") != with_dns.end());

  c.dns_forwarder = true;
  c.user = "";
  c.log_to_file = true;
  auto argv = DnsmasqArgv(c);
  CHECK(std::find(argv.begin(), argv.end(), "--port=0") == argv.end());
  CHECK(std::find(argv.begin(), argv.end(), "--dhcp-option=option:dns-server,10.0.0.1") !=
        argv.end());
  CHECK(argv.back() == "--log-facility=/var/lib/minicloud/network-br-mc0/dnsmasq.log");
}

TEST_CASE("RenderDhcpHosts and FilterLeases") {
  std::vector<DhcpHost> hosts = {
      {*MacAddress::Parse("02:00:00:00:00:01"), *Ipv4Address::Parse("10.0.0.4"), "ip-10-0-0-4"},
      {*MacAddress::Parse("02:00:00:00:00:02"), *Ipv4Address::Parse("10.0.0.5"), "web"}};
  CHECK(RenderDhcpHosts(hosts) ==
        "02:00:00:00:00:01,10.0.0.4,ip-10-0-0-4\n02:00:00:00:00:02,10.0.0.5,web\n");

  const std::string leases =
      "1700000000 02:00:00:00:00:01 10.0.0.4 ip-10-0-0-4 *\n"
      "1700000000 02:00:00:00:00:09 10.0.0.5 old *\n"        // IP now belongs to another MAC
      "1700000000 02:00:00:00:00:02 10.0.0.6 moved 01:02\n"  // MAC now has another IP
      "1700000000 02:00:00:00:00:07 10.0.0.9 gone *\n"       // instance removed
      "duid 00:01:00:01:2c:00:00:00:00:00:00:00\n";
  int removed = 0;
  CHECK(FilterLeases(leases, hosts, &removed) ==
        "1700000000 02:00:00:00:00:01 10.0.0.4 ip-10-0-0-4 *\n"
        "duid 00:01:00:01:2c:00:00:00:00:00:00:00\n");
  CHECK(removed == 3);
  CHECK(FilterLeases("", hosts, &removed).empty());
  CHECK(removed == 0);
}

TEST_CASE("NormalizeInstanceNic validates and fills defaults") {
  const SubnetPlan plan = Plan();
  auto nic = MakeInstanceNic("i-0123456789abcdef0", *Ipv4Address::Parse("10.0.0.4"));
  REQUIRE(nic.ok());
  CHECK(nic->tap == "mc56789abcdef0");
  CHECK(nic->mac == InstanceMac("i-0123456789abcdef0").ToString());

  InstanceNic upper = *nic;
  upper.mac = "02:AA:BB:CC:DD:EE";
  auto n = NormalizeInstanceNic(upper, plan, "br-mc0");
  REQUIRE(n.ok());
  CHECK(n->mac == "02:aa:bb:cc:dd:ee");
  CHECK(n->hostname == "ip-10-0-0-4");

  auto bad = [&](auto mutate) {
    InstanceNic x = *nic;
    mutate(x);
    return NormalizeInstanceNic(x, plan, "br-mc0").status();
  };
  CHECK(absl::IsInvalidArgument(bad([](InstanceNic& x) { x.instance_id = ""; })));
  CHECK(absl::IsInvalidArgument(bad([](InstanceNic& x) { x.instance_id = "i 1"; })));
  CHECK(absl::IsInvalidArgument(bad([](InstanceNic& x) { x.mac = "01:00:5e:00:00:01"; })));
  CHECK(absl::IsInvalidArgument(bad([](InstanceNic& x) { x.mac = "00:00:00:00:00:00"; })));
  CHECK(absl::IsInvalidArgument(bad([](InstanceNic& x) { x.ip = "10.0.0.1"; })));  // gateway
  CHECK(absl::IsInvalidArgument(bad([](InstanceNic& x) { x.ip = "10.0.0.3"; })));  // reserved
  CHECK(absl::IsInvalidArgument(bad([](InstanceNic& x) { x.ip = "10.0.0.255"; })));
  CHECK(absl::IsInvalidArgument(bad([](InstanceNic& x) { x.ip = "10.0.1.4"; })));
  CHECK(absl::IsInvalidArgument(bad([](InstanceNic& x) { x.tap = "br-mc0"; })));
  CHECK(absl::IsInvalidArgument(bad([](InstanceNic& x) { x.tap = "vnet0"; })));
  CHECK(absl::IsInvalidArgument(bad([](InstanceNic& x) { x.tap = "a\"b"; })));
  CHECK(absl::IsInvalidArgument(bad([](InstanceNic& x) { x.tap = "0123456789abcdef"; })));
  CHECK(absl::IsInvalidArgument(bad([](InstanceNic& x) { x.hostname = "a,b"; })));
}

TEST_CASE("CheckNoConflict names the instance already holding an IP, MAC or tap") {
  InstanceNic a{"i-a", "02:00:00:00:00:01", "10.0.0.4", "mca", "ip-10-0-0-4"};
  InstanceNic b{"i-b", "02:00:00:00:00:02", "10.0.0.5", "mcb", "ip-10-0-0-5"};
  CHECK(CheckNoConflict({a}, b).ok());
  CHECK(CheckNoConflict({a}, a).ok());  // same instance: an update
  InstanceNic c = b;
  c.ip = a.ip;
  CHECK(CheckNoConflict({a}, c).message() == "instance i-b: IP 10.0.0.4 is already used by i-a");
  c = b;
  c.mac = a.mac;
  CHECK(absl::IsAlreadyExists(CheckNoConflict({a}, c)));
  c = b;
  c.tap = a.tap;
  CHECK(absl::IsAlreadyExists(CheckNoConflict({a}, c)));
}

TEST_CASE("FakeHostNetwork follows the HostNetwork contract") {
  FakeHostNetwork net("br-mc0", "10.0.0.0/24");
  auto a = *MakeInstanceNic("i-0000000000000000a", *Ipv4Address::Parse("10.0.0.4"));
  auto b = *MakeInstanceNic("i-0000000000000000b", *Ipv4Address::Parse("10.0.0.5"));
  CHECK(absl::IsFailedPrecondition(net.AddInstance(a)));
  REQUIRE(net.EnsureBridge().ok());
  REQUIRE(net.AddInstance(a).ok());
  REQUIRE(net.AddInstance(a).ok());  // idempotent
  auto clash = b;
  clash.ip = a.ip;
  CHECK(absl::IsAlreadyExists(net.AddInstance(clash)));
  REQUIRE(SyncInstances(net, {b}).ok());
  REQUIRE(net.Instances().size() == 1);
  CHECK(net.Instances()[0].instance_id == b.instance_id);
  CHECK(net.RemoveInstance("i-unknown").ok());
  net.FailNext("AddInstance", absl::UnavailableError("boom"));
  CHECK(absl::IsUnavailable(net.AddInstance(a)));
  CHECK(net.AddInstance(a).ok());
  REQUIRE(net.Teardown().ok());
  CHECK(net.Instances().empty());
  CHECK_FALSE(net.bridge_up());
}

}  // namespace
}  // namespace minicloud::network
