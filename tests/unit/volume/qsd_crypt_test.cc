// Encrypted volumes on the real qemu-storage-daemon: what is stored and exported is LUKS
// ciphertext, and reading through QEMU's luks driver (as an instance's host does) with the
// volume's key gives the data back. Also: snapshots and clones keep the encryption, the key is
// nowhere in the state directory, and a wrong key does not open the volume.
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/unit/volume/qsd_test_util.h"

namespace minicloud::volume::testing {
namespace {

using contract::kMiB;
using contract::Ok;

constexpr char kKey[] = "9f2c4e6a8b0d1f3e5a7c9b1d3f5e7a9c0b2d4f6e8a1c3e5b7d9f0a2c4e6b8d0f";
constexpr char kMarker[] = "MINICLOUD-PLAINTEXT-MARKER-7d1e";

int Run(const std::string& cmd, std::string* out = nullptr) {
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (p == nullptr) return -1;
  std::string text;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) text.append(buf, n);
  const int status = pclose(p);
  UNSCOPED_INFO(cmd << ": " << text);
  if (out != nullptr) *out = text;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// True when some file under `dir` contains `needle`.
bool AnyFileContains(const std::string& dir, const std::string& needle) {
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    if (ReadAll(e.path().string()).find(needle) != std::string::npos) return true;
  }
  return false;
}

// The image options of a luks reader over the NBD export (what libvirt gives the host's QEMU).
std::string LuksOverNbd(const NbdEndpoint& e) {
  return "driver=luks,key-secret=k0,file.driver=nbd,file.server.type=inet,file.server.host=" +
         e.host + ",file.server.port=" + std::to_string(e.port) + ",file.export=" + e.export_name;
}

// Writes 1 MiB holding the marker at `offset` through the luks driver with `key`.
bool WriteMarker(const NbdEndpoint& e, const std::string& key, const std::string& dir,
                 int offset_mib) {
  std::string block;
  while (block.size() < kMiB) block += kMarker;
  block.resize(kMiB);
  const std::string src = dir + "/marker.bin";
  std::ofstream(src, std::ios::binary) << block;
  return Run("qemu-io --object secret,id=k0,data=" + key + " --image-opts '" + LuksOverNbd(e) +
             "' -c 'write -s " + src + " " + std::to_string(offset_mib) + "M 1M'") == 0;
}

// The decrypted content of the export as a raw file (empty on failure).
std::string ReadDecrypted(const NbdEndpoint& e, const std::string& key, const std::string& dir) {
  const std::string out = dir + "/plain.raw";
  std::filesystem::remove(out);
  if (Run("qemu-img convert --object secret,id=k0,data=" + key + " --image-opts '" +
          LuksOverNbd(e) + "' -O raw " + out) != 0) {
    return "";
  }
  return ReadAll(out);
}

// Catches: an "encrypted" volume stored in clear (the key ignored, or the daemon exporting the
// decrypted node): the marker would be in the layer files or the raw export.
TEST_CASE_METHOD(QsdFixture, "volume qsd crypt: bytes at rest and on the wire are ciphertext") {
  minicloud::testing::TempDir scratch;
  VolumeInfo v = Ok(backend().CreateVolume({"vol-e", 16 * kMiB, "", kKey}));
  CHECK(v.encrypted);
  CHECK(v.size_bytes == 16 * kMiB);
  NbdEndpoint e = Ok(backend().Export("vol-e"));
  REQUIRE(WriteMarker(e, kKey, scratch.path(), 3));
  // Through the decrypting path: the marker, and the decrypted size is the volume's size.
  const std::string plain = ReadDecrypted(e, kKey, scratch.path());
  CHECK(plain.size() == 16 * kMiB);
  CHECK(plain.find(kMarker) == 3 * kMiB);
  // At rest: no layer file holds the marker (or the key).
  CHECK_FALSE(AnyFileContains(state_dir(), kMarker));
  CHECK_FALSE(AnyFileContains(state_dir(), kKey));
  // On the wire: the raw export starts with a LUKS header and does not hold the marker.
  const std::string raw_out = scratch.path() + "/wire.raw";
  REQUIRE(Run("qemu-img convert -f raw '" + e.Uri() + "' -O raw " + raw_out) == 0);
  const std::string wire = ReadAll(raw_out);
  CHECK(wire.compare(0, 6, std::string("LUKS\xba\xbe", 6)) == 0);
  CHECK(wire.find(kMarker) == std::string::npos);
}

// Catches: the test's own grep being blind (a plain volume's marker must be found on disk).
TEST_CASE_METHOD(QsdFixture, "volume qsd crypt: control, a plain volume's marker is on disk") {
  Ok(backend().CreateVolume({"vol-p", 16 * kMiB, ""}));
  NbdEndpoint e = Ok(backend().Export("vol-p"));
  std::string block;
  while (block.size() < 65536) block += kMarker;
  minicloud::testing::TempDir scratch;
  std::ofstream(scratch.path() + "/m", std::ios::binary) << block.substr(0, 65536);
  REQUIRE(QemuIo(e, {"write -s " + scratch.path() + "/m 0 64k"}));
  CHECK(AnyFileContains(state_dir(), kMarker));
  CHECK_FALSE(Ok(backend().GetVolume("vol-p")).encrypted);
}

// Catches: a wrong key opening the volume (no real LUKS), snapshots or clones losing the
// encrypted flag or the header (clone unreadable with the key), a grow that eats into the
// payload or forgets the header, a restart that forgets the header size.
TEST_CASE_METHOD(QsdFixture, "volume qsd crypt: snapshots, clones, grow and restart") {
  minicloud::testing::TempDir scratch;
  Ok(backend().CreateVolume({"vol-e", 8 * kMiB, "", kKey}));
  NbdEndpoint e = Ok(backend().Export("vol-e"));
  REQUIRE(WriteMarker(e, kKey, scratch.path(), 1));
  CHECK(ReadDecrypted(e, "00" + std::string(kKey).substr(2), scratch.path()).empty());
  SnapshotInfo snap = Ok(backend().CreateSnapshot("vol-e", "snap-e"));
  CHECK(snap.encrypted);
  CHECK(snap.size_bytes == 8 * kMiB);
  VolumeInfo clone = Ok(backend().CreateVolume({"vol-c", 12 * kMiB, "snap-e"}));
  CHECK(clone.encrypted);
  NbdEndpoint c = Ok(backend().Export("vol-c"));
  std::string plain = ReadDecrypted(c, kKey, scratch.path());
  CHECK(plain.size() == 12 * kMiB);
  CHECK(plain.find(kMarker) == 1 * kMiB);
  // A key with an encrypted snapshot is refused: the clone's key is the snapshot's.
  CHECK(backend().CreateVolume({"vol-x", 0, "snap-e", kKey}).status().code() ==
        absl::StatusCode::kInvalidArgument);
  // Same id, plain vs encrypted: not an idempotent repeat.
  CHECK(backend().CreateVolume({"vol-e", 8 * kMiB, ""}).status().code() ==
        absl::StatusCode::kAlreadyExists);
  Ok(backend().GrowVolume("vol-e", 20 * kMiB));
  Restart();
  VolumeInfo grown = Ok(backend().GetVolume("vol-e"));
  CHECK(grown.size_bytes == 20 * kMiB);
  CHECK(grown.encrypted);
  e = Ok(backend().Export("vol-e"));
  plain = ReadDecrypted(e, kKey, scratch.path());
  CHECK(plain.size() == 20 * kMiB);
  CHECK(plain.find(kMarker) == 1 * kMiB);
  CHECK_FALSE(AnyFileContains(state_dir(), kKey));
}

// Catches: the key with a plain snapshot refused or ignored (a plain clone: the marker readable
// on the wire), the copy made copy-on-write over the plain layers (deleting the snapshot would
// then leave the plaintext on disk, or make the volume unreadable), the copy missing data or at
// the wrong offset, the payload not grown to the asked size, a restart losing the header size.
TEST_CASE_METHOD(QsdFixture, "volume qsd crypt: an encrypted volume from a plain snapshot") {
  minicloud::testing::TempDir scratch;
  Ok(backend().CreateVolume({"vol-p", 8 * kMiB, ""}));
  NbdEndpoint p = Ok(backend().Export("vol-p"));
  std::string block;
  while (block.size() < kMiB) block += kMarker;
  std::ofstream(scratch.path() + "/m", std::ios::binary) << block.substr(0, kMiB);
  REQUIRE(QemuIo(p, {"write -s " + scratch.path() + "/m 5M 1M"}));
  Ok(backend().CreateSnapshot("vol-p", "snap-p"));
  VolumeInfo e = Ok(backend().CreateVolume({"vol-e", 12 * kMiB, "snap-p", kKey}));
  CHECK(e.encrypted);
  CHECK(e.size_bytes == 12 * kMiB);
  CHECK(e.snapshot_id == "snap-p");
  // The same request again is an idempotent repeat.
  CHECK(Ok(backend().CreateVolume({"vol-e", 12 * kMiB, "snap-p", kKey})).encrypted);
  // The plain source goes away entirely: nothing on disk holds the marker in clear any more.
  REQUIRE(backend().Unexport("vol-p").ok());
  REQUIRE(backend().DeleteVolume("vol-p").ok());
  REQUIRE(backend().DeleteSnapshot("snap-p").ok());
  CHECK_FALSE(AnyFileContains(state_dir(), kMarker));
  CHECK_FALSE(AnyFileContains(state_dir(), kKey));
  Restart();
  NbdEndpoint c = Ok(backend().Export("vol-e"));
  const std::string plain = ReadDecrypted(c, kKey, scratch.path());
  CHECK(plain.size() == 12 * kMiB);
  CHECK(plain.find(kMarker) == 5 * kMiB);
  CHECK(plain.substr(5 * kMiB, kMiB) == block.substr(0, kMiB));
  const std::string raw_out = scratch.path() + "/wire.raw";
  REQUIRE(Run("qemu-img convert -f raw '" + c.Uri() + "' -O raw " + raw_out) == 0);
  const std::string wire = ReadAll(raw_out);
  CHECK(wire.compare(0, 6, std::string("LUKS\xba\xbe", 6)) == 0);
  CHECK(wire.find(kMarker) == std::string::npos);
}

}  // namespace
}  // namespace minicloud::volume::testing
