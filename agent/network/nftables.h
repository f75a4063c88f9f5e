#pragma once

// PURE renderers of the nftables scripts a host network applies with `nft -f -`. Each script is
// one atomic transaction and idempotent: applying it twice gives the same ruleset, and "remove"
// scripts succeed when there is nothing to remove (the add-then-delete idiom; Debian 12's nft
// 1.0.6 has no `destroy`).
//
// Tables, all named after the bridge so several host networks in one namespace never collide:
//   bridge minicloud_<bridge>      anti-spoofing. Base chain `prerouting` dispatches on the
//                                  ingress port through the verdict map `ports`
//                                  (tap name -> jump port_<tap>). With scope_to_bridge, frames
//                                  from other ports of OUR bridge (no instance owns them) are
//                                  dropped; that needs `meta ibrname` (kernel
//                                  CONFIG_NFT_BRIDGE_META, module nft_meta_bridge), because the
//                                  bridge-family hooks see the frames of every bridge in the
//                                  namespace and other bridges (the host's LAN bridge, another
//                                  network's) must not be touched. Rules name taps (iifname), so
//                                  they can be installed before libvirt creates the tap.
//   inet   minicloud_<bridge>      guest -> host guard (optional): from the bridge the host only
//                                  accepts DHCP, metadata (tcp/80 on 169.254.169.254 and
//                                  fd00:ec2::254), DNS (udp/tcp 53) on the DNS address if
//                                  dnsmasq serves it, ping and IPv6 neighbour discovery;
//                                  everything else is rejected. Traffic the host would route
//                                  from the bridge to `blocked_destinations` (the controller) is
//                                  rejected too, with or without NAT.
//   ip     minicloud_nat_<bridge>  NAT egress (optional): masquerade the subnet leaving through
//                                  another interface; nothing is routed INTO the subnet unless
//                                  it belongs to a connection a guest opened.

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "common/net/addressing.h"

namespace minicloud::network {

// Metadata addresses the bridge holds (EC2's IMDS endpoints).
inline constexpr char kMetadataIpv4[] = "169.254.169.254";
inline constexpr char kMetadataIpv6[] = "fd00:ec2::254";

struct NftConfig {
  std::string bridge;
  SubnetPlan plan;
  bool guard_host = true;
  std::string dns_address;          // IPv4; guests may reach udp/tcp 53 there ("" = no DNS)
  std::vector<int> open_tcp_ports;  // with guard_host: more TCP ports guests may reach on the host
  // With guard_host: IPv4 addresses guests may not reach through the host (forwarded traffic).
  std::vector<std::string> blocked_destinations;
  bool nat_egress = false;
  std::string egress_interface;  // with nat_egress: "" masquerades out of any other interface
  bool scope_to_bridge = true;   // drop frames from unregistered ports of the bridge (see above)
};

// One instance NIC as the anti-spoofing rules see it.
struct PortSpec {
  std::string instance_id;  // only for the rule comment
  std::string tap;
  MacAddress mac;
  Ipv4Address ip;
};

std::string NftTableName(absl::string_view bridge);     // "minicloud_<bridge>"
std::string NftNatTableName(absl::string_view bridge);  // "minicloud_nat_<bridge>"
std::string NftPortChainName(absl::string_view tap);    // "port_<tap>"

// Creates or refreshes the base of all three tables for `config` (the guard and NAT tables are
// removed when disabled). Port chains and `ports` elements already installed are kept.
std::string RenderNftBase(const NftConfig& config);

// Installs (or replaces) the rules for one port. Frames entering from `tap` must carry
// ether saddr == mac; then:
//   ARP (Ethernet/IPv4)  sender MAC == mac and sender IP == ip (0.0.0.0 allowed: RFC 5227 probes)
//   udp sport 67         dropped (no rogue DHCP servers)
//   IPv4                 saddr == ip; or the DHCP client case 0.0.0.0:68 -> 255.255.255.255:67
//                        whose BOOTP chaddr must be `mac`
//   IPv6                 only ICMPv6 router solicitation, neighbour solicitation/advertisement
//                        and MLD, from fe80::EUI-64(mac) or :: (DAD). Guests get no IPv6
//                        address or route from us, so cloud-init's http://[fd00:ec2::254]
//                        attempt fails at once with "network unreachable" and it uses IPv4.
//   anything else        dropped (other ethertypes, VLAN tags, ...)
std::string RenderNftPort(absl::string_view bridge, const PortSpec& port);

// Removes one port's map element and chain (no-op if absent; the table must exist).
std::string RenderNftRemovePort(absl::string_view bridge, absl::string_view tap);

// Deletes all three tables (no-op for the ones that do not exist).
std::string RenderNftTeardown(absl::string_view bridge);

}  // namespace minicloud::network
