// The account QEMU runs under: which modes and group each kind of file gets, and the checks the
// agent makes at start (can the account reach the state directory, open /dev/kvm).
#include "agent/hypervisor/qemu_account.h"

#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tests/testing/skip.h"
#include "tests/testing/temp_dir.h"

namespace minicloud::hypervisor {
namespace {

namespace fs = std::filesystem;

// An unprivileged account that need not exist: nobody/nogroup's ids, no supplementary groups.
constexpr uid_t kNobody = 65534;
constexpr gid_t kNogroup = 65534;

QemuAccount Unprivileged() {
  QemuAccount a;
  a.user = "nobody";
  a.group = "nogroup";
  a.uid = kNobody;
  a.gid = kNogroup;
  return a;
}

struct Stat {
  mode_t mode;
  gid_t gid;
};

Stat StatOf(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return {static_cast<mode_t>(st.st_mode & 07777), st.st_gid};
}

std::string MakeFile(const std::string& path, mode_t mode) {
  std::ofstream(path) << "x";
  REQUIRE(::chmod(path.c_str(), mode) == 0);
  return path;
}

TEST_CASE("QemuAccount gives its group exactly what a guest needs", "[hypervisor][qemu_account]") {
  struct Case {
    const char* name;
    bool unprivileged;
    mode_t dir, read_only, writable;  // expected modes
  };
  const std::vector<Case> cases = {
      {"root: owner only, nothing shared", false, 0700, 0400, 0600},
      {"unprivileged: search, read, read-write for its group", true, 0710, 0440, 0660},
  };
  for (const Case& c : cases) {
    DYNAMIC_SECTION(c.name) {
      if (c.unprivileged) MC_SKIP_UNLESS(::geteuid() == 0, "giving files to a group needs root");
      const QemuAccount account = c.unprivileged ? Unprivileged() : QemuAccount{};
      const gid_t want_gid = c.unprivileged ? kNogroup : ::getegid();
      testing::TempDir tmp;
      const std::string dir = (tmp / "instances/i-1");
      ::mkdir((tmp / "instances").c_str(), 0755);  // an older version's directory
      REQUIRE(account.ShareDirectory(dir).ok());
      const std::string blob = MakeFile((tmp / "blob"), 0444);
      const std::string disk = MakeFile((tmp / "root.qcow2"), 0644);
      REQUIRE(account.ShareReadOnly(blob).ok());
      REQUIRE(account.ShareWritable(disk).ok());
      CHECK(StatOf(dir).mode == c.dir);
      CHECK(StatOf(dir).gid == want_gid);
      CHECK(StatOf(blob).mode == c.read_only);
      CHECK(StatOf(blob).gid == want_gid);
      CHECK(StatOf(disk).mode == c.writable);
      CHECK(StatOf(disk).gid == want_gid);
      REQUIRE(account.ShareDirectory((tmp / "instances")).ok());  // existing: mode corrected
      CHECK(StatOf((tmp / "instances")).mode == c.dir);
      CHECK_FALSE(account.ShareReadOnly((tmp / "missing")).ok());
    }
  }
}

TEST_CASE("QemuAccount::CheckCanReach names the directory in the way",
          "[hypervisor][qemu_account]") {
  struct Case {
    const char* name;
    mode_t a, b;
    bool b_in_group;     // b's group is the account's (needs root to set)
    const char* refuse;  // "" = reachable, else the directory named
  };
  const std::vector<Case> cases = {
      {"searchable by others all the way", 0711, 0711, false, ""},
      {"private leaf", 0711, 0700, false, "a/b"},
      {"private parent", 0700, 0711, false, "a"},
      {"leaf searchable by the account's group", 0711, 0710, true, ""},
      {"group bits of another group do not help", 0711, 0710, false, "a/b"},
  };
  for (const Case& c : cases) {
    DYNAMIC_SECTION(c.name) {
      if (c.b_in_group)
        MC_SKIP_UNLESS(::geteuid() == 0, "giving a directory to a group needs root");
      testing::TempDir tmp;
      const std::string a = (tmp / "a"), b = (tmp / "a/b");
      REQUIRE(fs::create_directories(b));
      if (c.b_in_group) REQUIRE(::chown(b.c_str(), static_cast<uid_t>(-1), kNogroup) == 0);
      REQUIRE(::chmod(a.c_str(), c.a) == 0);
      REQUIRE(::chmod(b.c_str(), c.b) == 0);
      // The temp dir itself must be passable for the case to be about a and b.
      REQUIRE(::chmod(tmp.path().c_str(), 0711) == 0);
      const absl::Status s = Unprivileged().CheckCanReach(b);
      if (std::string(c.refuse).empty()) {
        CHECK(s.ok());
      } else {
        CHECK(s.code() == absl::StatusCode::kFailedPrecondition);
        CHECK_THAT(std::string(s.message()),
                   Catch::Contains("which cannot reach " + b + ": " + (tmp / c.refuse) + " is"));
      }
      CHECK(QemuAccount{}.CheckCanReach(b).ok());  // root reaches everything
    }
  }
}

TEST_CASE("QemuAccount::CheckCanOpenDevice wants read and write", "[hypervisor][qemu_account]") {
  testing::TempDir tmp;
  const QemuAccount nobody = Unprivileged();
  CHECK(nobody.CheckCanOpenDevice(MakeFile((tmp / "rw"), 0666)).ok());
  CHECK(nobody.CheckCanOpenDevice(MakeFile((tmp / "ro"), 0644)).code() ==
        absl::StatusCode::kFailedPrecondition);
  const absl::Status closed = nobody.CheckCanOpenDevice(MakeFile((tmp / "kvm"), 0600));
  CHECK(closed.code() == absl::StatusCode::kFailedPrecondition);
  CHECK_THAT(std::string(closed.message()), Catch::Contains("usermod -a -G"));
  if (::geteuid() == 0) {
    const std::string grouped = MakeFile((tmp / "grouped"), 0660);
    REQUIRE(::chown(grouped.c_str(), static_cast<uid_t>(-1), kNogroup) == 0);
    CHECK(nobody.CheckCanOpenDevice(grouped).ok());
  }
  CHECK(QemuAccount{}.CheckCanOpenDevice((tmp / "kvm")).ok());
}

TEST_CASE("LookupQemuAccount", "[hypervisor][qemu_account]") {
  auto root = LookupQemuAccount("root");
  REQUIRE(root.ok());
  CHECK(root->privileged());
  CHECK(root->group == "root");
  auto missing = LookupQemuAccount("no-such-account-xq");
  CHECK(missing.status().code() == absl::StatusCode::kNotFound);
  CHECK_THAT(std::string(missing.status().message()), Catch::Contains("useradd --system"));
  CHECK(LookupQemuAccount("").status().code() == absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace minicloud::hypervisor
