// The TCP side of the qsd backend's NBD exports (volume/backend/qsd/nbd_listener.h): the daemon
// serves hosts on the backend's listener, the connections it accepts have Nagle's algorithm off,
// and the port outlives a restart of the daemon.
#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <string>
#include <thread>

#include "tests/unit/volume/qsd_test_util.h"

namespace minicloud::volume::testing {
namespace {

using contract::kMiB;
using contract::Ok;

// The TCP_NODELAY setting of a connected socket on local port `port` that process `pid` holds,
// read through a copy of its descriptor (pidfd_getfd), once such a socket exists.
std::optional<int> AcceptedNoDelay(int pid, int port) {
  const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) return std::nullopt;
  DIR* dir = opendir(("/proc/" + std::to_string(pid) + "/fd").c_str());
  if (dir == nullptr) {
    close(pidfd);
    return std::nullopt;
  }
  std::optional<int> out;
  while (dirent* e = readdir(dir)) {
    if (e->d_name[0] == '.') continue;
    const int fd = static_cast<int>(syscall(SYS_pidfd_getfd, pidfd, atoi(e->d_name), 0));
    if (fd < 0) continue;
    struct stat st {};
    sockaddr_storage local{};
    socklen_t len = sizeof(local);
    int listening = 1;
    socklen_t l = sizeof(listening);
    if (fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode) &&
        getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len) == 0 &&
        local.ss_family == AF_INET &&
        ntohs(reinterpret_cast<sockaddr_in*>(&local)->sin_port) == port &&
        getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &l) == 0 && !listening) {
      int nodelay = 0;
      l = sizeof(nodelay);
      if (getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &nodelay, &l) == 0) out = nodelay;
    }
    close(fd);
  }
  closedir(dir);
  close(pidfd);
  return out;
}

int ConnectLoopback(int port) {
  const int client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (client < 0) return -1;
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<uint16_t>(port));
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(client, reinterpret_cast<sockaddr*>(&to), sizeof(to)) != 0) {
    close(client);
    return -1;
  }
  return client;
}

// Catches: the listener made without TCP_NODELAY, or hosts sent to a listener the daemon makes
// itself (QEMU 7.2 leaves Nagle on there): each small reply then waits for the client's delayed
// ACK, about 40 ms, and 4 KiB I/O at queue depth 16 runs 10-20x slower (bench_volume shows it).
// Also the export's port served by anything but the daemon (no socket of the daemon's on it).
TEST_CASE_METHOD(QsdFixture, "volume qsd: the daemon's TCP connections have Nagle off") {
  Ok(backend().CreateVolume({"vol-n", 8 * kMiB, ""}));
  const NbdEndpoint e = Ok(backend().Export("vol-n"));
  const int pid = qsd().DaemonPidForTest();
  REQUIRE(pid > 0);
  const int client = ConnectLoopback(e.port);
  REQUIRE(client >= 0);
  // The daemon accepts from its main loop: wait for the accepted socket to appear.
  std::optional<int> nodelay;
  for (int i = 0; i < 500 && !nodelay; ++i) {
    nodelay = AcceptedNoDelay(pid, e.port);
    if (!nodelay) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  close(client);
  REQUIRE(nodelay.has_value());
  CHECK(*nodelay == 1);
  CHECK(QemuIo(e, {"write -P 0x5a 0 64k", "read -P 0x5a 0 64k", "read -P 0 64k 1M"}));
}

// Catches: the listener closed or re-bound when the daemon restarts (a new port, or the old one
// refused until a reopen), so hosts that hold the endpoint could not reconnect.
TEST_CASE_METHOD(QsdFixture, "volume qsd: the NBD port outlives a restart of the daemon") {
  Ok(backend().CreateVolume({"vol-p", 8 * kMiB, ""}));
  const NbdEndpoint before = Ok(backend().Export("vol-p"));
  REQUIRE(QemuIo(before, {"write -P 0x21 0 64k"}));
  const int pid = qsd().DaemonPidForTest();
  REQUIRE(pid > 0);
  REQUIRE(kill(pid, SIGKILL) == 0);
  // Before the next call notices, the port still takes connections (they wait in the backlog).
  const int waiting = ConnectLoopback(before.port);
  CHECK(waiting >= 0);
  if (waiting >= 0) close(waiting);
  CHECK(backend().Health().healthy);  // restarts the daemon
  CHECK(qsd().DaemonPidForTest() != pid);
  const NbdEndpoint after = Ok(backend().Export("vol-p"));
  CHECK(after.port == before.port);
  CHECK(QemuIo(after, {"read -P 0x21 0 64k"}));
}

}  // namespace
}  // namespace minicloud::volume::testing
