#pragma once

#include <set>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/net/addressing.h"

namespace minicloud::controller {

// Addressing of the default VPC, as AWS lays it out: VPC 172.31.0.0/16, one /20 subnet per
// availability zone, the first four addresses and the last of each subnet reserved
// (https://docs.aws.amazon.com/vpc/latest/userguide/subnet-sizing.html). Built on
// common/net/addressing, the one implementation of CIDRs, subnet plans, instance MACs and EC2
// hostnames that the agents use too.
inline constexpr char kDefaultVpcCidr[] = "172.31.0.0/16";
inline constexpr int kDefaultSubnetCount = 16;  // /20s in the /16

// The index-th /20 of the default VPC (0..15); ResourceExhausted past the last.
absl::StatusOr<network::SubnetPlan> DefaultSubnet(int index);
// The index-th subnet of `subnet_prefix_length` in `vpc_cidr` (ControllerConfig's layout).
absl::StatusOr<network::SubnetPlan> DefaultSubnet(int index, const std::string& vpc_cidr,
                                                  int subnet_prefix_length);

// Lowest free instance address of the subnet (network + 4 .. broadcast - 1); `used` holds dotted
// addresses. ResourceExhausted when the subnet is full.
absl::StatusOr<std::string> AllocateAddress(const network::SubnetPlan& subnet,
                                            const std::set<std::string>& used);

// "ip-172-31-0-4.<region>.compute.internal" (us-east-1 uses "ec2.internal"; other regions
// this form).
std::string PrivateDnsName(const std::string& ip, const std::string& region);
// The same for an address already parsed.
std::string PrivateDnsName(network::Ipv4Address ip, absl::string_view region);

}  // namespace minicloud::controller
