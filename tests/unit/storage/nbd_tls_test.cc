// NBD over TLS as QEMU takes it (common/storage/nbd_tls.h): the credentials directory, the
// --object argument, the client's blockdev options; and the controller's qemu-img command built
// from them (controller/volumes/disk_writer.h). Each row says the one-line bug it catches.
#include "common/storage/nbd_tls.h"

#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "controller/volumes/disk_writer.h"
#include "tests/testing/temp_dir.h"

namespace minicloud {
namespace {

int ModeOf(const std::string& path) {
  struct stat st {};
  REQUIRE(stat(path.c_str(), &st) == 0);
  return st.st_mode & 0777;
}

std::string Read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST_CASE("NbdBlockdevOpts: plain, TLS, TLS with the server's name", "[nbd_tls]") {
  struct Row {
    storage::NbdClientTarget t;
    std::string want;
    const char* bug;
  };
  const std::vector<Row> rows = {
      {{.host = "192.0.2.7", .port = 10809, .export_name = "vol-1"},
       "driver=nbd,server.type=inet,server.host=192.0.2.7,server.port=10809,export=vol-1",
       "TLS options on a plain export"},
      {{.host = "nas.lan", .port = 1, .export_name = "vol-2", .tls_creds = "c0"},
       "driver=nbd,server.type=inet,server.host=nas.lan,server.port=1,export=vol-2,tls-creds=c0",
       "tls-creds dropped (plain NBD to a TLS server)"},
      {{.host = "fd00::1",
        .port = 10809,
        .export_name = "vol-3",
        .tls_creds = "c0",
        .tls_hostname = "minicloud-volumed.home-1a"},
       "driver=nbd,server.type=inet,server.host=fd00::1,server.port=10809,export=vol-3,"
       "tls-creds=c0,tls-hostname=minicloud-volumed.home-1a",
       "the server's certificate checked for the dialled address instead of its name"},
      {{.host = "h", .port = 2, .export_name = "v", .tls_hostname = "n"},
       "driver=nbd,server.type=inet,server.host=h,server.port=2,export=v",
       "a tls-hostname without tls-creds (QEMU refuses the option)"},
  };
  for (const Row& r : rows) {
    INFO(r.bug);
    CHECK(storage::NbdBlockdevOpts(r.t) == r.want);
  }
}

TEST_CASE("QemuTlsObjectArg: the server verifies its peers, the client shows its certificate",
          "[nbd_tls]") {
  // Bug: verify-peer missing on the server: any TLS client gets in without a certificate.
  CHECK(storage::QemuTlsObjectArg("t0", "/s/nbd-tls", storage::QemuTlsEndpoint::kServer) ==
        "tls-creds-x509,id=t0,dir=/s/nbd-tls,endpoint=server,verify-peer=on");
  // Bug: endpoint=server on a client (QEMU would wait for a client hello).
  CHECK(storage::QemuTlsObjectArg("c0", "/c", storage::QemuTlsEndpoint::kClient) ==
        "tls-creds-x509,id=c0,dir=/c,endpoint=client");
}

// Bugs caught: the key readable by others, the files named other than QEMU reads them (QEMU:
// "Unable to access credentials"), a directory with a ',' (QEMU would cut the option there).
// A small fnmatch-free check of QEMU's two formats, enough for these rules: exact, or a glob
// whose only wildcard is one trailing '*'.
bool Admits(const std::vector<storage::QemuAuthzRule>& rules, const std::string& dn) {
  for (const auto& r : rules) {
    if (!r.glob && r.match == dn) return true;
    if (r.glob) {
      REQUIRE(r.match.find_first_of("*?[") == r.match.size() - 1);
      if (dn.rfind(r.match.substr(0, r.match.size() - 1), 0) == 0) return true;
    }
  }
  return false;
}

// Bugs: the controller's qemu-img or a host's QEMU refused (every AMI import or attach fails),
// a host's identity certificate (a host id as its name) let in, a rule matching any name.
TEST_CASE("NbdServerClientRules: the controller and hosts' NBD clients, nothing else",
          "[nbd_tls]") {
  const auto rules = storage::NbdServerClientRules();
  struct Case {
    std::string dn;
    bool admitted;
  };
  const std::vector<Case> cases = {
      {"CN=minicloud-controller-client", true},
      {"CN=nbd-client.h-0123456789abcdef0", true},
      {"CN=h-0123456789abcdef0", false},  // a host's identity certificate
      {"CN=minicloud-volumed.home-1a", false},
      {"CN=minicloud-controller", false},
      {"CN=minicloud-controller-client-2", false},
      {"CN=nbd-client.", false},
      {"CN=xnbd-client.h-0123456789abcdef0", false},
      {"", false},
  };
  for (const auto& c : cases) {
    INFO(c.dn);
    CHECK(Admits(rules, c.dn) == c.admitted);
  }
}

TEST_CASE("WriteQemuTlsDir: QEMU's names, 0700 and 0600", "[nbd_tls]") {
  testing::TempDir dir;
  const std::string d = dir / "nbd-tls";
  REQUIRE(storage::WriteQemuTlsDir(d, storage::QemuTlsEndpoint::kServer,
                                   {.ca_pem = "CA", .certificate_pem = "CERT", .key_pem = "KEY"})
              .ok());
  CHECK(ModeOf(d) == 0700);
  CHECK(Read(d + "/ca-cert.pem") == "CA");
  CHECK(Read(d + "/server-cert.pem") == "CERT");
  CHECK(Read(d + "/server-key.pem") == "KEY");
  for (const char* f : {"/ca-cert.pem", "/server-cert.pem", "/server-key.pem"}) {
    CHECK(ModeOf(d + f) == 0600);
  }
  REQUIRE(storage::WriteQemuTlsDir(d, storage::QemuTlsEndpoint::kClient,
                                   {.ca_pem = "CA2", .certificate_pem = "C", .key_pem = "K"})
              .ok());
  CHECK(Read(d + "/client-cert.pem") == "C");
  CHECK(Read(d + "/client-key.pem") == "K");
  CHECK(Read(d + "/ca-cert.pem") == "CA2");
  CHECK(storage::WriteQemuTlsDir(dir / "a,b", storage::QemuTlsEndpoint::kClient,
                                 {.ca_pem = "A", .certificate_pem = "B", .key_pem = "C"})
            .code() == absl::StatusCode::kInvalidArgument);
  CHECK(storage::WriteQemuTlsDir(d, storage::QemuTlsEndpoint::kClient,
                                 {.ca_pem = "A", .certificate_pem = "", .key_pem = "C"})
            .code() == absl::StatusCode::kInvalidArgument);
}

TEST_CASE("QemuImgConvertArgs: exports over TLS get the controller's credentials",
          "[nbd_tls][disk_writer]") {
  const controller::NbdEndpoint plain{.host = "192.0.2.1", .port = 10809, .export_name = "vol-a"};
  const controller::NbdEndpoint tls{.host = "192.0.2.2",
                                    .port = 10809,
                                    .export_name = "vol-b",
                                    .tls = true,
                                    .tls_hostname = "minicloud-volumed.home-1b"};
  const std::string obj = "tls-creds-x509,id=nbdtls0,dir=/ctl/nbd-tls,endpoint=client";
  const std::string plain_opts =
      "driver=nbd,server.type=inet,server.host=192.0.2.1,server.port=10809,export=vol-a";
  const std::string tls_opts =
      "driver=nbd,server.type=inet,server.host=192.0.2.2,server.port=10809,export=vol-b,"
      "tls-creds=nbdtls0,tls-hostname=minicloud-volumed.home-1b";
  struct Row {
    const controller::NbdEndpoint* from;
    const controller::NbdEndpoint* to;
    std::vector<std::string> want;
    const char* bug;
  };
  const std::vector<Row> rows = {
      {nullptr,
       &plain,
       {"qemu-img", "convert", "-q", "-n", "--target-is-zero", "-f", "qcow2", "-O", "raw",
        "/blobs/a.qcow2", "nbd://192.0.2.1:10809/vol-a"},
       "a credentials object for a plain export"},
      {nullptr,
       &tls,
       {"qemu-img", "convert", "-q", "-n", "--target-is-zero", "--object", obj, "-f", "qcow2",
        "--target-image-opts", "/blobs/a.qcow2", tls_opts},
       "an AMI import into a TLS export without the client certificate"},
      {&tls,
       &plain,
       {"qemu-img", "convert", "-q", "-n", "--target-is-zero", "--object", obj, "--image-opts",
        "-O", "raw", tls_opts, "nbd://192.0.2.1:10809/vol-a"},
       "a cross-zone copy from a TLS export reading it plain"},
  };
  for (const Row& r : rows) {
    INFO(r.bug);
    auto argv =
        controller::QemuImgConvertArgs("qemu-img", "/ctl/nbd-tls", "/blobs/a.qcow2", r.from, *r.to);
    REQUIRE(argv.ok());
    CHECK(*argv == r.want);
  }
  // Bug: an encrypting copy into a TLS export without TLS on its NBD layer.
  auto luks =
      controller::QemuImgConvertArgs("qemu-img", "/ctl/nbd-tls", "", &plain, tls, "/tmp/k/to.key");
  REQUIRE(luks.ok());
  CHECK(*luks == std::vector<std::string>{
                     "qemu-img", "convert", "-q", "-n", "--object", obj, "--object",
                     "secret,id=to-key,file=/tmp/k/to.key", "-f", "raw", "--target-image-opts",
                     "nbd://192.0.2.1:10809/vol-a",
                     "driver=luks,key-secret=to-key,file.driver=nbd,file.server.type=inet,"
                     "file.server.host=192.0.2.2,file.server.port=10809,file.export=vol-b,"
                     "file.tls-creds=nbdtls0,file.tls-hostname=minicloud-volumed.home-1b"});
  // Bug: a TLS export tried without credentials (qemu-img's error would not say why).
  CHECK(controller::QemuImgConvertArgs("qemu-img", "", "/blobs/a.qcow2", nullptr, tls)
            .status()
            .code() == absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace minicloud
