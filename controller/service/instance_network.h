#pragma once

// The network fields of an instance record that follow from its other fields, derived in this
// one place:
//
//   mac               network::InstanceMac(instance_id)
//   subnet_cidr       the subnet record's CIDR (found by subnet_id)
//   vpc_id            the subnet record's VPC
//   gateway           the CIDR's first address (network::SubnetPlan)
//   private_dns_name  PrivateDnsName(private_ip, topology.region)
//
// RunInstances fills them (FillDerivedNetwork), the mirror always holds them (so DescribeInstances,
// the desired state sent to agents and IMDS read them as before), and the store omits them when
// they hold exactly the derived values (StoredInstanceBytes, ~100 bytes per record): all five or
// none. Loading fills them back (record_migration.h) in a record with an address and a subnet
// and none of the five, which only StoredInstanceBytes writes (RunInstances has always set all
// five). A record whose fields hold anything else (another layout) is stored with them.

#include <string>

#include "absl/status/status.h"
#include "controller/service/network_plan.h"
#include "minicloud/v1/records.pb.h"

namespace minicloud::controller {

// Sets the five derived fields of `r.network()` from r's instance id, region, private_ip and
// `subnet` (whose subnet_id must be r's). InvalidArgument for an address or CIDR that does not
// parse (an instance without an address gets no derived fields).
absl::Status FillDerivedNetwork(const v1::SubnetRecord& subnet, v1::InstanceRecord& r);
// The same with the subnet's CIDR and r's private_ip already parsed (RunInstances parses the
// CIDR once per subnet per call): `plan` must be subnet.cidr()'s and `ip` r's address.
absl::Status FillDerivedNetwork(const v1::SubnetRecord& subnet, const network::SubnetPlan& plan,
                                network::Ipv4Address ip, v1::InstanceRecord& r);

// Whether the five fields of `r.network()` are exactly what FillDerivedNetwork gives with
// `subnet` (false for a null subnet, another subnet id, or no address).
bool NetworkIsDerived(const v1::SubnetRecord* subnet, const v1::InstanceRecord& r);

// Whether `r` is stored without its derived fields: an address and a subnet id, and none of the
// five fields.
bool NetworkStoredDerived(const v1::InstanceRecord& r);

// The bytes the store keeps for `r`: the record without the five derived fields when
// NetworkIsDerived(subnet, r), else r as it is. `r` is changed while
// it is serialized and given back unchanged (no copy of the record is made).
std::string StoredInstanceBytes(const v1::SubnetRecord* subnet, v1::InstanceRecord& r);

// The same bytes for a record whose five fields the caller knows to be exactly the derived ones
// (RunInstances has just set them with FillDerivedNetwork): the record without them, without
// deriving them again to compare.
std::string StoredDerivedInstanceBytes(v1::InstanceRecord& r);

}  // namespace minicloud::controller
