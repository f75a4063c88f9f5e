// minicloud-volumed's settings: precedence (flag > file > default), bad files and addresses.
#include "volume/config/volumed_settings.h"

#include <catch2/catch.hpp>
#include <fstream>

#include "tests/testing/temp_dir.h"

namespace minicloud::volume {
namespace {

absl::Status Parse(std::vector<std::string> args, VolumedSettings& s) {
  CLI::App app;
  AddVolumedFlags(app, s);
  args.insert(args.begin(), "minicloud-volumed");
  std::vector<const char*> argv;
  for (const std::string& a : args) argv.push_back(a.c_str());
  app.parse(static_cast<int>(argv.size()), argv.data());
  absl::Status st = ApplyVolumedConfigFile(app, s);
  if (!st.ok()) return st;
  return ResolveVolumedSettings(s);
}

// Catches: the file overriding a flag, a file value ignored, defaults changed silently.
TEST_CASE("volumed settings: flag > file > default") {
  testing::TempDir dir;
  std::ofstream(dir / "v.yaml") << "availability_zone: home-1c\nnbd_listen: 0.0.0.0:10810\n"
                                   "listen: 127.0.0.1:9000\n";
  VolumedSettings s;
  REQUIRE(Parse({"--config", dir / "v.yaml", "--listen", "127.0.0.1:9001"}, s).ok());
  CHECK(s.listen == "127.0.0.1:9001");
  CHECK(s.availability_zone == "home-1c");
  CHECK(s.nbd_listen == "0.0.0.0:10810");
  CHECK(s.state_dir == "/var/lib/minicloud/volumed");
  CHECK(s.nbd_advertise.empty());
}

// Catches: unknown keys or bad addresses accepted (a typo would silently run with defaults).
TEST_CASE("volumed settings: bad files and addresses are errors with the line") {
  testing::TempDir dir;
  std::ofstream(dir / "bad.yaml") << "listen: 127.0.0.1:1\nnbd_lisen: 0.0.0.0:1\n";
  VolumedSettings s;
  absl::Status st = Parse({"--config", dir / "bad.yaml"}, s);
  CHECK(st.code() == absl::StatusCode::kInvalidArgument);
  CHECK(st.message().find("bad.yaml:2") != std::string::npos);
  CHECK(st.message().find("nbd_lisen") != std::string::npos);
  VolumedSettings s2;
  CHECK(Parse({"--nbd-listen", "10809"}, s2).code() == absl::StatusCode::kInvalidArgument);
  VolumedSettings s3;
  CHECK(Parse({"--config", dir / "missing.yaml"}, s3).code() == absl::StatusCode::kNotFound);
}

// Catches: IPv6 brackets kept in the host, ports out of range accepted.
TEST_CASE("volumed settings: host:port parsing") {
  auto hp = ParseHostPort("[::1]:10809", "x");
  REQUIRE(hp.ok());
  CHECK(hp->host == "::1");
  CHECK(hp->port == 10809);
  CHECK(ParseHostPort("h:65536", "x").status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(ParseHostPort(":1", "x").status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(IsLoopbackHost("127.0.0.1"));
  CHECK_FALSE(IsLoopbackHost("0.0.0.0"));
}

// Catches (one line each): plain text served on a non-loopback address without TLS files or
// --insecure-plaintext; a name that only starts with "127." taken for loopback; one TLS file of
// three accepted (the others silently missing); the tls_* keys not read from the file; TLS files
// and --insecure-plaintext both accepted.
TEST_CASE("volumed settings: plain text only on loopback, TLS files all or none") {
  auto code = [](std::vector<std::string> args) {
    VolumedSettings s;
    return Parse(std::move(args), s).code();
  };
  CHECK(code({"--listen", "0.0.0.0:7704"}) == absl::StatusCode::kFailedPrecondition);
  CHECK(code({"--listen", "[::]:7704"}) == absl::StatusCode::kFailedPrecondition);
  CHECK(code({"--listen", "127.lan.example:7704"}) == absl::StatusCode::kFailedPrecondition);
  CHECK(code({"--listen", "10.0.0.1:7704", "--tls-cert", "c"}) ==
        absl::StatusCode::kFailedPrecondition);
  CHECK(code({"--tls-key", "k"}) == absl::StatusCode::kFailedPrecondition);
  CHECK(code({"--listen", "10.0.0.1:7704", "--insecure-plaintext", "--tls-cert", "c", "--tls-key",
              "k", "--tls-client-ca", "a"}) == absl::StatusCode::kFailedPrecondition);

  VolumedSettings loopback;
  REQUIRE(Parse({"--listen", "127.0.0.2:7704"}, loopback).ok());
  CHECK(TransportOf(loopback) == VolumedTransport::kPlaintext);
  VolumedSettings insecure;
  REQUIRE(Parse({"--listen", "0.0.0.0:7704", "--insecure-plaintext"}, insecure).ok());
  CHECK(TransportOf(insecure) == VolumedTransport::kPlaintext);

  testing::TempDir dir;
  std::ofstream(dir / "v.yaml") << "listen: 0.0.0.0:7704\ntls_cert: /etc/t/server.crt\n"
                                   "tls_key: /etc/t/server.key\ntls_client_ca: /etc/t/ca.crt\n";
  VolumedSettings tls;
  REQUIRE(Parse({"--config", dir / "v.yaml"}, tls).ok());
  CHECK(TransportOf(tls) == VolumedTransport::kMutualTls);
  CHECK(tls.tls_key == "/etc/t/server.key");
  CHECK(tls.tls_client_ca == "/etc/t/ca.crt");
}

// Bugs caught (one line each): NBD plain by default on a service with TLS files, NBD "TLS"
// without the files (the NBD server would have no certificate), the nbd_tls key of the file
// ignored, a typo in it taken as off.
TEST_CASE("volumed settings: NBD over TLS with the TLS files unless nbd_tls is off") {
  testing::TempDir dir;
  std::ofstream(dir / "v.yaml") << "listen: 0.0.0.0:7704\ntls_cert: /etc/t/server.crt\n"
                                   "tls_key: /etc/t/server.key\ntls_client_ca: /etc/t/ca.crt\n";
  VolumedSettings tls;
  REQUIRE(Parse({"--config", dir / "v.yaml"}, tls).ok());
  CHECK(NbdTlsOf(tls));
  VolumedSettings plain;
  REQUIRE(Parse({"--listen", "127.0.0.1:7704"}, plain).ok());
  CHECK_FALSE(NbdTlsOf(plain));
  std::ofstream(dir / "off.yaml") << "listen: 0.0.0.0:7704\ntls_cert: /etc/t/server.crt\n"
                                     "tls_key: /etc/t/server.key\ntls_client_ca: /etc/t/ca.crt\n"
                                     "nbd_tls: \"off\"\n";
  VolumedSettings off;
  REQUIRE(Parse({"--config", dir / "off.yaml"}, off).ok());
  CHECK_FALSE(NbdTlsOf(off));
  VolumedSettings typo;
  typo.nbd_tls = "of";
  CHECK(ResolveVolumedSettings(typo).code() == absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace minicloud::volume
