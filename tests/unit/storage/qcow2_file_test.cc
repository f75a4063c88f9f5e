// InspectQcow2 on files qemu-img made (and then patched); PlanOverlay's output read back by the
// inspector, and the specs it rejects (headers built by hand: qcow2_test.cc).

#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "common/storage/qcow2.h"
#include "tests/unit/storage/storage_test_util.h"

namespace minicloud::storage {
namespace {

using testing::Be32;
using testing::Be64;
using testing::MustRun;
using testing::PatchFile;
using testing::Run;
using testing::TempDir;
using testing::WriteFile;

struct FileCase {
  std::string name;
  // Creates the file at `path` (inside `dir`).
  std::function<void(const TempDir& dir, const std::string& path)> make;
  absl::StatusCode code;
  std::string error;  // substring of the message when code != OK
  std::function<void(const Qcow2Info&)> check = nullptr;
};

void QemuImgCreate(const std::vector<std::string>& extra, const std::string& path,
                   const std::string& size) {
  std::vector<std::string> argv = {"qemu-img", "create", "-q", "-f", "qcow2"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  argv.push_back(path);
  if (!size.empty()) argv.push_back(size);
  MustRun(argv);
}

TEST_CASE("InspectQcow2 on real files", "[storage][qcow2]") {
  using absl::StatusCode;
  const std::vector<FileCase> cases = {
      {"qemu-img v3", [](auto&, auto& p) { QemuImgCreate({}, p, "2G"); }, StatusCode::kOk, "",
       [](const Qcow2Info& i) {
         CHECK(i.version == 3);
         CHECK(i.virtual_size == (2ull << 30));
         CHECK(i.cluster_bits == 16);
         CHECK(i.header_length == 112);
         CHECK_FALSE(i.has_backing_file());
       }},
      {"qemu-img v2 (compat=0.10)",
       [](auto&, auto& p) {
         QemuImgCreate({"-o", "compat=0.10"}, p, "1G");
       },
       StatusCode::kOk, "",
       [](const Qcow2Info& i) {
         CHECK(i.version == 2);
         CHECK(i.virtual_size == (1ull << 30));
       }},
      {"512-byte clusters",
       [](auto&, auto& p) {
         QemuImgCreate({"-o", "cluster_size=512"}, p, "100M");
       },
       StatusCode::kOk, "", [](const Qcow2Info& i) { CHECK(i.cluster_bits == 9); }},
      {"2 MiB clusters + extended L2",
       [](auto&, auto& p) {
         QemuImgCreate({"-o", "cluster_size=2M,extended_l2=on"}, p, "5G");
       },
       StatusCode::kOk, "",
       [](const Qcow2Info& i) {
         CHECK(i.cluster_bits == 21);
         CHECK((i.incompatible_features & kQcow2IncompatExtendedL2) != 0);
       }},
      {"zstd, lazy refcounts",
       [](auto&, auto& p) {
         QemuImgCreate({"-o", "compression_type=zstd,lazy_refcounts=on"}, p, "1G");
       },
       StatusCode::kOk, "",
       [](const Qcow2Info& i) {
         CHECK(i.compression_type == Qcow2Compression::kZstd);
         CHECK(i.compatible_features == 1);
       }},
      {"with backing file",
       [](const TempDir& d, auto& p) {
         QemuImgCreate({}, d.File("base.qcow2"), "1G");
         QemuImgCreate({"-b", d.File("base.qcow2"), "-F", "qcow2"}, p, "");
       },
       StatusCode::kOk, "",
       [](const Qcow2Info& i) {
         CHECK(i.has_backing_file());
         CHECK(i.backing_file.find("/base.qcow2") != std::string::npos);
         CHECK(i.backing_format == "qcow2");
       }},
      {"missing file", [](auto&, auto&) {}, StatusCode::kNotFound, "No such file"},
      {"directory", [](auto&, auto& p) { std::filesystem::create_directory(p); },
       StatusCode::kInvalidArgument, "not a regular file"},
      {"FIFO (must not hang)", [](auto&, auto& p) { REQUIRE(::mkfifo(p.c_str(), 0600) == 0); },
       StatusCode::kInvalidArgument, "not a regular file"},
      {"symlink to /dev/zero",
       [](auto&, auto& p) { std::filesystem::create_symlink("/dev/zero", p); },
       StatusCode::kInvalidArgument, "not a regular file"},
      {"empty file", [](auto&, auto& p) { WriteFile(p, ""); }, StatusCode::kInvalidArgument,
       "too short"},
      {"raw image",
       [](auto&, auto& p) {
         MustRun({"qemu-img", "create", "-q", "-f", "raw", p, "1M"});
       },
       StatusCode::kInvalidArgument, "not a qcow2 image (magic 0x00000000"},
      {"ISO-like (zeros then CD001)",
       [](auto&, auto& p) {
         WriteFile(p, std::string(32768, '\0') +
                          "\x01"
                          "CD001");
       },
       StatusCode::kInvalidArgument, "not a qcow2 image"},
      {"text", [](auto&, auto& p) { WriteFile(p, "#!/bin/sh\necho hi\n"); },
       StatusCode::kInvalidArgument, "not a qcow2 image (magic 0x23212f62"},
      {"garbage",
       [](auto&, auto& p) {
         std::mt19937 rng(7);
         std::string junk(1 << 16, '\0');
         for (char& c : junk) c = static_cast<char>(rng());
         WriteFile(p, junk);
       },
       StatusCode::kInvalidArgument, "not a qcow2 image"},
      {"truncated to 50 bytes",
       [](auto&, auto& p) {
         QemuImgCreate({}, p, "1G");
         std::filesystem::resize_file(p, 50);
       },
       StatusCode::kInvalidArgument, "truncated"},
      {"truncated after the header cluster",
       [](auto&, auto& p) {
         QemuImgCreate({}, p, "1G");
         std::filesystem::resize_file(p, 65536 + 100);
       },
       StatusCode::kInvalidArgument, "past the end of the file"},
      {"version patched to 4",
       [](auto&, auto& p) {
         QemuImgCreate({}, p, "1G");
         PatchFile(p, 4, Be32(4));
       },
       StatusCode::kInvalidArgument, "unsupported qcow2 version 4"},
      {"dirty bit set",
       [](auto&, auto& p) {
         QemuImgCreate({}, p, "1G");
         PatchFile(p, 72, Be64(1));
       },
       StatusCode::kInvalidArgument, "dirty"},
      {"corrupt bit set",
       [](auto&, auto& p) {
         QemuImgCreate({}, p, "1G");
         PatchFile(p, 72, Be64(2));
       },
       StatusCode::kInvalidArgument, "corrupt"},
      {"unknown incompatible bit",
       [](auto&, auto& p) {
         QemuImgCreate({}, p, "1G");
         PatchFile(p, 72, Be64(1ull << 20));
       },
       StatusCode::kInvalidArgument, "unknown qcow2 incompatible features 0x100000"},
      {"LUKS encrypted",
       [](auto&, auto& p) {
         // qemu-img times its PBKDF on the CPU clock and fails with "Unable to get accurate CPU
         // usage" when a loaded machine gives it too little CPU; retry before giving up.
         const std::vector<std::string> argv = {
             "qemu-img",
             "create",
             "-q",
             "-f",
             "qcow2",
             "--object",
             "secret,id=sec0,data=hunter2",
             "-o",
             "encrypt.format=luks,encrypt.key-secret=sec0,encrypt.iter-time=100",
             p,
             "16M"};
         for (int attempt = 0; attempt < 4; ++attempt) {
           if (Run(argv).exit_code == 0) return;
         }
         MustRun(argv);
       },
       StatusCode::kInvalidArgument, "encrypted qcow2 images are not supported"},
  };
  for (const FileCase& c : cases) {
    SECTION(c.name) {
      TempDir dir;
      const std::string path = dir.File("image");
      c.make(dir, path);
      absl::StatusOr<Qcow2Info> info = InspectQcow2(path);
      INFO("status: " << info.status().ToString());
      REQUIRE(info.status().code() == c.code);
      if (info.ok()) {
        if (c.check) c.check(*info);
      } else {
        const std::string msg(info.status().message());
        CHECK_THAT(msg, Catch::Contains(c.error));
        CHECK_THAT(msg, Catch::Contains(path));  // errors name the file
      }
    }
  }
}

TEST_CASE("PlanOverlay output parses back", "[storage][qcow2]") {
  struct Case {
    uint32_t cluster_bits;
    uint64_t backing_size;
    uint64_t virtual_size;
  };
  const std::vector<Case> cases = {
      {16, 2ull << 30, 0},
      {16, 2ull << 30, 8ull << 40},
      {9, 1 << 20, 0},
      {9, 1 << 20, 100ull << 30},
      {12, 512, 512},
      {21, 10ull << 30, 0},
      {16, 1ull << 30, (1ull << 30) + 512},
  };
  for (const Case& c : cases) {
    OverlaySpec spec;
    spec.backing_path = "/var/lib/minicloud/images/0123456789abcdef";
    spec.overlay_path = "/unused";
    spec.cluster_bits = c.cluster_bits;
    spec.virtual_size = c.virtual_size;
    absl::StatusOr<OverlayLayout> layout = PlanOverlay(spec, c.backing_size);
    INFO("cluster_bits " << c.cluster_bits << " vsize " << c.virtual_size << ": "
                         << layout.status().ToString());
    REQUIRE(layout.ok());
    REQUIRE(!layout->writes.empty());
    REQUIRE(layout->writes[0].offset == 0);
    absl::StatusOr<Qcow2Info> info = InspectQcow2Bytes(layout->writes[0].bytes);
    REQUIRE(info.ok());
    const uint64_t want = c.virtual_size == 0 ? c.backing_size : c.virtual_size;
    CHECK(info->virtual_size == want);
    CHECK(layout->virtual_size == want);
    CHECK(info->cluster_bits == c.cluster_bits);
    CHECK(info->backing_file == spec.backing_path);
    CHECK(info->backing_format == "qcow2");
    CHECK(info->l1_size == layout->l1_size);
    CHECK(info->l1_table_offset + uint64_t{info->l1_size} * 8 <= layout->file_size);
    CHECK(layout->file_size == layout->metadata_clusters * info->cluster_size);
  }
}

TEST_CASE("PlanOverlay rejects bad specs", "[storage][qcow2]") {
  struct Case {
    std::string name;
    std::function<void(OverlaySpec&)> edit;
    uint64_t backing_size;
    std::string error;
  };
  const std::vector<Case> cases = {
      {"relative backing", [](OverlaySpec& s) { s.backing_path = "base.qcow2"; }, 1 << 20,
       "not absolute"},
      {"backing path too long",
       [](OverlaySpec& s) { s.backing_path = "/" + std::string(1023, 'a'); }, 1 << 20, "too long"},
      {"raw backing format", [](OverlaySpec& s) { s.backing_format = "raw"; }, 1 << 20,
       "unsupported backing format"},
      {"cluster bits 8", [](OverlaySpec& s) { s.cluster_bits = 8; }, 1 << 20, "out of range"},
      {"cluster bits 22", [](OverlaySpec& s) { s.cluster_bits = 22; }, 1 << 20, "out of range"},
      {"smaller than backing", [](OverlaySpec& s) { s.virtual_size = 1 << 19; }, 1 << 20,
       "smaller than the backing"},
      {"unaligned size", [](OverlaySpec& s) { s.virtual_size = (1 << 20) + 1; }, 1 << 20,
       "multiple of 512"},
      {"zero-size backing", [](OverlaySpec&) {}, 0, "virtual size is 0"},
      {"too big for 512-byte clusters",
       [](OverlaySpec& s) {
         s.cluster_bits = 9;
         s.virtual_size = 1ull << 40;
       },
       1 << 20, "L1 table would exceed"},
      {"name does not fit in a 512-byte cluster",
       [](OverlaySpec& s) {
         s.cluster_bits = 9;
         s.backing_path = "/" + std::string(400, 'a');
       },
       1 << 20, "does not fit"},
  };
  for (const Case& c : cases) {
    SECTION(c.name) {
      OverlaySpec spec;
      spec.backing_path = "/images/base";
      spec.overlay_path = "/unused";
      c.edit(spec);
      absl::StatusOr<OverlayLayout> layout = PlanOverlay(spec, c.backing_size);
      REQUIRE(layout.status().code() == absl::StatusCode::kInvalidArgument);
      CHECK_THAT(std::string(layout.status().message()), Catch::Contains(c.error));
    }
  }
}

}  // namespace
}  // namespace minicloud::storage
