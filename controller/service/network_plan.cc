#include "controller/service/network_plan.h"

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace minicloud::controller {

absl::StatusOr<network::SubnetPlan> DefaultSubnet(int index) {
  if (index < 0 || index >= kDefaultSubnetCount) {
    return absl::ResourceExhaustedError(
        absl::StrCat("the default VPC has room for ", kDefaultSubnetCount, " availability zones"));
  }
  MC_ASSIGN_OR_RETURN(network::Ipv4Cidr vpc, network::Ipv4Cidr::Parse(kDefaultVpcCidr));
  network::Ipv4Cidr subnet{{vpc.address.value + (static_cast<uint32_t>(index) << 12)}, 20};
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
  return absl::StrCat(network::Ec2Hostname(*address), ".", region, ".compute.internal");
}

}  // namespace minicloud::controller
