#include "controller/service/instance_network.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/net/addressing.h"
#include "common/status_macros.h"
#include "controller/service/network_plan.h"

namespace minicloud::controller {
namespace {

struct Derived {
  std::string mac, subnet_cidr, vpc_id, gateway, private_dns_name;
};

// The one derivation; `plan` is the subnet's CIDR parsed and `ip` the record's address.
Derived DeriveFrom(const v1::SubnetRecord& subnet, const network::SubnetPlan& plan,
                   network::Ipv4Address ip, const v1::InstanceRecord& r) {
  Derived d;
  d.mac = network::InstanceMac(r.instance_id()).ToString();
  d.subnet_cidr = subnet.cidr();
  d.vpc_id = subnet.vpc_id();
  d.gateway = plan.gateway.ToString();
  d.private_dns_name = PrivateDnsName(ip, r.topology().region());
  return d;
}

absl::Status CheckSubnet(const v1::SubnetRecord& subnet, const v1::InstanceRecord& r) {
  if (subnet.subnet_id() == r.network().subnet_id()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("instance ", r.instance_id(), " is in subnet '",
                                                 r.network().subnet_id(), "', not ",
                                                 subnet.subnet_id()));
}

absl::StatusOr<Derived> Derive(const v1::SubnetRecord& subnet, const v1::InstanceRecord& r) {
  MC_RETURN_IF_ERROR(CheckSubnet(subnet, r));
  MC_ASSIGN_OR_RETURN(network::SubnetPlan plan, network::SubnetPlan::FromCidr(subnet.cidr()));
  MC_ASSIGN_OR_RETURN(network::Ipv4Address ip,
                      network::Ipv4Address::Parse(r.network().private_ip()));
  return DeriveFrom(subnet, plan, ip, r);
}

void SetDerived(Derived d, v1::InstanceRecord& r) {
  v1::GuestNetwork* n = r.mutable_network();
  n->set_mac(std::move(d.mac));
  n->set_subnet_cidr(std::move(d.subnet_cidr));
  n->set_vpc_id(std::move(d.vpc_id));
  n->set_gateway(std::move(d.gateway));
  n->set_private_dns_name(std::move(d.private_dns_name));
}

}  // namespace

absl::Status FillDerivedNetwork(const v1::SubnetRecord& subnet, v1::InstanceRecord& r) {
  MC_ASSIGN_OR_RETURN(Derived d, Derive(subnet, r));
  SetDerived(std::move(d), r);
  return absl::OkStatus();
}

absl::Status FillDerivedNetwork(const v1::SubnetRecord& subnet, const network::SubnetPlan& plan,
                                network::Ipv4Address ip, v1::InstanceRecord& r) {
  MC_RETURN_IF_ERROR(CheckSubnet(subnet, r));
  SetDerived(DeriveFrom(subnet, plan, ip, r), r);
  return absl::OkStatus();
}

bool NetworkIsDerived(const v1::SubnetRecord* subnet, const v1::InstanceRecord& r) {
  if (subnet == nullptr || !r.has_network()) return false;
  absl::StatusOr<Derived> d = Derive(*subnet, r);
  if (!d.ok()) return false;
  const v1::GuestNetwork& n = r.network();
  return n.mac() == d->mac && n.subnet_cidr() == d->subnet_cidr && n.vpc_id() == d->vpc_id &&
         n.gateway() == d->gateway && n.private_dns_name() == d->private_dns_name;
}

bool NetworkStoredDerived(const v1::InstanceRecord& r) {
  const v1::GuestNetwork& n = r.network();
  return !n.private_ip().empty() && !n.subnet_id().empty() && n.mac().empty() &&
         n.subnet_cidr().empty() && n.vpc_id().empty() && n.gateway().empty() &&
         n.private_dns_name().empty();
}

std::string StoredInstanceBytes(const v1::SubnetRecord* subnet, v1::InstanceRecord& r) {
  if (!NetworkIsDerived(subnet, r)) return r.SerializeAsString();
  return StoredDerivedInstanceBytes(r);
}

std::string StoredDerivedInstanceBytes(v1::InstanceRecord& r) {
  v1::GuestNetwork* n = r.mutable_network();
  // Swapped out and back: the strings move, the record is not copied.
  std::string mac, cidr, vpc, gateway, dns;
  n->mutable_mac()->swap(mac);
  n->mutable_subnet_cidr()->swap(cidr);
  n->mutable_vpc_id()->swap(vpc);
  n->mutable_gateway()->swap(gateway);
  n->mutable_private_dns_name()->swap(dns);
  std::string bytes = r.SerializeAsString();
  n->mutable_mac()->swap(mac);
  n->mutable_subnet_cidr()->swap(cidr);
  n->mutable_vpc_id()->swap(vpc);
  n->mutable_gateway()->swap(gateway);
  n->mutable_private_dns_name()->swap(dns);
  return bytes;
}

}  // namespace minicloud::controller
