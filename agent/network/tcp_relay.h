#pragma once

// A plain TCP relay: what a guest opens to a host address (169.254.169.254:8773, next to the
// metadata service) is connected through to one upstream endpoint (the controller's EC2 Query
// API), bytes copied both ways until either side closes. The relay reads nothing of the stream:
// every request that passes is SigV4-signed and checked by the controller, as from anywhere.
//
// Contract: Start() binds and listens (an error when the address is not on the host yet: the
// caller retries, as for the metadata service). At most `max_connections` relayed at once; more
// are closed at accept. A connection whose upstream cannot be reached is closed. Stop() closes
// the listener and every relayed connection and joins every thread. Thread-safe.

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "absl/status/statusor.h"

namespace minicloud::network {

// The guest-facing port of the Query API relay (the Query API's own default port).
inline constexpr int kQueryRelayPort = 8773;

struct TcpRelayOptions {
  std::string listen_address;  // numeric IPv4 or IPv6
  int listen_port = kQueryRelayPort;
  std::string upstream_host;  // name or address of the controller's Query API
  std::string upstream_port;
  int max_connections = 64;
};

class TcpRelay {
 public:
  static absl::StatusOr<std::unique_ptr<TcpRelay>> Start(TcpRelayOptions options);
  ~TcpRelay();
  void Stop();
  int port() const { return port_; }  // the bound port (listen_port 0: the one picked)

 private:
  TcpRelay(TcpRelayOptions options, int listen_fd, int wake_fd[2], int port);
  void AcceptLoop();
  void Relay(int client_fd);

  const TcpRelayOptions options_;
  int listen_fd_;
  int wake_read_, wake_write_;
  int port_;
  std::thread acceptor_;
  std::mutex mu_;
  std::set<int> open_fds_;  // relayed sockets, shut down by Stop()
  int active_ = 0;
  bool stopping_ = false;
  std::condition_variable done_;
};

}  // namespace minicloud::network
