// The TCP side of the qsd backend's NBD exports (volume/backend/qsd/nbd_listener.h): accepted
// sockets have Nagle off, and small requests over the export are not held back by it.
#include "volume/backend/qsd/nbd_listener.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <chrono>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "tests/unit/volume/qsd_test_util.h"

namespace minicloud::volume::testing {
namespace {

using contract::kMiB;
using contract::Ok;

// Catches: TCP_NODELAY set on the connection that connects rather than on the listener (or not
// at all), a kernel that does not copy it to accepted sockets; the bound port not reported.
TEST_CASE("volume nbd listener: accepted connections have TCP_NODELAY") {
  absl::StatusOr<NbdListener> listened = ListenNbd("127.0.0.1", 0);
  REQUIRE(listened.ok());
  NbdListener& l = *listened;
  REQUIRE(l.port > 0);
  file::UniqueFd client(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(l.port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(connect(client.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  file::UniqueFd accepted(accept4(l.fd.get(), nullptr, nullptr, SOCK_CLOEXEC));
  REQUIRE(accepted.valid());
  int on = 0;
  socklen_t len = sizeof(on);
  REQUIRE(getsockopt(accepted.get(), IPPROTO_TCP, TCP_NODELAY, &on, &len) == 0);
  CHECK(on == 1);
}

// Catches: an address that does not resolve or a port in use reported as success.
TEST_CASE("volume nbd listener: bad addresses are errors") {
  CHECK(absl::IsInvalidArgument(ListenNbd("no-such-host.invalid", 0).status()));
  absl::StatusOr<NbdListener> listened = ListenNbd("127.0.0.1", 0);
  REQUIRE(listened.ok());
  NbdListener& l = *listened;
  CHECK(absl::IsUnavailable(ListenNbd("127.0.0.1", l.port).status()));
}

// Catches: the daemon serving NBD on a socket of its own (QEMU 7.2: Nagle on), so each small
// reply waits for the client's delayed ACK (about 40 ms): 2,000 writes at queue depth 16 take
// at least 125 × 40 ms = 5 s that way, about 0.1–0.5 s with Nagle off.
TEST_CASE_METHOD(QsdFixture, "volume qsd: 4 KiB writes over the TCP export are not held by Nagle") {
  Ok(backend().CreateVolume({"vol-n", 64 * kMiB, ""}));
  const NbdEndpoint e = Ok(backend().Export("vol-n"));
  const std::string cmd = absl::StrCat(
      "qemu-img bench -w --pattern=90 -c 2000 -s 4K -d 16 -f raw '", e.Uri(), "' 2>&1");
  const auto t0 = std::chrono::steady_clock::now();
  FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  char buf[4096];
  while (fread(buf, 1, sizeof(buf), p) > 0) {
  }
  REQUIRE(pclose(p) == 0);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  INFO("2,000 4 KiB writes at depth 16 took " << s << " s");
  CHECK(s < 3.0);
  // The data arrived: 2,000 × 4 KiB from offset 0, pattern 90 (0x5a).
  CHECK(QemuIo(e, {"read -P 0x5a 0 8000k", "read -P 0 8000k 1M"}));
}

}  // namespace
}  // namespace minicloud::volume::testing
