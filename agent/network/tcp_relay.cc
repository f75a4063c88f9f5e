#include "agent/network/tcp_relay.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/logging.h"

namespace minicloud::network {
namespace {

absl::Status Errno(absl::string_view what) {
  return absl::UnavailableError(absl::StrCat(what, ": ", std::strerror(errno)));
}

int ConnectUpstream(const std::string& host, const std::string& port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (getaddrinfo(host.c_str(), port.c_str(), &hints, &res) != 0) return -1;
  int fd = -1;
  for (addrinfo* a = res; a != nullptr; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0) break;
    ::close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  return fd;
}

// Copies what is readable on `from` to `to`; false at end of stream or on an error.
bool Pump(int from, int to) {
  char buf[16384];
  ssize_t n = ::read(from, buf, sizeof buf);
  if (n <= 0) return false;
  for (ssize_t off = 0; off < n;) {
    ssize_t w = ::send(to, buf + off, n - off, MSG_NOSIGNAL);
    if (w <= 0) return false;
    off += w;
  }
  return true;
}

}  // namespace

absl::StatusOr<std::unique_ptr<TcpRelay>> TcpRelay::Start(TcpRelayOptions options) {
  sockaddr_storage addr{};
  socklen_t len = 0;
  int family = AF_INET;
  if (inet_pton(AF_INET, options.listen_address.c_str(),
                &reinterpret_cast<sockaddr_in*>(&addr)->sin_addr) == 1) {
    auto* a = reinterpret_cast<sockaddr_in*>(&addr);
    a->sin_family = AF_INET;
    a->sin_port = htons(options.listen_port);
    len = sizeof(sockaddr_in);
  } else if (inet_pton(AF_INET6, options.listen_address.c_str(),
                       &reinterpret_cast<sockaddr_in6*>(&addr)->sin6_addr) == 1) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&addr);
    a->sin6_family = family = AF_INET6;
    a->sin6_port = htons(options.listen_port);
    len = sizeof(sockaddr_in6);
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("relay listen address '", options.listen_address, "' is not numeric"));
  }
  const std::string where =
      absl::StrCat("query relay on ", options.listen_address, ":", options.listen_port);
  int fd = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Errno(where);
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0 || ::listen(fd, 64) != 0) {
    absl::Status s = Errno(where);
    ::close(fd);
    return s;
  }
  sockaddr_storage bound{};
  socklen_t bound_len = sizeof bound;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &bound_len);
  const int port = ntohs(family == AF_INET ? reinterpret_cast<sockaddr_in*>(&bound)->sin_port
                                           : reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port);
  int wake[2];
  if (::pipe2(wake, O_CLOEXEC) != 0) {
    absl::Status s = Errno(where);
    ::close(fd);
    return s;
  }
  std::unique_ptr<TcpRelay> relay(new TcpRelay(std::move(options), fd, wake, port));
  relay->acceptor_ = std::thread([r = relay.get()] { r->AcceptLoop(); });
  return relay;
}

TcpRelay::TcpRelay(TcpRelayOptions options, int listen_fd, int wake_fd[2], int port)
    : options_(std::move(options)),
      listen_fd_(listen_fd),
      wake_read_(wake_fd[0]),
      wake_write_(wake_fd[1]),
      port_(port) {}

TcpRelay::~TcpRelay() { Stop(); }

void TcpRelay::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    stopping_ = true;
    for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);
  }
  char b = 0;
  (void)!::write(wake_write_, &b, 1);
  if (acceptor_.joinable()) acceptor_.join();
  std::unique_lock<std::mutex> lock(mu_);
  done_.wait(lock, [this] { return active_ == 0; });
  ::close(listen_fd_);
  ::close(wake_read_);
  ::close(wake_write_);
}

void TcpRelay::AcceptLoop() {
  while (true) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_read_, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents != 0) return;
    int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ || active_ >= options_.max_connections) {
      ::close(client);
      continue;
    }
    ++active_;
    open_fds_.insert(client);
    std::thread([this, client] { Relay(client); }).detach();
  }
}

void TcpRelay::Relay(int client) {
  int upstream = ConnectUpstream(options_.upstream_host, options_.upstream_port);
  bool ok = upstream >= 0;
  if (ok) {
    std::lock_guard<std::mutex> lock(mu_);
    ok = !stopping_;
    open_fds_.insert(upstream);
  }
  if (!ok && upstream < 0) {
    spdlog::warn("query relay: cannot reach {}:{}", options_.upstream_host, options_.upstream_port);
  }
  while (ok) {
    pollfd fds[2] = {{client, POLLIN, 0}, {upstream, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[0].revents != 0 && !Pump(client, upstream)) break;
    if (fds[1].revents != 0 && !Pump(upstream, client)) break;
  }
  std::lock_guard<std::mutex> lock(mu_);
  open_fds_.erase(client);
  ::close(client);
  if (upstream >= 0) {
    open_fds_.erase(upstream);
    ::close(upstream);
  }
  --active_;
  done_.notify_all();
}

}  // namespace minicloud::network
