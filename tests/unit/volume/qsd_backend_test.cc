// The qsd backend beyond the shared contract: data through real NBD exports (qemu-io),
// incremental snapshot sizes, snapshots under a running writer, recovery after the daemon dies
// or a crash mid-snapshot, and what lands on disk.
#include <signal.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "tests/unit/volume/qsd_test_util.h"

namespace minicloud::volume::testing {
namespace {

using contract::kMiB;
using contract::Ok;
using contract::RequireOk;

// Catches: a clone that copies the volume's current data instead of the snapshot's (or shares
// the volume's top layer), writes after a snapshot leaking into it, a larger clone whose tail
// is not zeros, a volume losing its newest writes at a snapshot.
TEST_CASE_METHOD(QsdFixture, "volume qsd: data over NBD: snapshot, write, clone, read back") {
  Ok(backend().CreateVolume({"vol-a", 64 * kMiB, ""}));
  NbdEndpoint a = Ok(backend().Export("vol-a"));
  REQUIRE(QemuIo(a, {"write -P 0xaa 0 1M", "write -P 0x5a 8M 64k"}));
  Ok(backend().CreateSnapshot("vol-a", "snap-1"));
  REQUIRE(QemuIo(a, {"write -P 0xbb 0 1M"}));
  Ok(backend().CreateVolume({"vol-c", 128 * kMiB, "snap-1"}));
  NbdEndpoint c = Ok(backend().Export("vol-c"));
  CHECK(QemuIo(
      c, {"read -P 0xaa 0 1M", "read -P 0x5a 8M 64k", "read -P 0 64M 1M", "read -P 0 127M 1M"}));
  CHECK(QemuIo(a, {"read -P 0xbb 0 1M", "read -P 0x5a 8M 64k"}));
  // The clone is writable and its writes stay its own.
  REQUIRE(QemuIo(c, {"write -P 0xcc 0 64k"}));
  CHECK(QemuIo(a, {"read -P 0xbb 0 64k"}));
  // A second clone of the same snapshot still sees the snapshot's bytes.
  Ok(backend().CreateVolume({"vol-d", 0, "snap-1"}));
  CHECK(QemuIo(Ok(backend().Export("vol-d")), {"read -P 0xaa 0 1M"}));
}

// Catches: full (not incremental) snapshots; a snapshot that stores nothing.
TEST_CASE_METHOD(QsdFixture, "volume qsd: a snapshot stores only what changed, about 1 MiB") {
  Ok(backend().CreateVolume({"vol-a", 256 * kMiB, ""}));
  NbdEndpoint a = Ok(backend().Export("vol-a"));
  REQUIRE(QemuIo(a, {"write -P 0x11 0 32M"}));
  SnapshotInfo first = Ok(backend().CreateSnapshot("vol-a", "snap-1"));
  CHECK(first.stored_bytes >= 32 * kMiB);
  REQUIRE(QemuIo(a, {"write -P 0x22 100M 1M"}));
  SnapshotInfo second = Ok(backend().CreateSnapshot("vol-a", "snap-2"));
  INFO("second snapshot stores " << second.stored_bytes << " bytes");
  CHECK(second.stored_bytes >= 1 * kMiB);
  CHECK(second.stored_bytes <= 2 * kMiB);
  // ListSnapshots reports the same sizes.
  auto snaps = Ok(backend().ListSnapshots());
  REQUIRE(snaps.size() == 2);
  CHECK(snaps[1].stored_bytes == second.stored_bytes);
}

// Catches: a snapshot that breaks a live export or loses writes in flight (the writer fails,
// or the volume does not read back everything the writer was told was written).
TEST_CASE_METHOD(QsdFixture, "volume qsd: snapshots while a writer runs keep every write") {
  Ok(backend().CreateVolume({"vol-w", 64 * kMiB, ""}));
  NbdEndpoint w = Ok(backend().Export("vol-w"));
  bool writer_ok = false;
  std::thread writer([&] {
    std::vector<std::string> cmds;
    for (int i = 0; i < 48; ++i) cmds.push_back("write -P 0x77 " + std::to_string(i) + "M 1M");
    writer_ok = QemuIo(w, cmds);
  });
  for (int i = 0; i < 5; ++i) {
    Ok(backend().CreateSnapshot("vol-w", "snap-w" + std::to_string(i)));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  writer.join();
  CHECK(writer_ok);
  CHECK(QemuIo(w, {"read -P 0x77 0 48M", "read -P 0 48M 16M"}));
  // Every snapshot reads as some prefix of the writes: each MiB is all 0x77 or all zeros.
  Ok(backend().CreateVolume({"vol-r", 0, "snap-w2"}));
  NbdEndpoint r = Ok(backend().Export("vol-r"));
  for (int i = 0; i < 48; ++i) {
    const std::string at = std::to_string(i) + "M 1M";
    const bool written = QemuIo(r, {"read -P 0x77 " + at});
    CHECK((written || QemuIo(r, {"read -P 0 " + at})));
  }
}

// Catches: online grow dropping the export or its data; the new size not reaching a client.
TEST_CASE_METHOD(QsdFixture, "volume qsd: grow while exported keeps data, clients see the size") {
  Ok(backend().CreateVolume({"vol-g", 16 * kMiB, ""}));
  NbdEndpoint g = Ok(backend().Export("vol-g"));
  REQUIRE(QemuIo(g, {"write -P 0x42 15M 1M"}));
  CHECK_FALSE(QemuIo(g, {"read 40M 1M"}));  // beyond the end: refused
  Ok(backend().GrowVolume("vol-g", 48 * kMiB));
  CHECK(QemuIo(g, {"read -P 0x42 15M 1M", "read -P 0 40M 1M", "write -P 0x43 47M 1M"}));
}

// Catches: the daemon's death not noticed; exports or the layer graph not rebuilt from disk.
TEST_CASE_METHOD(QsdFixture, "volume qsd: a killed daemon is restarted with its exports") {
  Ok(backend().CreateVolume({"vol-k", 16 * kMiB, ""}));
  NbdEndpoint k = Ok(backend().Export("vol-k"));
  REQUIRE(QemuIo(k, {"write -P 0x99 0 1M"}));
  Ok(backend().CreateSnapshot("vol-k", "snap-k"));
  REQUIRE(QemuIo(k, {"write -P 0x98 0 64k"}));
  const int pid = qsd().DaemonPidForTest();
  REQUIRE(pid > 0);
  REQUIRE(kill(pid, SIGKILL) == 0);
  // The next call notices and recovers.
  CHECK(backend().Health().healthy);
  CHECK(qsd().DaemonPidForTest() != pid);
  CHECK(QemuIo(k, {"read -P 0x98 0 64k", "read -P 0x99 64k 960k"}));
  Ok(backend().CreateVolume({"vol-k2", 0, "snap-k"}));
  CHECK(QemuIo(Ok(backend().Export("vol-k2")), {"read -P 0x99 0 1M"}));
}

nlohmann::json ReadJson(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return nlohmann::json::parse(s.str());
}

// Catches: a snapshot left half-done by a crash (written ahead, file never created) surviving
// the next start, or the volume's top left pointing at a layer that does not exist.
TEST_CASE_METHOD(QsdFixture, "volume qsd: a crash mid-snapshot is undone at the next start") {
  Ok(backend().CreateVolume({"vol-a", 16 * kMiB, ""}));
  REQUIRE(QemuIo(Ok(backend().Export("vol-a")), {"write -P 0x31 0 1M"}));
  Close();
  // What CreateSnapshot writes before blockdev-snapshot-sync runs.
  const std::string manifest = state_dir() + "/state/manifest.json";
  nlohmann::json m = ReadJson(manifest);
  const int64_t top = m["volumes"]["vol-a"]["top"];
  const int64_t n = m["next_layer"];
  m["next_layer"] = n + 1;
  m["layers"][std::to_string(n)] = {{"backing", top}, {"pending", true}};
  m["volumes"]["vol-a"]["top"] = n;
  m["snapshots"]["snap-p"] = {{"volume_id", "vol-a"}, {"layer", top}, {"size_bytes", 16 * kMiB}};
  std::ofstream(manifest) << m.dump();
  Open();
  CHECK(Ok(backend().ListSnapshots()).empty());
  CHECK(QemuIo(Ok(backend().Export("vol-a")), {"read -P 0x31 0 1M"}));
  CHECK(ReadJson(manifest)["volumes"]["vol-a"]["top"] == top);
}

// Catches: a state directory or layer file readable by others; files of deleted volumes and
// unreferenced strays left on disk.
TEST_CASE_METHOD(QsdFixture, "volume qsd: modes on disk and garbage collection") {
  Ok(backend().CreateVolume({"vol-a", 16 * kMiB, ""}));
  Ok(backend().CreateSnapshot("vol-a", "snap-1"));
  const std::string state = state_dir() + "/state";
  struct stat st {};
  REQUIRE(stat(state.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0700);
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(state + "/layers")) {
    REQUIRE(stat(e.path().c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    ++files;
  }
  CHECK(files == 2);  // the frozen layer and the new top
  RequireOk(backend().DeleteSnapshot("snap-1"));
  RequireOk(backend().DeleteVolume("vol-a"));
  CHECK(std::filesystem::is_empty(state + "/layers"));
  std::ofstream(state + "/layers/77.qcow2") << "stray";
  Restart();
  CHECK(std::filesystem::is_empty(state + "/layers"));
}

// Catches: a failed create leaving a file, a manifest entry or an open node behind (the
// contract: a failed call leaves nothing).
TEST_CASE("volume qsd: a create whose qemu-img fails leaves nothing behind") {
  SkipUnlessQemuTools();
  minicloud::testing::TempDir dir;
  QsdBackendOptions options;
  options.state_dir = dir.path() + "/state";
  options.nbd_listen_port = 0;
  options.qemu_img = "false";  // exits 1
  auto backend = QsdVolumeBackend::Open(options);
  REQUIRE(backend.ok());
  CHECK((*backend)->CreateVolume({"vol-a", kMiB, ""}).status().code() ==
        absl::StatusCode::kInternal);
  CHECK((*backend)->ListVolumes()->empty());
  CHECK(std::filesystem::is_empty(dir.path() + "/state/layers"));
  backend->reset();
  options.qemu_img = "qemu-img";
  backend = QsdVolumeBackend::Open(options);
  REQUIRE(backend.ok());
  CHECK((*backend)->ListVolumes()->empty());
  CHECK((*backend)->CreateVolume({"vol-a", kMiB, ""}).ok());
}

}  // namespace
}  // namespace minicloud::volume::testing
