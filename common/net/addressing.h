#pragma once

// PURE addressing helpers for the host network: IPv4 addresses and CIDRs, the AWS-style subnet
// plan, deterministic instance MACs, tap device names and EC2-style hostnames. No I/O, no
// syscalls beyond inet_ntop; everything here is deterministic and unit-tested.

#include <array>
#include <compare>
#include <cstdint>
#include <set>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace minicloud::network {

// An IPv4 address, host byte order.
struct Ipv4Address {
  uint32_t value = 0;

  // Strict dotted quad: four decimal octets 0-255, no leading zeros ("010" is rejected because
  // some parsers read it as octal), no surrounding whitespace.
  static absl::StatusOr<Ipv4Address> Parse(absl::string_view text);
  std::string ToString() const;

  auto operator<=>(const Ipv4Address&) const = default;
};

// An IPv4 address with a prefix length, as written: "10.0.0.1/24" keeps its host bits (that is
// how a gateway address is assigned to an interface); Masked() gives "10.0.0.0/24".
struct Ipv4Cidr {
  Ipv4Address address;
  int prefix_length = 0;

  // "A.B.C.D/N" with 0 <= N <= 32.
  static absl::StatusOr<Ipv4Cidr> Parse(absl::string_view text);
  std::string ToString() const;

  Ipv4Address Netmask() const;
  Ipv4Address Network() const;
  Ipv4Address Broadcast() const;  // last address of the block
  Ipv4Cidr Masked() const;        // {Network(), prefix_length}
  bool Contains(Ipv4Address a) const;

  auto operator<=>(const Ipv4Cidr&) const = default;
};

// The AWS subnet convention: in 10.0.0.0/24, .0 is the network, .1 the router (our bridge
// holds it as the guests' default gateway), .2 DNS and .3 reserved for future use, and the last
// address (broadcast) is reserved too; instances get .4 through .254.
struct SubnetPlan {
  Ipv4Cidr subnet;             // masked, e.g. 10.0.0.0/24
  Ipv4Address gateway;         // network + 1
  Ipv4Address first_instance;  // network + 4
  Ipv4Address last_instance;   // broadcast - 1

  static constexpr int kMinPrefix = 16;  // AWS allows /16 ... /28 subnets
  static constexpr int kMaxPrefix = 28;

  // Accepts the subnet ("10.0.0.0/24") or the gateway form ("10.0.0.1/24"); any other host part
  // is rejected, as is a prefix outside [kMinPrefix, kMaxPrefix].
  static absl::StatusOr<SubnetPlan> FromCidr(absl::string_view cidr);

  // "10.0.0.1/24": what the bridge is given.
  std::string GatewayCidr() const;
  // Number of addresses instances can use (251 for a /24).
  uint32_t Capacity() const;
  // True for first_instance ... last_instance.
  bool IsInstanceAddress(Ipv4Address a) const;
  // index 0 -> first_instance; OutOfRange past last_instance.
  absl::StatusOr<Ipv4Address> InstanceAddress(uint32_t index) const;
  // Lowest instance address not in `used`; ResourceExhausted when the subnet is full.
  absl::StatusOr<Ipv4Address> FirstFree(const std::set<Ipv4Address>& used) const;
};

// A 48-bit Ethernet address.
struct MacAddress {
  std::array<uint8_t, 6> bytes{};

  // Six hex octets separated by ':' (either case).
  static absl::StatusOr<MacAddress> Parse(absl::string_view text);
  // Lowercase, "02:1a:2b:3c:4d:5e".
  std::string ToString() const;
  // As one hex integer, "0x021a2b3c4d5e" (for raw nftables payload matches).
  std::string ToHexInteger() const;

  bool IsMulticast() const { return (bytes[0] & 0x01) != 0; }
  bool IsLocallyAdministered() const { return (bytes[0] & 0x02) != 0; }
  bool IsZero() const;

  auto operator<=>(const MacAddress&) const = default;
};

// Deterministic MAC for an instance's NIC: 02:xx:xx:xx:xx:xx (locally administered, unicast),
// the other 40 bits from a 64-bit hash of (instance id, device index). Stable across releases:
// changing it would change guests' MACs, and with them their DHCP identity.
MacAddress InstanceMac(absl::string_view instance_id, int device_index = 0);

// Deterministic MAC for a bridge: 0a:xx:xx:xx:xx:xx. A different first octet from instance MACs
// so the two never collide; fixed so the gateway's MAC does not change as ports come and go
// (a Linux bridge otherwise takes the lowest MAC among its ports).
MacAddress BridgeMac(absl::string_view bridge_name);

// IPv6 link-local address derived from a MAC (modified EUI-64), RFC 5952 text:
// 02:11:22:33:44:55 -> "fe80::11:22ff:fe33:4455".
std::string Ipv6LinkLocal(const MacAddress& mac);

// Linux interface names: 1-15 characters of [A-Za-z0-9._-], not "." or "..".
bool IsValidInterfaceName(absl::string_view name);

// Tap device name for an instance NIC: "mc" + 12 hex digits (14 characters). For EC2-style ids
// ("i-0123456789abcdef0") the digits are the id's last 12, so `ip link` is readable; other ids
// use a hash. device_index 1..15 appends one hex digit (15 characters, the kernel's limit).
// InvalidArgument for an empty id or a device index outside 0..15.
absl::StatusOr<std::string> TapName(absl::string_view instance_id, int device_index = 0);

// EC2's private hostname for an address: 10.0.0.4 -> "ip-10-0-0-4".
std::string Ec2Hostname(Ipv4Address a);

// A DNS label: 1-63 of [A-Za-z0-9-], not starting or ending with '-'.
bool IsValidHostname(absl::string_view name);

}  // namespace minicloud::network
