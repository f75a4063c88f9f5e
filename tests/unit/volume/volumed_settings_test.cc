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

}  // namespace
}  // namespace minicloud::volume
