#pragma once

// PURE: where the guests' DNS questions go when they are not about instance names. The agent
// forwards them to the resolvers of the machine it runs on, as resolv.conf lists them for the
// agent's process (inside `ip netns exec <ns>` that is /etc/netns/<ns>/resolv.conf when it
// exists), unless the agent's configuration names its own upstream servers.
//
// Loopback resolvers (127.0.0.53 of systemd-resolved, a local dnsmasq or unbound on 127.0.0.1,
// ::1) are reachable only from the network namespace they listen in. dnsmasq runs in the agent's
// namespace, so they are used when that is the machine's initial namespace and dropped otherwise
// (with a warning naming the fix: an upstream setting, or /etc/netns/<ns>/resolv.conf).

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace minicloud::network {

// The `nameserver` addresses of a resolv.conf, in order: IPv4 or IPv6 literals (an IPv6 zone
// "%eth0" is kept); comments, other keywords and malformed lines are skipped.
std::vector<std::string> ParseResolvConfNameservers(absl::string_view text);

// True for 127.0.0.0/8, ::1 and the IPv4-mapped ::ffff:127.x.y.z.
bool IsLoopbackResolver(absl::string_view address);

struct UpstreamChoice {
  std::vector<std::string> servers;  // what dnsmasq forwards to
  std::vector<std::string> dropped;  // loopback resolvers left out (unreachable)
};

// From the machine's nameservers: all of them, minus loopback ones unless `loopback_reachable`.
UpstreamChoice ChooseUpstreams(const std::vector<std::string>& nameservers,
                               bool loopback_reachable);

// Validates an explicitly configured upstream list (IPv4/IPv6 literals, at least one).
// InvalidArgument naming the bad entry.
absl::Status ValidateUpstreams(const std::vector<std::string>& servers);

// The file dnsmasq reads with --resolv-file: "nameserver <addr>\n" per server ("" when none,
// which dnsmasq accepts: it answers local names and refuses the rest until servers appear).
std::string RenderUpstreamResolvConf(const std::vector<std::string>& servers);

}  // namespace minicloud::network
