#include "common/net/addressing.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"

namespace minicloud::network {
namespace {

absl::Status Invalid(absl::string_view what, absl::string_view text) {
  return absl::InvalidArgumentError(absl::StrCat("invalid ", what, " '", text, "'"));
}

// FNV-1a 64 followed by the MurmurHash3 finalizer: tiny, dependency-free, stable forever.
uint64_t StableHash(absl::string_view data) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : data) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

MacAddress MacFromHash(uint8_t first_octet, uint64_t h) {
  MacAddress mac;
  mac.bytes[0] = first_octet;
  for (int i = 1; i < 6; ++i) mac.bytes[i] = static_cast<uint8_t>(h >> (8 * (i - 1)));
  return mac;
}

bool IsLowerHex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

}  // namespace

absl::StatusOr<Ipv4Address> Ipv4Address::Parse(absl::string_view text) {
  std::vector<absl::string_view> parts = absl::StrSplit(text, '.');
  if (parts.size() != 4) return Invalid("IPv4 address", text);
  uint32_t value = 0;
  for (absl::string_view p : parts) {
    if (p.empty() || p.size() > 3 || (p.size() > 1 && p[0] == '0')) {
      return Invalid("IPv4 address", text);
    }
    uint32_t octet = 0;
    for (char c : p) {
      if (c < '0' || c > '9') return Invalid("IPv4 address", text);
      octet = octet * 10 + static_cast<uint32_t>(c - '0');
    }
    if (octet > 255) return Invalid("IPv4 address", text);
    value = (value << 8) | octet;
  }
  return Ipv4Address{value};
}

std::string Ipv4Address::ToString() const {
  return absl::StrCat(value >> 24, ".", (value >> 16) & 0xff, ".", (value >> 8) & 0xff, ".",
                      value & 0xff);
}

absl::StatusOr<Ipv4Cidr> Ipv4Cidr::Parse(absl::string_view text) {
  const size_t slash = text.find('/');
  if (slash == absl::string_view::npos) return Invalid("IPv4 CIDR", text);
  auto address = Ipv4Address::Parse(text.substr(0, slash));
  if (!address.ok()) return Invalid("IPv4 CIDR", text);
  absl::string_view len = text.substr(slash + 1);
  int prefix = 0;
  if (len.empty() || len.size() > 2 || (len.size() > 1 && len[0] == '0') ||
      !absl::SimpleAtoi(len, &prefix) || prefix < 0 || prefix > 32) {
    return Invalid("IPv4 CIDR", text);
  }
  for (char c : len) {
    if (c < '0' || c > '9') return Invalid("IPv4 CIDR", text);
  }
  return Ipv4Cidr{*address, prefix};
}

std::string Ipv4Cidr::ToString() const {
  return absl::StrCat(address.ToString(), "/", prefix_length);
}

Ipv4Address Ipv4Cidr::Netmask() const {
  if (prefix_length <= 0) return Ipv4Address{0};
  return Ipv4Address{static_cast<uint32_t>(0xffffffffULL << (32 - prefix_length))};
}

Ipv4Address Ipv4Cidr::Network() const { return Ipv4Address{address.value & Netmask().value}; }

Ipv4Address Ipv4Cidr::Broadcast() const { return Ipv4Address{Network().value | ~Netmask().value}; }

Ipv4Cidr Ipv4Cidr::Masked() const { return Ipv4Cidr{Network(), prefix_length}; }

bool Ipv4Cidr::Contains(Ipv4Address a) const {
  return (a.value & Netmask().value) == Network().value;
}

absl::StatusOr<SubnetPlan> SubnetPlan::FromCidr(absl::string_view cidr) {
  auto parsed = Ipv4Cidr::Parse(cidr);
  if (!parsed.ok()) return parsed.status();
  if (parsed->prefix_length < kMinPrefix || parsed->prefix_length > kMaxPrefix) {
    return absl::InvalidArgumentError(absl::StrCat("subnet ", cidr, ": prefix length must be /",
                                                   kMinPrefix, " to /", kMaxPrefix));
  }
  SubnetPlan plan;
  plan.subnet = parsed->Masked();
  const uint32_t net = plan.subnet.address.value;
  const uint32_t host = parsed->address.value - net;
  if (host != 0 && host != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "subnet ", cidr, ": give the network (", plan.subnet.ToString(), ") or its gateway (",
        Ipv4Address{net + 1}.ToString(), "/", plan.subnet.prefix_length, ")"));
  }
  plan.gateway = Ipv4Address{net + 1};
  plan.first_instance = Ipv4Address{net + 4};
  plan.last_instance = Ipv4Address{plan.subnet.Broadcast().value - 1};
  return plan;
}

std::string SubnetPlan::GatewayCidr() const {
  return Ipv4Cidr{gateway, subnet.prefix_length}.ToString();
}

uint32_t SubnetPlan::Capacity() const { return last_instance.value - first_instance.value + 1; }

bool SubnetPlan::IsInstanceAddress(Ipv4Address a) const {
  return a >= first_instance && a <= last_instance;
}

