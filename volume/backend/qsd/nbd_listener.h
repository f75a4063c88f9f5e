#pragma once

// The TCP side of the NBD exports: one listening socket, made by the backend and handed to every
// qemu-storage-daemon it starts as its descriptor 3 (--nbd-server addr.type=fd), so hosts talk
// to the daemon directly. TCP_NODELAY is set on the listener and Linux copies it to each
// connection accepted from it: QEMU 7.2's NBD server leaves Nagle's algorithm on, which holds
// small replies back until the client's delayed ACK (about 40 ms; 4 KiB writes at queue depth 16
// ran 43x slower, docs/PERFORMANCE.md). The backend keeps the socket while the daemon restarts,
// so the port never changes, and hosts that connect meanwhile are not refused: they wait in its
// backlog for the next daemon.

#include <string>

#include "absl/status/statusor.h"
#include "common/file/file_util.h"

namespace minicloud::volume {

struct NbdListener {
  file::UniqueFd fd;  // listening, TCP_NODELAY, close-on-exec
  int port = 0;       // the bound port (the kernel's choice when asked for 0)
};

// Binds host:port (port 0: a free port) and listens. InvalidArgument for an address that does
// not parse, Unavailable when the port cannot be bound (in use, no such local address), both
// naming the address.
absl::StatusOr<NbdListener> ListenNbd(const std::string& host, int port);

}  // namespace minicloud::volume
