#include "agent/metadata/hop_limit.h"

#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "common/logging.h"

namespace minicloud::metadata {

int SetHopLimit(int fd, bool v6, int ttl, std::string_view peer) {
  int readback = -1;
  socklen_t len = sizeof(readback);
  if (v6) {
    ::setsockopt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &ttl, sizeof(ttl));
    ::setsockopt(fd, IPPROTO_IP, IP_TTL, &ttl, sizeof(ttl));  // IPv4-mapped peers
    if (::getsockopt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &readback, &len) != 0) readback = -1;
  } else {
    if (::setsockopt(fd, IPPROTO_IP, IP_TTL, &ttl, sizeof(ttl)) != 0) {
      spdlog::warn("imds {}: setsockopt(IP_TTL, {}) failed: {}", peer, ttl, std::strerror(errno));
    }
    if (::getsockopt(fd, IPPROTO_IP, IP_TTL, &readback, &len) != 0) readback = -1;
  }
  return readback;
}

bool RestoreHopLimitWhenSent(int fd, bool v6) {
  int unacked = 0;
  if (::ioctl(fd, SIOCOUTQ, &unacked) != 0 || unacked != 0) return false;
  const int def = -1;
  if (v6) ::setsockopt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &def, sizeof(def));
  ::setsockopt(fd, IPPROTO_IP, IP_TTL, &def, sizeof(def));
  return true;
}

}  // namespace minicloud::metadata
