#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace minicloud::controller {

// Addressing of the default VPC, as AWS lays it out: VPC 172.31.0.0/16, one /20 subnet per
// availability zone, the first four addresses and the last of each subnet reserved
// (https://docs.aws.amazon.com/vpc/latest/userguide/subnet-sizing.html).
inline constexpr char kDefaultVpcCidr[] = "172.31.0.0/16";

struct Ipv4Cidr {
  uint32_t network = 0;  // host byte order
  int prefix = 0;
};

absl::StatusOr<Ipv4Cidr> ParseCidr(const std::string& text);
std::string FormatIpv4(uint32_t address);
std::string FormatCidr(const Ipv4Cidr& cidr);

// The index-th /20 of the default VPC (0..15).
absl::StatusOr<Ipv4Cidr> DefaultSubnet(int index);

// The subnet's gateway (network + 1), held by each host bridge of that subnet.
std::string GatewayOf(const Ipv4Cidr& subnet);

// Lowest free instance address of the subnet (from network + 4 to broadcast - 1); `used` holds
// dotted addresses. ResourceExhausted when the subnet is full.
absl::StatusOr<std::string> AllocateAddress(const Ipv4Cidr& subnet,
                                            const std::set<std::string>& used);

// A locally administered unicast MAC derived from the instance id ("02:" + 5 bytes).
std::string MacForInstance(const std::string& instance_id);

// "ip-172-31-0-4.<region>.compute.internal" (us-east-1 uses "ec2.internal"; other regions
// this form).
std::string PrivateDnsName(const std::string& ip, const std::string& region);

}  // namespace minicloud::controller
