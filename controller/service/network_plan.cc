#include "controller/service/network_plan.h"

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace minicloud::controller {

absl::StatusOr<network::SubnetPlan> DefaultSubnet(int index) {
  return DefaultSubnet(index, kDefaultVpcCidr, 20);
}

absl::StatusOr<network::SubnetPlan> DefaultSubnet(int index, const std::string& vpc_cidr,
                                                  int subnet_prefix_length) {
  MC_ASSIGN_OR_RETURN(network::Ipv4Cidr vpc, network::Ipv4Cidr::Parse(vpc_cidr));
  if (subnet_prefix_length < vpc.prefix_length || subnet_prefix_length > 32) {
    return absl::InvalidArgumentError(
        absl::StrCat("subnets of /", subnet_prefix_length, " do not fit the VPC ", vpc_cidr));
  }
  const int64_t count = int64_t{1} << (subnet_prefix_length - vpc.prefix_length);
  if (index < 0 || index >= count) {
    return absl::ResourceExhaustedError(
        absl::StrCat("the VPC ", vpc_cidr, " has room for ", count, " availability zones"));
  }
  const uint32_t base = vpc.Masked().address.value;
  network::Ipv4Cidr subnet{
      {base + static_cast<uint32_t>(static_cast<uint64_t>(index) << (32 - subnet_prefix_length))},
      subnet_prefix_length};
  return network::SubnetPlan::FromCidr(subnet.ToString());
}

absl::StatusOr<std::string> AllocateAddress(const network::SubnetPlan& subnet,
                                            const std::set<std::string>& used) {
  std::set<network::Ipv4Address> taken;
  for (const auto& ip : used) {
    if (auto a = network::Ipv4Address::Parse(ip); a.ok()) taken.insert(*a);
  }
  MC_ASSIGN_OR_RETURN(network::Ipv4Address a, subnet.FirstFree(taken));
  return a.ToString();
}

std::string PrivateDnsName(const std::string& ip, const std::string& region) {
  auto address = network::Ipv4Address::Parse(ip);
  // Addresses come from AllocateAddress; one that does not parse is our own broken invariant.
  return PrivateDnsName(*address, region);
}

std::string PrivateDnsName(network::Ipv4Address ip, absl::string_view region) {
  return absl::StrCat(network::Ec2Hostname(ip), ".", region, ".compute.internal");
}

}  // namespace minicloud::controller
