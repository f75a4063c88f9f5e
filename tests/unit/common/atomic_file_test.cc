// file::WriteFileAtomic: exact content and mode, replaces, leaves no temp file behind, and keeps
// the old file when the write cannot complete. file::ReadFileToString: the bytes, or the errno.

#include <sys/stat.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "common/file/file_util.h"
#include "tests/testing/temp_dir.h"

namespace minicloud::file {
namespace {

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

mode_t ModeOf(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

std::vector<std::string> Entries(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    names.push_back(e.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

// Sets the umask for one scope.
class Umask {
 public:
  explicit Umask(mode_t mask) : old_(::umask(mask)) {}
  ~Umask() { ::umask(old_); }

 private:
  mode_t old_;
};

TEST_CASE("WriteFileAtomic writes exactly the bytes and the mode", "[file]") {
  struct Case {
    const char* name;
    std::string data;
    mode_t mode;
  };
  const Case cases[] = {
      {"key file", "-----BEGIN PRIVATE KEY-----\n", 0600},
      {"public file, umask would narrow it", "dhcp-host=02:00:00:00:00:01,10.0.0.4\n", 0644},
      {"empty", "", 0640},
      {"binary with NULs", std::string("a\0b\0c", 5), 0600},
  };
  const Umask strict(077);
  for (const Case& c : cases) {
    SECTION(c.name) {
      testing::TempDir dir;
      const std::string path = dir / "f";
      REQUIRE(WriteFileAtomic(path, c.data, c.mode).ok());
      CHECK(Slurp(path) == c.data);
      CHECK(ModeOf(path) == c.mode);
      CHECK(Entries(dir.path()) == std::vector<std::string>{"f"});
    }
  }
}

TEST_CASE("WriteFileAtomic replaces an existing file and its mode", "[file]") {
  testing::TempDir dir;
  const std::string path = dir / "hosts";
  REQUIRE(WriteFileAtomic(path, "old old old\n", 0600).ok());
  REQUIRE(WriteFileAtomic(path, "new\n", 0644).ok());
  CHECK(Slurp(path) == "new\n");
  CHECK(ModeOf(path) == 0644);
  CHECK(Entries(dir.path()) == std::vector<std::string>{"hosts"});
}

TEST_CASE("WriteFileAtomic failures name the path and leave the old state", "[file]") {
  testing::TempDir dir;

  SECTION("missing directory") {
    const std::string path = dir / "no-such-dir/f";
    const absl::Status s = WriteFileAtomic(path, "x", 0644);
    CHECK(s.code() == absl::StatusCode::kNotFound);
    CHECK(s.message().find(dir / "no-such-dir") != std::string::npos);
    CHECK(Entries(dir.path()).empty());
  }
  SECTION("the target is a directory: the rename fails, nothing is left behind") {
    const std::string path = dir / "d";
    std::filesystem::create_directory(path);
    std::ofstream(path + "/keep") << "kept";
    const absl::Status s = WriteFileAtomic(path, "x", 0644);
    CHECK_FALSE(s.ok());
    CHECK(s.message().find(path) != std::string::npos);
    CHECK(Entries(dir.path()) == std::vector<std::string>{"d"});
    CHECK(Slurp(path + "/keep") == "kept");
  }
}

}  // namespace
}  // namespace minicloud::file

namespace minicloud::file {
namespace {

TEST_CASE("ReadFileToString gives the bytes as written, or the path's errno", "[file]") {
  // Bugs caught: a read that stops at a NUL byte or at a newline (text mode, getline); a
  // missing file read as empty instead of NotFound; an error without the path.
  testing::TempDir dir;
  const std::string path = dir / "blob";
  const std::string bytes("line one\n\0line two\r\n\xff", 21);
  REQUIRE(WriteFileAtomic(path, bytes, 0600).ok());
  auto read = ReadFileToString(path);
  REQUIRE(read.ok());
  CHECK(*read == bytes);
  auto missing = ReadFileToString(dir / "missing");
  CHECK(missing.status().code() == absl::StatusCode::kNotFound);
  CHECK(missing.status().message().find(dir / "missing") != std::string::npos);
}

}  // namespace
}  // namespace minicloud::file
