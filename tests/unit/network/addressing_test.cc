#include "common/net/addressing.h"

#include <catch2/catch.hpp>
#include <set>
#include <string>

namespace minicloud::network {
namespace {

Ipv4Address Ip(const char* s) { return *Ipv4Address::Parse(s); }

TEST_CASE("Ipv4Address parses strict dotted quads and formats them back") {
  for (const char* ok : {"0.0.0.0", "10.0.0.1", "169.254.169.254", "255.255.255.255"}) {
    auto a = Ipv4Address::Parse(ok);
    REQUIRE(a.ok());
    CHECK(a->ToString() == ok);
  }
  CHECK(Ip("10.1.2.3").value == 0x0a010203u);
  for (const char* bad :
       {"", "10.0.0", "10.0.0.1.2", "10.0.0.256", "10.0.0.-1", "010.0.0.1", "10.0.0.1 ",
        " 10.0.0.1", "10..0.1", "a.b.c.d", "10.0.0.1/24", "1000.0.0.1", "+1.0.0.1"}) {
    INFO(bad);
    CHECK(absl::IsInvalidArgument(Ipv4Address::Parse(bad).status()));
  }
}

TEST_CASE("Ipv4Cidr parses, masks and tests membership") {
  auto c = Ipv4Cidr::Parse("10.0.0.1/24");
  REQUIRE(c.ok());
  CHECK(c->ToString() == "10.0.0.1/24");
  CHECK(c->Netmask().ToString() == "255.255.255.0");
  CHECK(c->Network().ToString() == "10.0.0.0");
  CHECK(c->Broadcast().ToString() == "10.0.0.255");
  CHECK(c->Masked().ToString() == "10.0.0.0/24");
  CHECK(c->Contains(Ip("10.0.0.200")));
  CHECK_FALSE(c->Contains(Ip("10.0.1.1")));

  CHECK(Ipv4Cidr::Parse("0.0.0.0/0")->Contains(Ip("8.8.8.8")));
  CHECK(Ipv4Cidr::Parse("192.168.7.9/32")->Network().ToString() == "192.168.7.9");
  CHECK(Ipv4Cidr::Parse("172.16.5.4/12")->Masked().ToString() == "172.16.0.0/12");
  for (const char* bad : {"10.0.0.0", "10.0.0.0/", "10.0.0.0/33", "10.0.0.0/-1", "10.0.0.0/024",
                          "10.0.0.0/2x", "/24", "10.0.0/24"}) {
    INFO(bad);
    CHECK(absl::IsInvalidArgument(Ipv4Cidr::Parse(bad).status()));
  }
}

TEST_CASE("SubnetPlan reserves .0-.3 and the last address like AWS") {
  struct Case {
    const char* cidr;
    const char* gateway;
    const char* first;
    const char* last;
    uint32_t capacity;
  };
  for (const Case& c :
       {Case{"10.0.0.0/24", "10.0.0.1", "10.0.0.4", "10.0.0.254", 251},
        Case{"10.0.0.1/24", "10.0.0.1", "10.0.0.4", "10.0.0.254", 251},
        Case{"172.31.0.0/16", "172.31.0.1", "172.31.0.4", "172.31.255.254", 65531},
        Case{"192.168.1.16/28", "192.168.1.17", "192.168.1.20", "192.168.1.30", 11}}) {
    INFO(c.cidr);
    auto plan = SubnetPlan::FromCidr(c.cidr);
    REQUIRE(plan.ok());
    CHECK(plan->gateway.ToString() == c.gateway);
    CHECK(plan->first_instance.ToString() == c.first);
    CHECK(plan->last_instance.ToString() == c.last);
    CHECK(plan->Capacity() == c.capacity);
    CHECK(plan->GatewayCidr() ==
          std::string(c.gateway) + "/" + std::to_string(plan->subnet.prefix_length));
  }
  auto plan = *SubnetPlan::FromCidr("10.0.0.0/24");
  CHECK_FALSE(plan.IsInstanceAddress(Ip("10.0.0.3")));
  CHECK(plan.IsInstanceAddress(Ip("10.0.0.4")));
  CHECK(plan.IsInstanceAddress(Ip("10.0.0.254")));
  CHECK_FALSE(plan.IsInstanceAddress(Ip("10.0.0.255")));
  CHECK_FALSE(plan.IsInstanceAddress(Ip("10.0.1.4")));
  CHECK(plan.InstanceAddress(0)->ToString() == "10.0.0.4");
  CHECK(plan.InstanceAddress(250)->ToString() == "10.0.0.254");
  CHECK(absl::IsOutOfRange(plan.InstanceAddress(251).status()));
}

TEST_CASE("SubnetPlan rejects odd host parts and sizes AWS does not allow") {
  for (const char* bad :
       {"10.0.0.5/24", "10.0.0.2/24", "10.0.0.0/15", "10.0.0.0/29", "10.0.0.0/32", "nonsense"}) {
    INFO(bad);
    CHECK(absl::IsInvalidArgument(SubnetPlan::FromCidr(bad).status()));
  }
}

TEST_CASE("SubnetPlan::FirstFree hands out the lowest unused address") {
  auto plan = *SubnetPlan::FromCidr("10.9.0.0/28");  // .4 .. .14
  std::set<Ipv4Address> used;
  CHECK(plan.FirstFree(used)->ToString() == "10.9.0.4");
  used = {Ip("10.9.0.4"), Ip("10.9.0.5"), Ip("10.9.0.7")};
  CHECK(plan.FirstFree(used)->ToString() == "10.9.0.6");
  used.clear();
  for (uint32_t i = 0; i < plan.Capacity(); ++i) used.insert(*plan.InstanceAddress(i));
  CHECK(absl::IsResourceExhausted(plan.FirstFree(used).status()));
}

TEST_CASE("MacAddress parses either case and formats lowercase") {
  auto m = MacAddress::Parse("02:AB:cd:00:11:Ff");
  REQUIRE(m.ok());
  CHECK(m->ToString() == "02:ab:cd:00:11:ff");
  CHECK(m->ToHexInteger() == "0x02abcd0011ff");
  CHECK(m->IsLocallyAdministered());
  CHECK_FALSE(m->IsMulticast());
  CHECK(MacAddress::Parse("01:00:5e:00:00:01")->IsMulticast());
  CHECK(MacAddress::Parse("00:00:00:00:00:00")->IsZero());
  for (const char* bad : {"", "02:ab:cd:00:11", "02:ab:cd:00:11:ff:00", "02-ab-cd-00-11-ff",
                          "02:ab:cd:00:11:fg", "2:ab:cd:00:11:ff0"}) {
    INFO(bad);
    CHECK(absl::IsInvalidArgument(MacAddress::Parse(bad).status()));
  }
}

TEST_CASE("InstanceMac is deterministic, locally administered unicast, and pinned") {
  const MacAddress a = InstanceMac("i-0123456789abcdef0");
  CHECK(a == InstanceMac("i-0123456789abcdef0"));
  CHECK(a.bytes[0] == 0x02);
  CHECK(a.IsLocallyAdministered());
  CHECK_FALSE(a.IsMulticast());
  CHECK(a != InstanceMac("i-0123456789abcdef1"));
  CHECK(a != InstanceMac("i-0123456789abcdef0", 1));
  // Pinned: a guest's MAC is its DHCP identity; this must never change between releases.
  CHECK(a.ToString() == "02:ed:ef:5b:14:bc");

  std::set<MacAddress> seen;
  for (int i = 0; i < 5000; ++i) seen.insert(InstanceMac("i-" + std::to_string(i)));
  CHECK(seen.size() == 5000);

  const MacAddress b = BridgeMac("br-mc0");
  CHECK(b.bytes[0] == 0x0a);
  CHECK(b == BridgeMac("br-mc0"));
  CHECK(b != BridgeMac("br-mc1"));
}

TEST_CASE("Ipv6LinkLocal is the modified EUI-64 address") {
  CHECK(Ipv6LinkLocal(*MacAddress::Parse("02:11:22:33:44:55")) == "fe80::11:22ff:fe33:4455");
  CHECK(Ipv6LinkLocal(*MacAddress::Parse("52:54:00:12:34:56")) == "fe80::5054:ff:fe12:3456");
  CHECK(Ipv6LinkLocal(*MacAddress::Parse("02:00:00:00:00:01")) == "fe80::ff:fe00:1");
}

TEST_CASE("TapName fits IFNAMSIZ and reads like the instance id") {
  CHECK(*TapName("i-0123456789abcdef0") == "mc56789abcdef0");
  CHECK(*TapName("i-0123456789abcdef0", 3) == "mc56789abcdef03");
  CHECK(*TapName("i-0123456789abcdef0", 15) == "mc56789abcdef0f");
  // Ids with fewer than 12 trailing hex digits are hashed, still "mc" + 12 hex.
  const std::string short_id = *TapName("i-1234abcd");
  CHECK(short_id.size() == 14);
  CHECK(short_id.rfind("mc", 0) == 0);
  CHECK(short_id == *TapName("i-1234abcd"));
  CHECK(short_id != *TapName("i-1234abce"));
  CHECK(IsValidInterfaceName(*TapName("weird id/with\\stuff")));
  CHECK(absl::IsInvalidArgument(TapName("").status()));
  CHECK(absl::IsInvalidArgument(TapName("i-1", 16).status()));
  CHECK(absl::IsInvalidArgument(TapName("i-1", -1).status()));
  for (int d = 0; d <= 15; ++d) {
    INFO(d);
    CHECK(IsValidInterfaceName(*TapName("i-0123456789abcdef0", d)));
  }
}

TEST_CASE("Interface names and hostnames are validated") {
  CHECK(IsValidInterfaceName("br-mc0"));
  CHECK(IsValidInterfaceName("a.b_c-d"));
  CHECK(IsValidInterfaceName("123456789012345"));
  CHECK_FALSE(IsValidInterfaceName("1234567890123456"));
  CHECK_FALSE(IsValidInterfaceName(""));
  CHECK_FALSE(IsValidInterfaceName("."));
  CHECK_FALSE(IsValidInterfaceName(".."));
  CHECK_FALSE(IsValidInterfaceName("br mc"));
  CHECK_FALSE(IsValidInterfaceName("br/mc"));

  CHECK(Ec2Hostname(Ip("10.0.0.4")) == "ip-10-0-0-4");
  CHECK(IsValidHostname("ip-10-0-0-4"));
  CHECK_FALSE(IsValidHostname("-x"));
  CHECK_FALSE(IsValidHostname("x-"));
  CHECK_FALSE(IsValidHostname("a.b"));
  CHECK_FALSE(IsValidHostname("a,b"));
  CHECK_FALSE(IsValidHostname(std::string(64, 'a')));
}

}  // namespace
}  // namespace minicloud::network
