#include "agent/network/host_network.h"

#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace minicloud::network {
namespace {

bool IsValidInstanceId(absl::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') {
      return false;
    }
  }
  return true;
}

absl::Status InvalidNic(const InstanceNic& nic, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("instance NIC ", nic.instance_id, ": ", why));
}

}  // namespace

absl::StatusOr<InstanceNic> MakeInstanceNic(absl::string_view instance_id, Ipv4Address ip) {
  MC_ASSIGN_OR_RETURN(std::string tap, TapName(instance_id));
  InstanceNic nic;
  nic.instance_id = std::string(instance_id);
  nic.mac = InstanceMac(instance_id).ToString();
  nic.ip = ip.ToString();
  nic.tap = std::move(tap);
  return nic;
}

absl::StatusOr<InstanceNic> NormalizeInstanceNic(const InstanceNic& nic, const SubnetPlan& plan,
                                                 absl::string_view bridge) {
  if (!IsValidInstanceId(nic.instance_id)) {
    return InvalidNic(nic, "instance id must be 1-64 characters of [A-Za-z0-9._-]");
  }
  auto mac = MacAddress::Parse(nic.mac);
  if (!mac.ok()) return InvalidNic(nic, mac.status().message());
  if (mac->IsMulticast() || mac->IsZero()) {
    return InvalidNic(nic, absl::StrCat("MAC ", nic.mac, " is not a unicast address"));
  }
  auto ip = Ipv4Address::Parse(nic.ip);
  if (!ip.ok()) return InvalidNic(nic, ip.status().message());
  if (!plan.IsInstanceAddress(*ip)) {
    return InvalidNic(
        nic,
        absl::StrCat("IP ", nic.ip, " is not an instance address of ", plan.subnet.ToString(), " (",
                     plan.first_instance.ToString(), " - ", plan.last_instance.ToString(), ")"));
  }
  if (!IsValidInterfaceName(nic.tap) || nic.tap == bridge || absl::StartsWith(nic.tap, "vnet") ||
      absl::StartsWith(nic.tap, "macvtap") || absl::StartsWith(nic.tap, "macvlan")) {
    return InvalidNic(nic, absl::StrCat("tap name '", nic.tap,
                                        "' must be 1-15 characters of [A-Za-z0-9._-], not the "
                                        "bridge, and not start with vnet/macvtap/macvlan"));
  }
  InstanceNic out = nic;
  out.mac = mac->ToString();
  out.ip = ip->ToString();
  if (out.hostname.empty()) out.hostname = Ec2Hostname(*ip);
  if (!IsValidHostname(out.hostname)) {
    return InvalidNic(nic, absl::StrCat("hostname '", out.hostname, "' is not a DNS label"));
  }
  return out;
}

absl::Status CheckNoConflict(const std::vector<InstanceNic>& existing, const InstanceNic& nic) {
  for (const InstanceNic& other : existing) {
    if (other.instance_id == nic.instance_id) continue;
    const char* what = other.ip == nic.ip     ? "IP"
                       : other.mac == nic.mac ? "MAC"
                       : other.tap == nic.tap ? "tap"
                                              : nullptr;
    if (what != nullptr) {
      return absl::AlreadyExistsError(absl::StrCat("instance ", nic.instance_id, ": ", what, " ",
                                                   what[0] == 'I'   ? nic.ip
                                                   : what[0] == 'M' ? nic.mac
                                                                    : nic.tap,
                                                   " is already used by ", other.instance_id));
    }
  }
  return absl::OkStatus();
}

absl::Status SyncInstances(HostNetwork& network, const std::vector<InstanceNic>& desired) {
  std::set<std::string> keep;
  for (const InstanceNic& nic : desired) keep.insert(nic.instance_id);
  for (const InstanceNic& have : network.Instances()) {
    if (!keep.contains(have.instance_id))
      MC_RETURN_IF_ERROR(network.RemoveInstance(have.instance_id));
  }
  for (const InstanceNic& nic : desired) MC_RETURN_IF_ERROR(network.AddInstance(nic));
  return absl::OkStatus();
}

}  // namespace minicloud::network
