// Pure renderers: nftables scripts, dnsmasq command line and files, NIC validation, the fake.
#include <catch2/catch.hpp>
#include <functional>
#include <string>

#include "absl/strings/match.h"
#include "agent/network/dnsmasq.h"
#include "agent/network/fake/fake_host_network.h"
#include "agent/network/host_network.h"
#include "agent/network/nftables.h"
#include "agent/network/resolv_conf.h"

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
              .dns_address = "",
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
  // The Query API relay, on the metadata address only (bug: the port opened on every address).
  CHECK(absl::StrContains(s, "guest_to_host ip daddr 169.254.169.254 tcp dport 8773 accept"));
  CHECK_FALSE(absl::StrContains(s, "guest_to_host tcp dport 8773"));
  CHECK_FALSE(absl::StrContains(s, "dport 53"));
  CHECK(absl::StrContains(s,
                          "add table ip minicloud_nat_br-mc0\ndelete table ip "
                          "minicloud_nat_br-mc0\n"));

  c.guard_host = false;
  c.dns_address = "10.0.0.2";
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
  c.blocked_destinations = {"192.0.2.7", "192.0.2.8"};
  CHECK(absl::StrContains(RenderNftBase(c),
                          "add rule inet minicloud_br-mc0 forward iifname \"br-mc0\" ip daddr { "
                          "192.0.2.7, 192.0.2.8 } counter reject\n"));
  c.open_tcp_ports = {8773, 9000};
  CHECK(absl::StrContains(RenderNftBase(c), "guest_to_host tcp dport { 8773, 9000 } accept\n"));
  CHECK(absl::StrContains(RenderNftBase(c),
                          "ip daddr 10.0.0.2 meta l4proto { tcp, udp } th dport 53 accept"));
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

  c.user = "";
  c.log_to_file = true;
  auto argv = DnsmasqArgv(c);
  CHECK(std::find(argv.begin(), argv.end(), "--user=root") == argv.end());
  CHECK(argv.back() == "--log-facility=/var/lib/minicloud/network-br-mc0/dnsmasq.log");
}

TEST_CASE("DnsmasqArgv with DNS: EC2's resolver, instance names, forwarding upstream") {
  DnsmasqConfig base;
  base.bridge = "br-mc0";
  base.plan = Plan("172.31.16.0/20");
  base.dir = "/run/minicloud/d";
  base.user = "dnsmasq";
  base.dns = DnsmasqConfig::Dns{*Ipv4Address::Parse("172.31.0.2"), "home-1.compute.internal",
                                *Ipv4Cidr::Parse("172.31.0.0/16")};
  const std::vector<std::string> dns_args = {
      "--dhcp-option=option:dns-server,172.31.0.2",
      "--dhcp-option=option:domain-name,home-1.compute.internal",
      "--domain=home-1.compute.internal",
      "--local=/home-1.compute.internal/",
      "--domain-needed",
      "--bogus-priv",
      "--addn-hosts=/run/minicloud/d/instance-hosts",
      "--synth-domain=home-1.compute.internal,172.31.0.0/16,ip-",
      "--resolv-file=/run/minicloud/d/upstream.conf",
  };
  struct Case {
    std::string name;
    std::function<void(DnsmasqConfig&)> change;
    std::vector<std::string> present, absent;
  };
  const std::vector<Case> cases = {
      {"DNS on: every DNS argument, in order, and no --port=0",
       [](DnsmasqConfig&) {},
       dns_args,
       {"--port=0", "--dhcp-option=option:dns-server,172.31.16.1"}},
      {"DNS on ignores dns_servers (the VPC resolver is the one handed out)",
       [](DnsmasqConfig& c) { c.dns_servers = {"192.0.2.53"}; },
       {"--dhcp-option=option:dns-server,172.31.0.2"},
       {"--dhcp-option=option:dns-server,192.0.2.53"}},
      {"DNS off: no DNS port, no names, no upstream",
       [](DnsmasqConfig& c) { c.dns.reset(); },
       {"--port=0"},
       dns_args},
      {"runs as the unprivileged user", [](DnsmasqConfig&) {}, {"--user=dnsmasq"}, {"--user=root"}},
  };
  for (const Case& tc : cases) {
    SECTION(tc.name) {
      DnsmasqConfig c = base;
      tc.change(c);
      const std::vector<std::string> argv = DnsmasqArgv(c);
      for (const std::string& a : tc.present) {
        INFO(a);
        CHECK(std::find(argv.begin(), argv.end(), a) != argv.end());
      }
      for (const std::string& a : tc.absent) {
        INFO(a);
        CHECK(std::find(argv.begin(), argv.end(), a) == argv.end());
      }
    }
  }
}

