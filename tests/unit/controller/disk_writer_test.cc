// QemuImgDiskWriter's qemu-img command lines, run against a stand-in qemu-img (a shell script
// that records its arguments and the key files it is given): how each side is named, where the
// LUKS keys go (files only, 0600 in a 0700 directory, removed afterwards), and refusals.
#include "controller/volumes/disk_writer.h"

#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "tests/testing/temp_dir.h"

namespace minicloud::controller {
namespace {

struct FakeQemuImg {
  testing::TempDir dir;
  std::string path = dir / "qemu-img";
  std::string log = dir / "log";

  explicit FakeQemuImg(int exit_code = 0) {
    std::ofstream out(path);
    out << "#!/bin/sh\n"
        << ": > '" << log << "'\n"
        << "for a in \"$@\"; do\n"
        << "  printf 'arg:%s\\n' \"$a\" >> '" << log << "'\n"
        << "  case \"$a\" in secret,*)\n"
        << "    f=\"${a##*file=}\"\n"
        << "    printf 'key:%s %s %s %s\\n' \"$f\" \"$(stat -c %a \"$f\")\" "
           "\"$(stat -c %a \"$(dirname \"$f\")\")\" \"$(cat \"$f\")\" >> '"
        << log << "'\n"
        << "  esac\n"
        << "done\n"
        << "exit " << exit_code << "\n";
    out.close();
    std::filesystem::permissions(path, std::filesystem::perms::owner_all);
  }
  std::vector<std::string> Lines(const std::string& prefix) const {
    std::ifstream in(log);
    std::vector<std::string> out;
    for (std::string line; std::getline(in, line);) {
      if (absl::StartsWith(line, prefix)) out.push_back(line.substr(prefix.size()));
    }
    return out;
  }
};

const NbdEndpoint kFrom{.host = "192.0.2.1", .port = 10809, .export_name = "vol-zcopy-1"};
const NbdEndpoint kTo{.host = "192.0.2.2", .port = 10810, .export_name = "vol-1"};
const std::string kToOpts =
    "driver=luks,key-secret=to-key,file.driver=nbd,file.server.type=inet,"
    "file.server.host=192.0.2.2,file.server.port=10810,file.export=vol-1";

TEST_CASE("QemuImgDiskWriter::CopyExport: bytes as they are, or written through LUKS") {
  // Bugs caught (one line each): --target-is-zero on an encrypted target (a new LUKS volume does
  // not read as zeros: its unwritten parts would stay garbage); -O mixed with
  // --target-image-opts (qemu-img refuses); the wrong key secret named; the sides swapped.
  struct Row {
    const char* name;
    std::string to_key;
    std::vector<std::string> want;  // with the --object argument pair left out
  };
  const std::vector<Row> rows = {
      {"plain (or a LUKS container copied as it is)",
       "",
       {"convert", "-q", "-n", "--target-is-zero", "-f", "raw", "-O", "raw",
        "nbd://192.0.2.1:10809/vol-zcopy-1", "nbd://192.0.2.2:10810/vol-1"}},
      {"written through LUKS",
       "k-to",
       {"convert", "-q", "-n", "-f", "raw", "--target-image-opts",
        "nbd://192.0.2.1:10809/vol-zcopy-1", kToOpts}},
  };
  for (const Row& row : rows) {
    INFO(row.name);
    FakeQemuImg fake;
    QemuImgDiskWriter writer(fake.path);
    REQUIRE(writer.CopyExport(kFrom, kTo, row.to_key).ok());
    std::vector<std::string> rest, objects;
    const std::vector<std::string> args = fake.Lines("arg:");
    for (size_t i = 0; i < args.size(); ++i) {
      if (args[i] == "--object" && i + 1 < args.size()) {
        objects.push_back(args[++i]);
      } else {
        rest.push_back(args[i]);
      }
    }
    CHECK(rest == row.want);
    CHECK(objects.size() == (row.to_key.empty() ? 0u : 1u));
  }
}

TEST_CASE("QemuImgDiskWriter::CopyExport: the key only in a private file, removed afterwards") {
  // Bugs caught (one line each): the key on the command line (readable by every local user in
  // /proc); the key file or its directory readable by others; the file left behind after the
  // copy or after a failed one.
  for (const int exit_code : {0, 1}) {
    INFO("qemu-img exits " << exit_code);
    FakeQemuImg fake(exit_code);
    QemuImgDiskWriter writer(fake.path);
    const absl::Status s = writer.CopyExport(kFrom, kTo, "secret-to-4567");
    if (exit_code == 0) {
      CHECK(s.ok());
    } else {
      CHECK(s.code() == absl::StatusCode::kUnavailable);  // asked again later
    }
    for (const std::string& arg : fake.Lines("arg:")) {
      CHECK_FALSE(absl::StrContains(arg, "secret-to-4567"));
    }
    const std::vector<std::string> keys = fake.Lines("key:");
    REQUIRE(keys.size() == 1);
    std::vector<std::string> f = absl::StrSplit(keys[0], ' ');
    REQUIRE(f.size() == 4);
    CHECK(f[1] == "600");
    CHECK(f[2] == "700");
    CHECK(f[3] == "secret-to-4567");
    CHECK_FALSE(std::filesystem::exists(f[0]));
    CHECK_FALSE(std::filesystem::exists(std::filesystem::path(f[0]).parent_path()));
  }
}

TEST_CASE("QemuImgDiskWriter::CopyExport: a ',' in an endpoint is refused, nothing run") {
  // Bug caught: an export name with ',' spliced into QEMU's options (a second option smuggled in).
  FakeQemuImg fake;
  QemuImgDiskWriter writer(fake.path);
  NbdEndpoint bad = kTo;
  bad.export_name = "vol-1,file.driver=file";
  const absl::Status s = writer.CopyExport(kFrom, bad, "k");
  CHECK(s.code() == absl::StatusCode::kInvalidArgument);
  CHECK_FALSE(std::filesystem::exists(fake.log));
}

}  // namespace
}  // namespace minicloud::controller
