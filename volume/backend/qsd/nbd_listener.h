#pragma once

// The TCP side of the NBD exports: one listening socket, made here with TCP_NODELAY and handed
// to every qemu-storage-daemon this backend starts (fd 3, `--nbd-server addr.type=fd`). QEMU
// 7.2's NBD server leaves Nagle's algorithm on for sockets it makes itself, which holds back
// small replies until the client's delayed ACK (about 40 ms): 4 KiB writes at queue depth 16
// ran 43× slower over its own TCP listener than over its unix socket (docs/PERFORMANCE.md).
// Linux copies TCP_NODELAY from a listening socket to the sockets accept() returns, so every
// connection the daemon accepts has Nagle off, and the bytes go client → daemon with no copy
// in between. The backend keeps the socket for its whole life: the port never changes across
// restarts of the daemon, and clients that connect while it restarts wait in the backlog;
// connections open when a daemon dies are cut and clients reconnect.

#include <string>

#include "absl/status/statusor.h"
#include "common/file/file_util.h"

namespace minicloud::volume {

struct NbdListener {
  file::UniqueFd fd;  // listening, TCP_NODELAY, close-on-exec (Spawn's pass_fds hands it over)
  int port = 0;
};

// Listens on host:port (port 0: a free port chosen by the kernel). InvalidArgument for an
// address that does not resolve, Unavailable when it cannot be bound.
absl::StatusOr<NbdListener> ListenNbd(const std::string& host, int port);

}  // namespace minicloud::volume
