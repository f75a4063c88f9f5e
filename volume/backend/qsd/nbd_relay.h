#pragma once

// The TCP side of the NBD exports. qemu-storage-daemon's NBD server listens on a unix socket in
// the state directory; this relay accepts hosts' TCP connections on the configured address and
// copies bytes both ways to that socket, with TCP_NODELAY on the TCP side. QEMU 7.2's NBD
// server leaves Nagle's algorithm on, which holds back small replies until the client's delayed
// ACK (about 40 ms): measured here, 4 KiB writes at queue depth 16 ran 43× slower over its TCP
// listener than over its unix socket (docs/PERFORMANCE.md). The relay is also where TLS and
// per-host checks will sit. It outlives a restart of qemu-storage-daemon, so the port never
// changes; connections open during a restart are cut and clients reconnect.

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "common/file/file_util.h"

namespace minicloud::volume {

class NbdRelay {
 public:
  // Listens on host:port (port 0: a free port) and relays each connection to `unix_path`.
  static absl::StatusOr<std::unique_ptr<NbdRelay>> Start(const std::string& host, int port,
                                                         const std::string& unix_path);
  ~NbdRelay();  // stops accepting, cuts every relayed connection, joins the threads

  int port() const { return port_; }

 private:
  NbdRelay(file::UniqueFd listener, int port, std::string unix_path);
  void AcceptLoop();
  void Relay(int tcp_fd);

  file::UniqueFd listener_;
  file::UniqueFd wake_read_, wake_write_;
  const int port_;
  const std::string unix_path_;
  std::atomic<bool> stopping_{false};
  std::mutex mu_;
  std::vector<int> live_fds_;  // sockets of live connections, shut down by the destructor
  struct Connection {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };
  std::vector<Connection> connections_;  // finished ones are joined at the next accept
  std::thread acceptor_;
};

}  // namespace minicloud::volume