absl::StatusOr<Ipv4Address> SubnetPlan::InstanceAddress(uint32_t index) const {
  if (index >= Capacity()) {
    return absl::OutOfRangeError(absl::StrCat("instance address index ", index, " outside ",
                                              subnet.ToString(), " (capacity ", Capacity(), ")"));
  }
  return Ipv4Address{first_instance.value + index};
}

absl::StatusOr<Ipv4Address> SubnetPlan::FirstFree(const std::set<Ipv4Address>& used) const {
  for (uint32_t v = first_instance.value; v <= last_instance.value; ++v) {
    if (!used.contains(Ipv4Address{v})) return Ipv4Address{v};
  }
  return absl::ResourceExhaustedError(
      absl::StrCat("subnet ", subnet.ToString(), " has no free instance address"));
}

absl::StatusOr<MacAddress> MacAddress::Parse(absl::string_view text) {
  if (text.size() != 17) return Invalid("MAC address", text);
  MacAddress mac;
  for (int i = 0; i < 6; ++i) {
    if (i > 0 && text[3 * i - 1] != ':') return Invalid("MAC address", text);
    const char hi = absl::ascii_tolower(static_cast<unsigned char>(text[3 * i]));
    const char lo = absl::ascii_tolower(static_cast<unsigned char>(text[3 * i + 1]));
    if (!IsLowerHex(hi) || !IsLowerHex(lo)) return Invalid("MAC address", text);
    auto nibble = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
    mac.bytes[i] = static_cast<uint8_t>(nibble(hi) << 4 | nibble(lo));
  }
  return mac;
}

std::string MacAddress::ToString() const {
  // Formatted by hand: RunInstances and DescribeInstances format one per instance.
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s(17, ':');
  for (int i = 0; i < 6; ++i) {
    s[3 * i] = kHex[bytes[i] >> 4];
    s[3 * i + 1] = kHex[bytes[i] & 0xf];
  }
  return s;
}

std::string MacAddress::ToHexInteger() const {
  return absl::StrFormat("0x%02x%02x%02x%02x%02x%02x", bytes[0], bytes[1], bytes[2], bytes[3],
                         bytes[4], bytes[5]);
}

bool MacAddress::IsZero() const {
  for (uint8_t b : bytes) {
    if (b != 0) return false;
  }
  return true;
}

MacAddress InstanceMac(absl::string_view instance_id, int device_index) {
  std::string key(instance_id);
  if (device_index != 0) absl::StrAppend(&key, "/", device_index);
  return MacFromHash(0x02, StableHash(key));
}

MacAddress BridgeMac(absl::string_view bridge_name) {
  return MacFromHash(0x0a, StableHash(absl::StrCat("bridge/", bridge_name)));
}

std::string Ipv6LinkLocal(const MacAddress& mac) {
  in6_addr a{};
  a.s6_addr[0] = 0xfe;
  a.s6_addr[1] = 0x80;
  a.s6_addr[8] = mac.bytes[0] ^ 0x02;
  a.s6_addr[9] = mac.bytes[1];
  a.s6_addr[10] = mac.bytes[2];
  a.s6_addr[11] = 0xff;
  a.s6_addr[12] = 0xfe;
  a.s6_addr[13] = mac.bytes[3];
  a.s6_addr[14] = mac.bytes[4];
  a.s6_addr[15] = mac.bytes[5];
  char buf[INET6_ADDRSTRLEN];
  inet_ntop(AF_INET6, &a, buf, sizeof(buf));
  return buf;
}

bool IsValidInterfaceName(absl::string_view name) {
  if (name.empty() || name.size() > 15 || name == "." || name == "..") return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') {
      return false;
    }
  }
  return true;
}

absl::StatusOr<std::string> TapName(absl::string_view instance_id, int device_index) {
  if (instance_id.empty()) return absl::InvalidArgumentError("tap name: empty instance id");
  if (device_index < 0 || device_index > 15) {
    return absl::InvalidArgumentError(absl::StrCat("tap name for ", instance_id, ": device index ",
                                                   device_index, " outside 0..15"));
  }
  // The id's trailing run of lowercase hex digits ("i-0123456789abcdef0" -> 17 digits).
  size_t start = instance_id.size();
  while (start > 0 && IsLowerHex(instance_id[start - 1])) --start;
  std::string digits;
  if (instance_id.size() - start >= 12) {
    digits = std::string(instance_id.substr(instance_id.size() - 12));
  } else {
    digits = absl::StrFormat("%012x", StableHash(instance_id) & 0xffffffffffffULL);
  }
  std::string name = absl::StrCat("mc", digits);
  if (device_index > 0) absl::StrAppend(&name, absl::StrFormat("%x", device_index));
  return name;
}

std::string Ec2Hostname(Ipv4Address a) {
  return absl::StrCat("ip-", a.value >> 24, "-", (a.value >> 16) & 0xff, "-", (a.value >> 8) & 0xff,
                      "-", a.value & 0xff);
}

bool IsValidHostname(absl::string_view name) {
  if (name.empty() || name.size() > 63 || name.front() == '-' || name.back() == '-') return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-') return false;
  }
  return true;
}

}  // namespace minicloud::network