TEST_CASE("VpcDnsAddress and PrivateDnsDomain follow EC2") {
  struct Case {
    std::string vpc, dns;
  };
  for (const Case& c : std::vector<Case>{{"172.31.0.0/16", "172.31.0.2"},
                                         {"10.0.0.0/8", "10.0.0.2"},
                                         {"192.168.64.0/20", "192.168.64.2"}}) {
    INFO(c.vpc);
    CHECK(VpcDnsAddress(*Ipv4Cidr::Parse(c.vpc)).ToString() == c.dns);
  }
  // The DNS address is one of the addresses the subnet plan keeps from instances.
  const SubnetPlan first = Plan("172.31.0.0/20");
  CHECK_FALSE(first.IsInstanceAddress(VpcDnsAddress(first.subnet)));
  CHECK(PrivateDnsDomain("home-1") == "home-1.compute.internal");
  CHECK(PrivateDnsDomain("eu-west-1") == "eu-west-1.compute.internal");
  CHECK(PrivateDnsDomain("us-east-1") == "ec2.internal");
}

TEST_CASE("RenderInstanceNames: one hosts line per instance, FQDN first") {
  struct Case {
    std::string name;
    std::vector<DhcpHost> hosts;
    std::string expected;
  };
  const MacAddress mac = *MacAddress::Parse("02:00:00:00:00:01");
  const std::vector<Case> cases = {
      {"none", {}, ""},
      {"EC2 hostname",
       {{mac, *Ipv4Address::Parse("172.31.0.4"), "ip-172-31-0-4"}},
       "172.31.0.4 ip-172-31-0-4.home-1.compute.internal ip-172-31-0-4\n"},
      {"own hostname keeps the EC2 name too",
       {{mac, *Ipv4Address::Parse("172.31.0.5"), "web"},
        {mac, *Ipv4Address::Parse("172.31.0.6"), "ip-172-31-0-6"}},
       "172.31.0.5 web.home-1.compute.internal web ip-172-31-0-5.home-1.compute.internal\n"
       "172.31.0.6 ip-172-31-0-6.home-1.compute.internal ip-172-31-0-6\n"},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    CHECK(RenderInstanceNames("home-1.compute.internal", c.hosts) == c.expected);
  }
}

TEST_CASE("resolv.conf: nameservers, loopback ones left out where unreachable") {
  CHECK(ParseResolvConfNameservers("# generated\n"
                                   "search lan\n"
                                   "nameserver 192.168.1.1\n"
                                   "  nameserver\t127.0.0.53  # local\n"
                                   "; nameserver 9.9.9.9\n"
                                   "nameserver fe80::1%eth0\n"
                                   "nameserver 2001:db8::53\n"
                                   "nameserver not-an-address\n"
                                   "nameserver 1.2.3\n"
                                   "nameserver\n"
                                   "options edns0\n") ==
        std::vector<std::string>{"192.168.1.1", "127.0.0.53", "fe80::1%eth0", "2001:db8::53"});

  struct Loop {
    std::string address;
    bool loopback;
  };
  for (const Loop& l : std::vector<Loop>{{"127.0.0.53", true},
                                         {"127.1.2.3", true},
                                         {"::1", true},
                                         {"::ffff:127.0.0.1", true},
                                         {"128.0.0.1", false},
                                         {"10.255.255.53", false},
                                         {"2001:db8::1", false},
                                         {"::", false}}) {
    INFO(l.address);
    CHECK(IsLoopbackResolver(l.address) == l.loopback);
  }

  struct Choice {
    std::string name;
    std::vector<std::string> nameservers;
    bool loopback_reachable;
    std::vector<std::string> servers, dropped;
  };
  const std::vector<Choice> choices = {
      {"initial namespace keeps systemd-resolved", {"127.0.0.53"}, true, {"127.0.0.53"}, {}},
      {"other namespace drops it", {"127.0.0.53"}, false, {}, {"127.0.0.53"}},
      {"mixed, order kept",
       {"::1", "192.0.2.1", "127.0.0.1", "192.0.2.2"},
       false,
       {"192.0.2.1", "192.0.2.2"},
       {"::1", "127.0.0.1"}},
      {"nothing configured", {}, false, {}, {}},
  };
  for (const Choice& c : choices) {
    INFO(c.name);
    const UpstreamChoice got = ChooseUpstreams(c.nameservers, c.loopback_reachable);
    CHECK(got.servers == c.servers);
    CHECK(got.dropped == c.dropped);
  }

  CHECK(RenderUpstreamResolvConf({"192.0.2.1", "2001:db8::53"}) ==
        "nameserver 192.0.2.1\nnameserver 2001:db8::53\n");
  CHECK(RenderUpstreamResolvConf({}).empty());
  CHECK(ValidateUpstreams({"192.0.2.1", "2001:db8::53"}).ok());
  CHECK(absl::StrContains(ValidateUpstreams({"192.0.2.1", "dns.example"}).message(),
                          "'dns.example' is not an IPv4 or IPv6 address"));
  CHECK_FALSE(ValidateUpstreams({}).ok());
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
