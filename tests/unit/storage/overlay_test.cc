// CreateOverlay is only correct if QEMU agrees: every overlay written here is checked with
// qemu-img check / info / compare and exercised with qemu-io (reads fall through to the base,
// writes land in the overlay only).

#include <catch2/catch.hpp>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/storage/qcow2.h"
#include "common/storage/sha256.h"
#include "tests/unit/storage/storage_test_util.h"

namespace minicloud::storage {
namespace {

using testing::MustRun;
using testing::Run;
using testing::TempDir;
using testing::WriteFile;

constexpr uint64_t kMiB = 1ull << 20;
constexpr uint64_t kGiB = 1ull << 30;

std::string Num(uint64_t v) { return std::to_string(v); }

// A qcow2 base of `size` bytes with pattern 0xa5 in its first MiB and 0xb6 in its last MiB.
std::string MakeBase(const TempDir& dir, uint64_t size) {
  const std::string base = dir.File("base.qcow2");
  MustRun({"qemu-img", "create", "-q", "-f", "qcow2", base, Num(size)});
  MustRun({"qemu-io", "-f", "qcow2", "-c", "write -P 0xa5 0 1M", "-c",
           absl::StrCat("write -P 0xb6 ", size - kMiB, " 1M"), base});
  return base;
}

// qemu-io script on `image`; fails the test if any command fails (e.g. a pattern mismatch).
void QemuIo(const std::string& image, const std::vector<std::string>& commands,
            bool read_only = false) {
  std::vector<std::string> argv = {"qemu-io", "-f", "qcow2"};
  if (read_only) argv.push_back("-r");
  for (const std::string& c : commands) {
    argv.push_back("-c");
    argv.push_back(c);
  }
  argv.push_back(image);
  const std::string out = MustRun(argv);
  INFO(out);
  CHECK(out.find("failed") == std::string::npos);
  CHECK(out.find("error") == std::string::npos);
}

void RequireClean(const std::string& image) {
  testing::RunResult r = Run({"qemu-img", "check", "--output=json", image});
  INFO("qemu-img check " << image << ":\n" << r.output);
  REQUIRE(r.exit_code == 0);
  nlohmann::json j = nlohmann::json::parse(r.output);
  CHECK(j.value("check-errors", -1) == 0);
  CHECK(j.value("leaks", 0) == 0);
  CHECK(j.value("corruptions", 0) == 0);
  CHECK(j.value("format", "") == "qcow2");
}

struct OverlayCase {
  uint64_t base_size;
  uint64_t virtual_size;  // 0 = same as the base
  uint32_t cluster_bits;
};

TEST_CASE("CreateOverlay output is a working qcow2 overlay per QEMU", "[storage][overlay]") {
  const std::vector<OverlayCase> cases = {
      {64 * kMiB, 0, 16},
      {64 * kMiB, 64 * kMiB + 512, 16},
      {64 * kMiB, 10 * kGiB, 16},
      {64 * kMiB, 3ull << 40, 16},  // 3 TiB
      {64 * kMiB, 0, 9},
      {64 * kMiB, 50 * kGiB, 9},  // 25 MiB L1 table at 512-byte clusters
      {64 * kMiB, 1 * kGiB, 12},
      {64 * kMiB, 0, 21},
      {2 * kGiB, 0, 16},
      {2 * kGiB, 20 * kGiB, 20},
  };
  for (const OverlayCase& c : cases) {
    DYNAMIC_SECTION("base " << c.base_size << " vsize " << c.virtual_size << " cluster_bits "
                            << c.cluster_bits) {
      TempDir dir;
      const std::string base = MakeBase(dir, c.base_size);
      const absl::StatusOr<std::string> base_sha_before = Sha256FileHex(base);
      REQUIRE(base_sha_before.ok());
      const std::string overlay = dir.File("overlay.qcow2");
      const uint64_t vsize = c.virtual_size == 0 ? c.base_size : c.virtual_size;

      OverlaySpec spec;
      spec.backing_path = base;
      spec.overlay_path = overlay;
      spec.virtual_size = c.virtual_size;
      spec.cluster_bits = c.cluster_bits;
      absl::Status s = CreateOverlay(spec);
      INFO(s.ToString());
      REQUIRE(s.ok());
      CHECK(dir.List() == std::vector<std::string>{"base.qcow2", "overlay.qcow2"});

      // Our own parser agrees.
      absl::StatusOr<Qcow2Info> info = InspectQcow2(overlay);
      REQUIRE(info.ok());
      CHECK(info->backing_file == base);
      CHECK(info->backing_format == "qcow2");
      CHECK(info->virtual_size == vsize);
      CHECK(info->cluster_bits == c.cluster_bits);

      RequireClean(overlay);

      nlohmann::json j =
          nlohmann::json::parse(MustRun({"qemu-img", "info", "--output=json", overlay}));
      CHECK(j.value("format", "") == "qcow2");
      CHECK(j.value("virtual-size", uint64_t{0}) == vsize);
      CHECK(j.value("cluster-size", uint64_t{0}) == (uint64_t{1} << c.cluster_bits));
      CHECK(j.value("backing-filename", "") == base);
      CHECK(j.value("backing-filename-format", "") == "qcow2");
      CHECK(j.value("dirty-flag", true) == false);

      // Guest-visible content equals the base (and zeros past its end).
      MustRun({"qemu-img", "compare", "-f", "qcow2", "-F", "qcow2", base, overlay});

      // Reads fall through to the base; writes stay in the overlay.
      std::vector<std::string> io = {
          "read -P 0xa5 0 1M",    absl::StrCat("read -P 0xb6 ", c.base_size - kMiB, " 1M"),
          "write -P 0x5a 0 64k",  "read -P 0x5a 0 64k",
          "read -P 0xa5 64k 64k",
      };
      if (vsize > c.base_size) {
        const uint64_t tail = std::min<uint64_t>(64 * 1024, vsize - c.base_size);
        io.push_back(absl::StrCat("read -P 0 ", c.base_size, " ", tail));
        io.push_back(absl::StrCat("write -P 0x77 ", vsize - tail, " ", tail));
        io.push_back(absl::StrCat("read -P 0x77 ", vsize - tail, " ", tail));
      }
      QemuIo(overlay, io);
      QemuIo(overlay, {"read -P 0x5a 0 64k"});  // persisted across opens
      QemuIo(base, {"read -P 0xa5 0 1M"}, /*read_only=*/true);
      CHECK(Sha256FileHex(base).value_or("") == *base_sha_before);  // base bytes untouched
      RequireClean(overlay);
    }
  }
}

TEST_CASE("CreateOverlay matches qemu-img create's geometry", "[storage][overlay]") {
  TempDir dir;
  const std::string base = MakeBase(dir, 2 * kGiB);
  for (const uint64_t vsize : std::vector<uint64_t>{2 * kGiB, 7 * kGiB + 512, 1ull << 40}) {
    DYNAMIC_SECTION("vsize " << vsize) {
      const std::string ours = dir.File("ours.qcow2");
      const std::string theirs = dir.File("theirs.qcow2");
      REQUIRE(
          CreateOverlay({.backing_path = base, .overlay_path = ours, .virtual_size = vsize}).ok());
      MustRun({"qemu-img", "create", "-q", "-f", "qcow2", "-b", base, "-F", "qcow2", theirs,
               Num(vsize)});
      absl::StatusOr<Qcow2Info> a = InspectQcow2(ours);
      absl::StatusOr<Qcow2Info> b = InspectQcow2(theirs);
      REQUIRE(a.ok());
      REQUIRE(b.ok());
      CHECK(a->virtual_size == b->virtual_size);
      CHECK(a->l1_size == b->l1_size);
      CHECK(a->cluster_bits == b->cluster_bits);
      CHECK(a->refcount_order == b->refcount_order);
      CHECK(a->incompatible_features == b->incompatible_features);
      CHECK(a->backing_file == b->backing_file);
      CHECK(a->backing_format == b->backing_format);
      MustRun({"qemu-img", "compare", "-f", "qcow2", "-F", "qcow2", "-s", ours, theirs});
      std::filesystem::remove(ours);
      std::filesystem::remove(theirs);
    }
  }
}

struct FailureCase {
  std::string name;
  // Edits the spec (base and overlay paths preset) and may prepare files.
  std::function<void(const TempDir&, OverlaySpec&)> setup;
  absl::StatusCode code;
  std::string error;
};

TEST_CASE("CreateOverlay failures leave nothing behind", "[storage][overlay]") {
  using absl::StatusCode;
  const std::vector<FailureCase> cases = {
      {"overlay already exists",
       [](const TempDir& d, OverlaySpec& s) { WriteFile(s.overlay_path, "keep me"); },
       StatusCode::kAlreadyExists, "already exists"},
      {"overlay is a dangling symlink",
       [](const TempDir& d, OverlaySpec& s) {
         std::filesystem::create_symlink(d.File("nowhere"), s.overlay_path);
       },
       StatusCode::kAlreadyExists, "already exists"},
      {"backing missing",
       [](const TempDir& d, OverlaySpec& s) { s.backing_path = d.File("missing.qcow2"); },
       StatusCode::kNotFound, "missing.qcow2"},
      {"backing relative", [](const TempDir&, OverlaySpec& s) { s.backing_path = "base.qcow2"; },
       StatusCode::kInvalidArgument, "not absolute"},
      {"backing is raw",
       [](const TempDir& d, OverlaySpec& s) {
         s.backing_path = d.File("raw.img");
         MustRun({"qemu-img", "create", "-q", "-f", "raw", s.backing_path, "1M"});
       },
       StatusCode::kInvalidArgument, "not a qcow2 image"},
      {"backing has its own backing file",
       [](const TempDir& d, OverlaySpec& s) {
         const std::string mid = d.File("mid.qcow2");
         MustRun(
             {"qemu-img", "create", "-q", "-f", "qcow2", "-b", s.backing_path, "-F", "qcow2", mid});
         s.backing_path = mid;
       },
       StatusCode::kInvalidArgument, "backing file of its own"},
      {"backing format raw", [](const TempDir&, OverlaySpec& s) { s.backing_format = "raw"; },
       StatusCode::kInvalidArgument, "unsupported backing format"},
      {"smaller than backing", [](const TempDir&, OverlaySpec& s) { s.virtual_size = 8 * kMiB; },
       StatusCode::kInvalidArgument, "smaller than the backing"},
      {"overlay directory missing",
       [](const TempDir& d, OverlaySpec& s) { s.overlay_path = d.File("no/such/dir/ov.qcow2"); },
       StatusCode::kNotFound, "No such file"},
      {"bad cluster bits", [](const TempDir&, OverlaySpec& s) { s.cluster_bits = 30; },
       StatusCode::kInvalidArgument, "cluster_bits 30"},
  };
  for (const FailureCase& c : cases) {
    SECTION(c.name) {
      TempDir dir;
      OverlaySpec spec;
      spec.backing_path = MakeBase(dir, 16 * kMiB);
      spec.overlay_path = dir.File("overlay.qcow2");
      c.setup(dir, spec);
      const std::vector<std::string> before = dir.List();
      const std::string overlay_before = std::filesystem::is_regular_file(spec.overlay_path)
                                             ? testing::ReadFile(spec.overlay_path)
                                             : "";
      absl::Status s = CreateOverlay(spec);
      INFO(s.ToString());
      REQUIRE(s.code() == c.code);
      CHECK_THAT(std::string(s.message()), Catch::Contains(c.error));
      CHECK(dir.List() == before);  // no temp files, nothing new
      if (!overlay_before.empty()) CHECK(testing::ReadFile(spec.overlay_path) == overlay_before);
    }
  }
}

TEST_CASE("Concurrent CreateOverlay of one path: exactly one wins", "[storage][overlay]") {
  TempDir dir;
  const std::string base = MakeBase(dir, 16 * kMiB);
  const std::string overlay = dir.File("overlay.qcow2");
  constexpr int kThreads = 8;
  std::vector<absl::Status> results(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      // Different virtual sizes so a loser overwriting the winner would be visible.
      results[i] = CreateOverlay({.backing_path = base,
                                  .overlay_path = overlay,
                                  .virtual_size = (16 + static_cast<uint64_t>(i)) * kMiB});
    });
  }
  for (std::thread& t : threads) t.join();
  int ok = 0, exists = 0, winner = -1;
  for (int i = 0; i < kThreads; ++i) {
    INFO(results[i].ToString());
    if (results[i].ok()) {
      ++ok;
      winner = i;
    } else {
      CHECK(results[i].code() == absl::StatusCode::kAlreadyExists);
      ++exists;
    }
  }
  CHECK(ok == 1);
  CHECK(exists == kThreads - 1);
  CHECK(dir.List() == std::vector<std::string>{"base.qcow2", "overlay.qcow2"});
  absl::StatusOr<Qcow2Info> info = InspectQcow2(overlay);
  REQUIRE(info.ok());
  CHECK(info->virtual_size == (16 + static_cast<uint64_t>(winner)) * kMiB);
  RequireClean(overlay);
}

}  // namespace
}  // namespace minicloud::storage
