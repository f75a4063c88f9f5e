// The hibernation image's way to and from its volume (agent/runtime/hibernation.h), with the
// fake hypervisor and a stand-in qemu-img (a shell script that records its arguments
// (and the key file it is given) and copies bytes the way `convert` would, between a local file and
// a "volume" file named by the NBD export in the image options).
//
// Bugs caught: the LUKS key on qemu-img's command line instead of in a scratch file; image options
// QEMU would refuse (the LUKS layer not nested under the raw one, a size that is not a whole
// number of sectors); the scratch file left behind after a save or a restore; the restored
// image not cut back to its length (the fake refuses a torn or padded image); a save that goes
// on when the volume cannot be opened (the guest would be stopped for nothing).
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "agent/hypervisor/fake/fake_hypervisor.h"
#include "agent/runtime/hibernation.h"
#include "tests/testing/temp_dir.h"

namespace minicloud::agent {
namespace {

namespace fs = std::filesystem;

std::string Read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

v1::DesiredEbsDisk Disk(bool encrypted) {
  v1::DesiredEbsDisk d;
  d.set_volume_id("vol-0123456789abcdef0");
  d.set_nbd_host("192.0.2.7");
  d.set_nbd_port(10809);
  d.set_export_name("vol-0123456789abcdef0");
  d.set_size_gib(2);
  if (encrypted) d.set_luks_key("0123456789abcdef0123456789abcdef");
  return d;
}

// A qemu-img stand-in: `info` fails when $DIR/unreachable exists; `convert` copies between the
// local path and $DIR/volume, honouring size=N when reading. Every call's argv is
// appended to $DIR/calls.
std::string FakeQemuImg(const fs::path& dir) {
  const fs::path script = dir / "qemu-img";
  std::ofstream(script)
      << "#!/bin/bash\n"
      << "d='" << dir.string() << "'\n"
      << "echo \"ARGS $*\" >>\"$d/calls\"\n"
      << "k=$(echo \"$*\" | sed -n 's/.*secret,id=[a-z-]*,file=\\([^ ]*\\).*/\\1/p')\n"
      << "[ -n \"$k\" ] && cp \"$k\" \"$d/key-seen\"\n"
      << "[ \"$1\" = info ] && { [ -e \"$d/unreachable\" ] && exit 1; exit 0; }\n"
      << "last=${!#}\n"
      << "if [[ \"$*\" == *--target-image-opts* ]]; then\n"
      << "  src=$(for a; do [ -f \"$a\" ] && echo \"$a\"; done | head -1)\n"
      << "  cp \"$src\" \"$d/volume\"\n"
      << "else\n"
      << "  size=$(echo \"$*\" | sed -n 's/.*,size=\\([0-9]*\\),.*/\\1/p')\n"
      << "  head -c \"$size\" \"$d/volume\" >\"$last\"\n"
      << "  truncate -s \"$size\" \"$last\"\n"
      << "fi\n";
  fs::permissions(script, fs::perms::owner_all);
  return script.string();
}

hypervisor::DomainSpec Spec(const fs::path& dir) {
  hypervisor::DomainSpec s;
  s.instance_id = "i-0123456789abcdef0";
  s.smbios_uuid = "ec200000-0000-4000-8000-000000000001";
  s.smbios_serial = s.smbios_uuid;
  s.memory_mib = 17;  // the fake writes 17 KiB of "RAM" and a trailer: not a whole sector
  s.root_disk = (dir / "root.qcow2").string();
  std::ofstream(s.root_disk) << "x";
  return s;
}

}  // namespace

TEST_CASE("hibernation image options: raw over NBD, raw over LUKS over NBD", "[hibernation]") {
  CHECK(HibernationImageOpts(Disk(false), 0) ==
        "driver=raw,file.driver=nbd,file.server.type=inet,file.server.host=192.0.2.7,"
        "file.server.port=10809,file.export=vol-0123456789abcdef0");
  CHECK(HibernationImageOpts(Disk(true), 4096) ==
        "driver=raw,size=4096,file.driver=luks,file.key-secret=hibernation-key,"
        "file.file.driver=nbd,file.file.server.type=inet,file.file.server.host=192.0.2.7,"
        "file.file.server.port=10809,file.file.export=vol-0123456789abcdef0");
  // The key itself is never part of the options.
  CHECK(HibernationImageOpts(Disk(true), 0).find("0123456789abcdef0123") == std::string::npos);
}

// Bugs caught (one line each): the TLS options dropped (qemu-img speaks plain NBD to a TLS
// server, refused), the server's name not checked, the credentials object not given or given
// for a plain disk, a TLS disk run without credentials.
TEST_CASE("hibernation image options: NBD over TLS", "[hibernation][tls]") {
  v1::DesiredEbsDisk d = Disk(false);
  d.set_nbd_tls(true);
  d.set_nbd_tls_hostname("minicloud-volumed.home-1a");
  CHECK(HibernationImageOpts(d, 0) ==
        "driver=raw,file.driver=nbd,file.server.type=inet,file.server.host=192.0.2.7,"
        "file.server.port=10809,file.export=vol-0123456789abcdef0,file.tls-creds=hibernation-tls,"
        "file.tls-hostname=minicloud-volumed.home-1a");
  auto objects = HibernationTlsObjects(d, "/state/nbd-tls");
  REQUIRE(objects.ok());
  CHECK(*objects == std::vector<std::string>{"--object",
                                             "tls-creds-x509,id=hibernation-tls,dir=/state/"
                                             "nbd-tls,endpoint=client"});
  CHECK(HibernationTlsObjects(Disk(false), "/state/nbd-tls")->empty());
  CHECK(HibernationTlsObjects(d, "").status().code() == absl::StatusCode::kFailedPrecondition);
}

// A running fake guest, and the stand-in qemu-img with its scratch directory in a temp dir.
struct GuestWithStandIn {
  GuestWithStandIn()
      : dir(tmp.path()),
        io{.scratch_dir = (dir / "scratch").string(), .qemu_img = FakeQemuImg(dir)},
        spec(Spec(dir)) {
    REQUIRE(hv.CreateAndStart(spec).ok());
  }
  testing::TempDir tmp;
  fs::path dir;
  HibernationIo io;
  hypervisor::FakeHypervisor hv;
  hypervisor::DomainSpec spec;
};

TEST_CASE(
    "save to and restore from the volume: same guest, no scratch file, key never on a command line",
    "[hibernation]") {
  GuestWithStandIn g;
  const fs::path& dir = g.dir;
  HibernationIo& io = g.io;
  hypervisor::FakeHypervisor& hv = g.hv;
  const hypervisor::DomainSpec& spec = g.spec;
  const int64_t boot_id = hv.BootId(spec.instance_id);

  absl::StatusOr<int64_t> saved = SaveToVolume(hv, spec.instance_id, Disk(true), io);
  INFO(saved.status().ToString());
  REQUIRE(saved.ok());
  CHECK(*saved == static_cast<int64_t>(fs::file_size(dir / "volume")));
  CHECK(*saved % 512 != 0);  // the cut on the way back is exercised
  CHECK(fs::is_empty(io.scratch_dir));
  CHECK(hv.Get(spec.instance_id)->state == hypervisor::DomainState::kShutoff);
  const std::string calls = Read(dir / "calls");
  // The key reached qemu-img as a file (the stand-in copies it), never on its command line.
  CHECK(calls.find("0123456789abcdef0123") == std::string::npos);
  CHECK(calls.find("file=" + io.scratch_dir + "/vol-0123456789abcdef0.key") != std::string::npos);
  CHECK(Read(dir / "key-seen") == "0123456789abcdef0123456789abcdef");

  // A cold boot meanwhile would change the boot id; the restore brings the saved one back.
  REQUIRE(RestoreFromVolume(hv, spec, Disk(true), *saved, io).ok());
  CHECK(hv.Get(spec.instance_id)->state == hypervisor::DomainState::kRunning);
  CHECK(hv.BootId(spec.instance_id) == boot_id);
  CHECK(hv.restores() == 1);
  CHECK(fs::is_empty(io.scratch_dir));
}

TEST_CASE("a volume that cannot be opened leaves the guest running", "[hibernation]") {
  GuestWithStandIn g;
  const fs::path& dir = g.dir;
  HibernationIo& io = g.io;
  hypervisor::FakeHypervisor& hv = g.hv;
  const hypervisor::DomainSpec& spec = g.spec;
  std::ofstream(dir / "unreachable") << "";
  absl::StatusOr<int64_t> saved = SaveToVolume(hv, spec.instance_id, Disk(false), io);
  REQUIRE_FALSE(saved.ok());
  CHECK(hv.Get(spec.instance_id)->state == hypervisor::DomainState::kRunning);
  CHECK(hv.LastStopMethod(spec.instance_id) == hypervisor::StopMethod::kNone);
  // No image: a restore refuses without touching the domain.
  CHECK_FALSE(RestoreFromVolume(hv, spec, Disk(false), 0, io).ok());
}

}  // namespace minicloud::agent

