#include "volume/backend/qsd/nbd_listener.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "absl/strings/str_cat.h"

namespace minicloud::volume {

absl::StatusOr<NbdListener> ListenNbd(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  const std::string service = std::to_string(port);
  const int gai = getaddrinfo(host.c_str(), service.c_str(), &hints, &res);
  if (gai != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("NBD listen address ", host, ": ", gai_strerror(gai)));
  }
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> owned(res, freeaddrinfo);
  NbdListener out;
  out.fd = file::UniqueFd(socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!out.fd.valid()) return file::ErrnoError(errno, "socket", host);
  const int one = 1;
  if (setsockopt(out.fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
      setsockopt(out.fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0) {
    return file::ErrnoError(errno, "setsockopt", absl::StrCat("NBD listener on ", host));
  }
  if (bind(out.fd.get(), res->ai_addr, res->ai_addrlen) != 0 || listen(out.fd.get(), 128) != 0) {
    return absl::UnavailableError(
        absl::StrCat("NBD listen on ", host, ":", port, ": ", std::strerror(errno)));
  }
  sockaddr_storage bound{};
  socklen_t len = sizeof(bound);
  if (getsockname(out.fd.get(), reinterpret_cast<sockaddr*>(&bound), &len) != 0) {
    return file::ErrnoError(errno, "getsockname", absl::StrCat("NBD listener on ", host));
  }
  out.port = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                               : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  return out;
}

}  // namespace minicloud::volume
