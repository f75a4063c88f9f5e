#include "agent/network/nftables.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "agent/network/tcp_relay.h"

namespace minicloud::network {
namespace {

// Quoted for nft: interface names are [A-Za-z0-9._-] (validated by callers), so no escaping.
std::string Q(absl::string_view s) { return absl::StrCat("\"", s, "\""); }

}  // namespace

std::string NftTableName(absl::string_view bridge) { return absl::StrCat("minicloud_", bridge); }

std::string NftNatTableName(absl::string_view bridge) {
  return absl::StrCat("minicloud_nat_", bridge);
}

std::string NftPortChainName(absl::string_view tap) { return absl::StrCat("port_", tap); }

std::string RenderNftBase(const NftConfig& c) {
  const std::string t = NftTableName(c.bridge);
  const std::string nat = NftNatTableName(c.bridge);
  const std::string subnet = c.plan.subnet.ToString();
  std::string s;

  // Anti-spoofing skeleton (bridge family: sees every frame a port sends, before the bridge
  // learns its source MAC).
  absl::StrAppend(&s, "add table bridge ", t, "\n");
  absl::StrAppend(&s, "add chain bridge ", t,
                  " prerouting { type filter hook prerouting priority -200; policy accept; }\n");
  absl::StrAppend(&s, "add map bridge ", t, " ports { type ifname : verdict; }\n");
  absl::StrAppend(&s, "flush chain bridge ", t, " prerouting\n");
  if (c.scope_to_bridge) {
    absl::StrAppend(&s, "add rule bridge ", t, " prerouting meta ibrname ", Q(c.bridge),
                    " iifname vmap @ports\n");
    absl::StrAppend(&s, "add rule bridge ", t, " prerouting meta ibrname ", Q(c.bridge),
                    " counter drop comment \"port owned by no instance\"\n");
  } else {
    absl::StrAppend(&s, "add rule bridge ", t, " prerouting iifname vmap @ports\n");
  }

  // Guest -> host guard.
  if (c.guard_host) {
    const std::string g = absl::StrCat("inet ", t);
    absl::StrAppend(&s, "add table ", g, "\n");
    absl::StrAppend(&s, "add chain ", g,
                    " input { type filter hook input priority 0; policy accept; }\n");
    absl::StrAppend(&s, "add chain ", g,
                    " forward { type filter hook forward priority 0; policy accept; }\n");
    absl::StrAppend(&s, "add chain ", g, " guest_to_host\n");
    absl::StrAppend(&s, "flush chain ", g, " input\n");
    absl::StrAppend(&s, "flush chain ", g, " forward\n");
    absl::StrAppend(&s, "flush chain ", g, " guest_to_host\n");
    absl::StrAppend(&s, "add rule ", g, " input iifname ", Q(c.bridge), " jump guest_to_host\n");
    if (!c.blocked_destinations.empty()) {
      absl::StrAppend(&s, "add rule ", g, " forward iifname ", Q(c.bridge), " ip daddr { ",
                      absl::StrJoin(c.blocked_destinations, ", "), " } counter reject\n");
    }
    absl::StrAppend(&s, "add rule ", g, " guest_to_host ct state established,related accept\n");
    absl::StrAppend(&s, "add rule ", g, " guest_to_host udp dport 67 accept\n");
    absl::StrAppend(&s, "add rule ", g, " guest_to_host ip daddr ", kMetadataIpv4,
                    " tcp dport 80 accept\n");
    absl::StrAppend(&s, "add rule ", g, " guest_to_host ip6 daddr ", kMetadataIpv6,
                    " tcp dport 80 accept\n");
    // The EC2 Query API relay next to the metadata service (agent/network/tcp_relay.h).
    absl::StrAppend(&s, "add rule ", g, " guest_to_host ip daddr ", kMetadataIpv4, " tcp dport ",
                    kQueryRelayPort, " accept\n");
    if (!c.dns_address.empty()) {
      absl::StrAppend(&s, "add rule ", g, " guest_to_host ip daddr ", c.dns_address,
                      " meta l4proto { tcp, udp } th dport 53 accept\n");
    }
    if (!c.open_tcp_ports.empty()) {
      absl::StrAppend(&s, "add rule ", g, " guest_to_host tcp dport { ",
                      absl::StrJoin(c.open_tcp_ports, ", "), " } accept\n");
    }
    absl::StrAppend(&s, "add rule ", g, " guest_to_host icmp type echo-request accept\n");
    absl::StrAppend(&s, "add rule ", g,
                    " guest_to_host icmpv6 type { echo-request, nd-router-solicit, "
                    "nd-neighbor-solicit, nd-neighbor-advert } accept\n");
    absl::StrAppend(&s, "add rule ", g, " guest_to_host counter reject\n");
  } else {
    absl::StrAppend(&s, "add table inet ", t, "\ndelete table inet ", t, "\n");
  }

  // NAT egress.
  if (c.nat_egress) {
    const std::string n = absl::StrCat("ip ", nat);
    const std::string out =
        c.egress_interface.empty() ? "" : absl::StrCat(" oifname ", Q(c.egress_interface));
    absl::StrAppend(&s, "add table ", n, "\n");
    absl::StrAppend(&s, "add chain ", n,
                    " postrouting { type nat hook postrouting priority 100; policy accept; }\n");
    absl::StrAppend(&s, "add chain ", n,
                    " forward { type filter hook forward priority 0; policy accept; }\n");
    absl::StrAppend(&s, "flush chain ", n, " postrouting\n");
    absl::StrAppend(&s, "flush chain ", n, " forward\n");
    absl::StrAppend(&s, "add rule ", n, " postrouting ip saddr ", subnet, " ip daddr != ", subnet,
                    " oifname != ", Q(c.bridge), out, " masquerade\n");
    if (!c.egress_interface.empty()) {
      absl::StrAppend(&s, "add rule ", n, " forward iifname ", Q(c.bridge),
                      " oifname != ", Q(c.egress_interface), " drop\n");
    }
    absl::StrAppend(&s, "add rule ", n, " forward oifname ", Q(c.bridge),
                    " ct state established,related accept\n");
    absl::StrAppend(&s, "add rule ", n, " forward oifname ", Q(c.bridge), " drop\n");
  } else {
    absl::StrAppend(&s, "add table ip ", nat, "\ndelete table ip ", nat, "\n");
  }
  return s;
}

std::string RenderNftPort(absl::string_view bridge, const PortSpec& p) {
  const std::string t = absl::StrCat("bridge ", NftTableName(bridge));
  const std::string chain = NftPortChainName(p.tap);
  const std::string r = absl::StrCat("add rule ", t, " ", chain, " ");
  const std::string mac = p.mac.ToString();
  const std::string ip = p.ip.ToString();
  std::string s;
  absl::StrAppend(&s, "add chain ", t, " ", chain, "\n");
  absl::StrAppend(&s, "flush chain ", t, " ", chain, "\n");
  absl::StrAppend(&s, r, "ether saddr != ", mac, " counter drop comment ",
                  Q(absl::StrCat("instance ", p.instance_id)), "\n");
  absl::StrAppend(&s, r, "arp htype 1 arp ptype ip arp hlen 6 arp plen 4 arp saddr ether ", mac,
                  " arp saddr ip { ", ip, ", 0.0.0.0 } accept\n");
  absl::StrAppend(&s, r, "udp sport 67 counter drop\n");
  absl::StrAppend(&s, r, "ip saddr ", ip, " accept\n");
  // BOOTP chaddr: 28 bytes into the DHCP message, which follows the 8-byte UDP header.
  absl::StrAppend(&s, r,
                  "ip saddr 0.0.0.0 ip daddr 255.255.255.255 udp sport 68 udp dport 67 "
                  "@th,288,48 ",
                  p.mac.ToHexInteger(), " accept\n");
  // Any other IPv4 frame carries a source address that is not the instance's: its own counter,
  // so spoofed IP traffic can be told apart from the ARP and other frames the last rule drops.
  absl::StrAppend(&s, r, "meta protocol ip counter drop comment \"foreign IPv4 source\"\n");
  absl::StrAppend(&s, r, "ip6 saddr { ", Ipv6LinkLocal(p.mac),
                  ", :: } icmpv6 type { nd-router-solicit, nd-neighbor-solicit, "
                  "nd-neighbor-advert, mld-listener-report, mld-listener-done, "
                  "mld2-listener-report } accept\n");
  absl::StrAppend(&s, r, "counter drop\n");
  absl::StrAppend(&s, "add element ", t, " ports { ", Q(p.tap), " : jump ", chain, " }\n");
  return s;
}

std::string RenderNftRemovePort(absl::string_view bridge, absl::string_view tap) {
  const std::string t = absl::StrCat("bridge ", NftTableName(bridge));
  const std::string chain = NftPortChainName(tap);
  std::string s;
  absl::StrAppend(&s, "add chain ", t, " ", chain, "\n");
  absl::StrAppend(&s, "add element ", t, " ports { ", Q(tap), " : jump ", chain, " }\n");
  absl::StrAppend(&s, "delete element ", t, " ports { ", Q(tap), " }\n");
  absl::StrAppend(&s, "flush chain ", t, " ", chain, "\n");
  absl::StrAppend(&s, "delete chain ", t, " ", chain, "\n");
  return s;
}

std::string RenderNftTeardown(absl::string_view bridge) {
  const std::string t = NftTableName(bridge);
  const std::string nat = NftNatTableName(bridge);
  return absl::StrCat("add table bridge ", t, "\ndelete table bridge ", t, "\n",  //
                      "add table inet ", t, "\ndelete table inet ", t, "\n",      //
                      "add table ip ", nat, "\ndelete table ip ", nat, "\n");
}

}  // namespace minicloud::network
