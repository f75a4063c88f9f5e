// The TCP side of the qsd backend's NBD exports (volume/backend/qsd/nbd_relay.h): the
// connections hosts open have Nagle's algorithm off, and data passes through them.
#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
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

// The TCP_NODELAY setting of the socket this process accepted on local port `port` (the relay
// runs in this process), once it exists.
std::optional<int> AcceptedNoDelay(int port) {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return std::nullopt;
  std::optional<int> out;
  while (dirent* e = readdir(dir)) {
    const int fd = atoi(e->d_name);
    struct stat st {};
    if (fd <= 2 || fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) continue;
    sockaddr_storage local{};
    socklen_t len = sizeof(local);
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len) != 0) continue;
    if (local.ss_family != AF_INET ||
        ntohs(reinterpret_cast<sockaddr_in*>(&local)->sin_port) != port) {
      continue;
    }
    int listening = 0;
    socklen_t l = sizeof(listening);
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &l) != 0 || listening) continue;
    int nodelay = 0;
    l = sizeof(nodelay);
    if (getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &nodelay, &l) == 0) out = nodelay;
  }
  closedir(dir);
  return out;
}

// Catches: the relay without TCP_NODELAY on the connections it accepts, or hosts sent to the
// daemon's own TCP listener (QEMU 7.2 leaves Nagle on there): each small reply then waits for
// the client's delayed ACK, about 40 ms, and 4 KiB I/O at queue depth 16 runs 10-20x slower
// (bench_volume shows it). Also the relay not passing data both ways.
TEST_CASE_METHOD(QsdFixture, "volume qsd: the TCP export's connections have Nagle off") {
  Ok(backend().CreateVolume({"vol-n", 8 * kMiB, ""}));
  const NbdEndpoint e = Ok(backend().Export("vol-n"));
  const int client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(client >= 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<uint16_t>(e.port));
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(connect(client, reinterpret_cast<sockaddr*>(&to), sizeof(to)) == 0);
  // The relay's accept runs on its own thread: wait for the accepted socket to appear.
  std::optional<int> nodelay;
  for (int i = 0; i < 500 && !nodelay; ++i) {
    nodelay = AcceptedNoDelay(e.port);
    if (!nodelay) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  close(client);
  REQUIRE(nodelay.has_value());
  CHECK(*nodelay == 1);
  // Data passes both ways over the export's TCP port.
  CHECK(QemuIo(e, {"write -P 0x5a 0 64k", "read -P 0x5a 0 64k", "read -P 0 64k 1M"}));
}

}  // namespace
}  // namespace minicloud::volume::testing
