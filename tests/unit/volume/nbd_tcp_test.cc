// The TCP side of the qsd backend's NBD exports (volume/backend/qsd/nbd_relay.h): small requests
// over the export are not held back by Nagle's algorithm.
#include <chrono>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "tests/unit/volume/qsd_test_util.h"

namespace minicloud::volume::testing {
namespace {

using contract::kMiB;
using contract::Ok;

// Catches: the relay without TCP_NODELAY, or hosts sent to the daemon's own TCP listener (QEMU
// 7.2: Nagle on), so each small reply waits for the client's delayed ACK (about 40 ms): 2,000
// writes at queue depth 16 took 3.7–6.0 s that way here, 0.3–0.4 s with Nagle off (machine
// load 10–14).
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
  CHECK(s < 2.0);
  // The data arrived: 2,000 × 4 KiB from offset 0, pattern 90 (0x5a).
  CHECK(QemuIo(e, {"read -P 0x5a 0 8000k", "read -P 0 8000k 1M"}));
}

}  // namespace
}  // namespace minicloud::volume::testing
