// How qemu-storage-daemon reads and writes the layer files (QsdBackendOptions::file_aio):
// io_uring by default, the daemon's thread pool when it refuses the engine. Its own executable:
// a host without io_uring skips it (exit 77) without skipping the other qsd tests.
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>

#include "tests/unit/volume/qsd_test_util.h"

namespace minicloud::volume::testing {
namespace {

using contract::kMiB;
using contract::Ok;

// How many io_uring instances the process `pid` holds (its fds naming anon_inode:[io_uring]).
int IoUringFds(int pid) {
  int n = 0;
  std::error_code ec;
  for (const auto& e :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec)) {
    const auto target = std::filesystem::read_symlink(e.path(), ec);
    if (!ec && target.string().find("io_uring") != std::string::npos) ++n;
  }
  return n;
}

std::unique_ptr<QsdVolumeBackend> OpenWith(const std::string& dir, const std::string& aio) {
  QsdBackendOptions options;
  options.state_dir = dir + "/state";
  options.nbd_listen_port = 0;
  options.file_aio = aio;
  absl::StatusOr<std::unique_ptr<QsdVolumeBackend>> b = QsdVolumeBackend::Open(options);
  INFO(b.status().ToString());
  REQUIRE(b.ok());
  return std::move(*b);
}

// A volume made, written and read back over NBD; returns the daemon's pid.
int UseOneVolume(QsdVolumeBackend& b) {
  Ok(b.CreateVolume({"vol-io", 16 * kMiB, ""}));
  const NbdEndpoint e = Ok(b.Export("vol-io"));
  CHECK(QemuIo(e, {"write -P 0x3c 0 1M", "read -P 0x3c 0 1M", "read -P 0 1M 1M"}));
  return b.DaemonPidForTest();
}

// Catches: the `aio` option dropped from the layers' blockdev-add, or the default set back to
// "threads" (no io_uring instance in the daemon); the engine chosen but I/O through it broken
// (qemu-io's pattern checks fail).
TEST_CASE("volume qsd: layer files are read and written through io_uring") {
  SkipUnlessQemuTools();
  minicloud::testing::TempDir dir;
  CHECK(QsdBackendOptions{}.file_aio == "io_uring");
  auto b = OpenWith(dir.path(), "io_uring");
  const int pid = UseOneVolume(*b);
  MC_SKIP_UNLESS(b->FileAioForTest() == "io_uring",
                 "qemu-storage-daemon refuses aio=io_uring here (see its log)");
  REQUIRE(pid > 0);
  CHECK(IoUringFds(pid) >= 1);
}

// Catches: IoUringFds counting anything but io_uring instances (this daemon has none), so the
// test above could not fail.
TEST_CASE("volume qsd: with aio=threads the daemon holds no io_uring") {
  SkipUnlessQemuTools();
  minicloud::testing::TempDir dir;
  auto b = OpenWith(dir.path(), "threads");
  const int pid = UseOneVolume(*b);
  CHECK(b->FileAioForTest() == "threads");
  REQUIRE(pid > 0);
  CHECK(IoUringFds(pid) == 0);
}

// Catches: no fallback (CreateVolume fails on a daemon that refuses the engine), or a fallback
// that retries with the same engine; also a fallback that forgets the layers already open
// (the snapshot opens a second layer after the switch, and a restart reopens both).
TEST_CASE("volume qsd: an engine the daemon refuses falls back to its thread pool") {
  SkipUnlessQemuTools();
  minicloud::testing::TempDir dir;
  auto b = OpenWith(dir.path(), "no_such_engine");
  UseOneVolume(*b);
  CHECK(b->FileAioForTest() == "threads");
  Ok(b->CreateSnapshot("vol-io", "snap-1"));
  b.reset();
  b = OpenWith(dir.path(), "no_such_engine");
  const NbdEndpoint e = Ok(b->Export("vol-io"));
  CHECK(QemuIo(e, {"read -P 0x3c 0 1M"}));
  CHECK(b->FileAioForTest() == "threads");
}

}  // namespace
}  // namespace minicloud::volume::testing
