#pragma once

// The IP TTL / IPv6 hop limit of a connected socket: a response that asks for one
// (Response::ttl_for_response, the IMDSv2 token's hop limit) is sent with it, then the socket
// goes back to the route default.

#include <string_view>

namespace minicloud::metadata {

// Sets the TTL / hop limit of packets sent on `fd` (`v6`: an IPv6 socket, whose IPv4-mapped
// peers need the IPv4 option too); returns what getsockopt reads back, -1 when it fails.
// `peer` names the connection in the warning a failure logs.
int SetHopLimit(int fd, bool v6, int ttl, std::string_view peer);

// Back to the route default, but only once no byte sent under the lowered TTL awaits an ACK;
// true when it was restored.
bool RestoreHopLimitWhenSent(int fd, bool v6);

}  // namespace minicloud::metadata
