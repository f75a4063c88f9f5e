#include "volume/backend/qsd/nbd_relay.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/logging.h"

namespace minicloud::volume {
namespace {

// Writes all of `data`; false when the peer is gone.
bool SendAll(int fd, const char* data, size_t len) {
  while (len > 0) {
    const ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    len -= static_cast<size_t>(n);
  }
  return true;
}

int ConnectUnix(const std::string& path) {
  sockaddr_un addr{};
  if (path.size() >= sizeof(addr.sun_path)) return -1;
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), path.size());
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

absl::StatusOr<std::unique_ptr<NbdRelay>> NbdRelay::Start(const std::string& host, int port,
                                                          const std::string& unix_path) {
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
  file::UniqueFd fd(socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return file::ErrnoError(errno, "socket", host);
  const int one = 1;
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (bind(fd.get(), res->ai_addr, res->ai_addrlen) != 0 || listen(fd.get(), 128) != 0) {
    return absl::UnavailableError(
        absl::StrCat("NBD listen on ", host, ":", port, ": ", std::strerror(errno)));
  }
  sockaddr_storage bound{};
  socklen_t len = sizeof(bound);
  getsockname(fd.get(), reinterpret_cast<sockaddr*>(&bound), &len);
  const int bound_port =
      ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                        : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  std::unique_ptr<NbdRelay> relay(new NbdRelay(std::move(fd), bound_port, unix_path));
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) return file::ErrnoError(errno, "pipe", "NBD relay");
  relay->wake_read_ = file::UniqueFd(pipe_fds[0]);
  relay->wake_write_ = file::UniqueFd(pipe_fds[1]);
  relay->acceptor_ = std::thread([r = relay.get()] { r->AcceptLoop(); });
  return relay;
}

NbdRelay::NbdRelay(file::UniqueFd listener, int port, std::string unix_path)
    : listener_(std::move(listener)), port_(port), unix_path_(std::move(unix_path)) {}

NbdRelay::~NbdRelay() {
  stopping_ = true;
  if (wake_write_.valid()) (void)!write(wake_write_.get(), "x", 1);
  if (acceptor_.joinable()) acceptor_.join();
  std::vector<Connection> connections;
  {
    std::lock_guard lock(mu_);
    for (int fd : live_fds_) shutdown(fd, SHUT_RDWR);
    connections.swap(connections_);
  }
  for (Connection& c : connections) c.thread.join();
}

void NbdRelay::AcceptLoop() {
  while (!stopping_) {
    pollfd p[2] = {{listener_.get(), POLLIN, 0}, {wake_read_.get(), POLLIN, 0}};
    if (poll(p, 2, -1) < 0) continue;
    if (p[1].revents != 0 || stopping_) return;
    const int tcp = accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC);
    if (tcp < 0) {
      if (errno == EMFILE || errno == ENFILE) usleep(100000);  // out of descriptors: back off
      continue;
    }
    const int one = 1;
    setsockopt(tcp, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    std::lock_guard lock(mu_);
    for (auto it = connections_.begin(); it != connections_.end();) {
      if (it->done->load()) {
        it->thread.join();  // already returned: does not block
        it = connections_.erase(it);
      } else {
        ++it;
      }
    }
    live_fds_.push_back(tcp);
    auto done = std::make_shared<std::atomic<bool>>(false);
    connections_.push_back({std::thread([this, tcp, done] {
                              Relay(tcp);
                              done->store(true);
                            }),
                            done});
  }
}

void NbdRelay::Relay(int tcp) {
  const int local = ConnectUnix(unix_path_);
  if (local >= 0) {
    {
      std::lock_guard lock(mu_);
      live_fds_.push_back(local);
    }
    std::vector<char> buf(256 * 1024);
    bool open = true;
    while (open && !stopping_) {
      pollfd p[2] = {{tcp, POLLIN, 0}, {local, POLLIN, 0}};
      if (poll(p, 2, -1) < 0) {
        open = errno == EINTR;
        continue;
      }
      for (int i = 0; i < 2 && open; ++i) {
        if (p[i].revents == 0) continue;
        const ssize_t n = read(p[i].fd, buf.data(), buf.size());
        if (n < 0 && errno == EINTR) continue;
        open = n > 0 && SendAll(i == 0 ? local : tcp, buf.data(), static_cast<size_t>(n));
      }
    }
  } else {
    spdlog::warn("NBD relay: cannot reach the NBD server at {}: {}", unix_path_,
                 std::strerror(errno));
  }
  std::lock_guard lock(mu_);
  for (int fd : {tcp, local}) {
    if (fd < 0) continue;
    live_fds_.erase(std::remove(live_fds_.begin(), live_fds_.end(), fd), live_fds_.end());
    close(fd);
  }
}

}  // namespace minicloud::volume