namespace minicloud::agent {
namespace {

TEST_CASE("the hibernated note: written for one boot, read back only for it", "[hibernation]") {
  testing::TempDir tmp;
  const std::string dir = tmp.path();
  // Bug: a restarted agent that finds no note reports a plain stop (the next start boots cold).
  CHECK(ReadHibernatedNote(dir, 3) == 0);
  REQUIRE(WriteHibernatedNote(dir, 3, 1 << 20).ok());
  CHECK(ReadHibernatedNote(dir, 3) == 1 << 20);
  // Bug: a note of an earlier boot taken for this one (an old image resumed over a newer boot).
  CHECK(ReadHibernatedNote(dir, 4) == 0);
  CHECK((fs::status(dir + "/hibernated").permissions() & fs::perms::group_all) == fs::perms::none);
  RemoveHibernatedNote(dir);
  CHECK(ReadHibernatedNote(dir, 3) == 0);
  // Bug: a torn or foreign note trusted.
  for (const char* text : {"3\n", "3 -5\n", "3 12 extra\n", "x 12\n", ""}) {
    INFO(text);
    std::ofstream(dir + "/hibernated", std::ios::trunc) << text;
    CHECK(ReadHibernatedNote(dir, 3) == 0);
  }
}

}  // namespace
}  // namespace minicloud::agent
