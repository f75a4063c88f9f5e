#include "agent/runtime/console_log.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "tests/testing/temp_dir.h"

namespace minicloud::agent {
namespace {

void Append(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::app | std::ios::binary) << text;
}

}  // namespace

TEST_CASE("console log: small files stay as they are", "[agent][console]") {
  testing::TempDir dir;
  const std::string log = dir / "console.log";
  REQUIRE(*RotateConsoleLogIfLarger(log, 10) == false);  // no file yet
  Append(log, "0123456789");
  REQUIRE(*RotateConsoleLogIfLarger(log, 10) == false);
  REQUIRE(*ReadConsoleTail(log, 100) == "0123456789");
  REQUIRE(*ReadConsoleTail(log, 4) == "6789");
}

TEST_CASE("console log: a large file rotates and readers see both tails", "[agent][console]") {
  testing::TempDir dir;
  const std::string log = dir / "console.log";
  Append(log, "first boot line\n");
  REQUIRE(*RotateConsoleLogIfLarger(log, 8) == true);
  CHECK(std::filesystem::file_size(log) == 0);
  CHECK(std::filesystem::file_size(log + ".1") == 16);
  Append(log, "second\n");
  CHECK(*ReadConsoleTail(log, 7) == "second\n");
  CHECK(*ReadConsoleTail(log, 12) == "line\nsecond\n");
  CHECK(*ReadConsoleTail(log, 1000) == "first boot line\nsecond\n");
  // A second rotation replaces the older file: disk use stays bounded.
  Append(log, "more than eight bytes\n");
  REQUIRE(*RotateConsoleLogIfLarger(log, 8) == true);
  CHECK(*ReadConsoleTail(log, 1000) == "second\nmore than eight bytes\n");
}

TEST_CASE("console log: nothing at all is NotFound", "[agent][console]") {
  testing::TempDir dir;
  REQUIRE(ReadConsoleTail(dir / "console.log", 10).status().code() == absl::StatusCode::kNotFound);
}

}  // namespace minicloud::agent
