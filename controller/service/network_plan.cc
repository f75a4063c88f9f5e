#include "controller/service/network_plan.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"

namespace minicloud::controller {

absl::StatusOr<Ipv4Cidr> ParseCidr(const std::string& text) {
  std::vector<std::string> parts = absl::StrSplit(text, '/');
  if (parts.size() != 2) return absl::InvalidArgumentError(absl::StrCat("bad CIDR '", text, "'"));
  std::vector<std::string> octets = absl::StrSplit(parts[0], '.');
  int prefix = 0;
  if (octets.size() != 4 || !absl::SimpleAtoi(parts[1], &prefix) || prefix < 0 || prefix > 32) {
    return absl::InvalidArgumentError(absl::StrCat("bad CIDR '", text, "'"));
  }
  uint32_t addr = 0;
  for (const auto& o : octets) {
    int v = 0;
    if (!absl::SimpleAtoi(o, &v) || v < 0 || v > 255) {
      return absl::InvalidArgumentError(absl::StrCat("bad CIDR '", text, "'"));
    }
    addr = (addr << 8) | static_cast<uint32_t>(v);
  }
  uint32_t mask = prefix == 0 ? 0 : ~uint32_t{0} << (32 - prefix);
  return Ipv4Cidr{addr & mask, prefix};
}

std::string FormatIpv4(uint32_t a) {
  return absl::StrFormat("%d.%d.%d.%d", a >> 24, (a >> 16) & 0xff, (a >> 8) & 0xff, a & 0xff);
}

std::string FormatCidr(const Ipv4Cidr& c) {
  return absl::StrCat(FormatIpv4(c.network), "/", c.prefix);
}

absl::StatusOr<Ipv4Cidr> DefaultSubnet(int index) {
  if (index < 0 || index >= 16) {
    return absl::ResourceExhaustedError("the default VPC has room for 16 availability zones");
  }
  auto vpc = ParseCidr(kDefaultVpcCidr);
  return Ipv4Cidr{vpc->network + (static_cast<uint32_t>(index) << 12), 20};
}

std::string GatewayOf(const Ipv4Cidr& subnet) { return FormatIpv4(subnet.network + 1); }

absl::StatusOr<std::string> AllocateAddress(const Ipv4Cidr& subnet,
                                            const std::set<std::string>& used) {
  const uint32_t size = subnet.prefix >= 32 ? 1 : uint32_t{1} << (32 - subnet.prefix);
  for (uint32_t offset = 4; offset + 1 < size; ++offset) {
    std::string candidate = FormatIpv4(subnet.network + offset);
    if (!used.contains(candidate)) return candidate;
  }
  return absl::ResourceExhaustedError(
      absl::StrCat("no free address left in subnet ", FormatCidr(subnet)));
}

std::string MacForInstance(const std::string& instance_id) {
  // FNV-1a of the id, so the MAC is stable for the instance's lifetime and across restarts.
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : instance_id) h = (h ^ c) * 1099511628211ull;
  return absl::StrFormat("02:%02x:%02x:%02x:%02x:%02x", (h >> 32) & 0xff, (h >> 24) & 0xff,
                         (h >> 16) & 0xff, (h >> 8) & 0xff, h & 0xff);
}

std::string PrivateDnsName(const std::string& ip, const std::string& region) {
  return absl::StrCat("ip-", absl::StrReplaceAll(ip, {{".", "-"}}), ".", region,
                      ".compute.internal");
}

}  // namespace minicloud::controller
