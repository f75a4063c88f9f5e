// The agent's instance-store files: the plan from a desired record (checked: it comes from the
// network), sparse creation, keep or empty, and removal.
#include "agent/runtime/instance_store.h"

#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "tests/testing/temp_dir.h"

namespace minicloud::agent {
namespace {

v1::DesiredInstance Want(std::vector<std::tuple<std::string, std::string, int64_t>> disks) {
  v1::DesiredInstance w;
  w.set_instance_id("i-00000000000000001");
  for (const auto& [v, d, gb] : disks) {
    auto* x = w.add_instance_store();
    x->set_virtual_name(v);
    x->set_device_name(d);
    x->set_size_gb(gb);
  }
  return w;
}

}  // namespace

TEST_CASE("PlanInstanceStore maps names to files, targets and serials", "[instance_store]") {
  auto plan = PlanInstanceStore(Want({{"ephemeral0", "sdb", 75}, {"ephemeral1", "/dev/xvdf", 2}}),
                                "/state/i-1");
  REQUIRE(plan.ok());
  REQUIRE(plan->size() == 2);
  CHECK((*plan)[0].disk.path == "/state/i-1/ephemeral0.img");
  CHECK((*plan)[0].disk.target_dev == "vdb");
  CHECK((*plan)[0].disk.serial == "ephemeral0");
  CHECK((*plan)[0].size_bytes == int64_t{75} << 30);
  CHECK((*plan)[1].disk.target_dev == "vdf");
}

// Each row: the one-line bug it would catch is a check gone missing, letting a hostile desired
// record name a path outside the state directory or a disk the domain XML cannot hold.
TEST_CASE("PlanInstanceStore refuses what the controller should never send", "[instance_store]") {
  struct Row {
    const char* name;
    v1::DesiredInstance want;
  };
  const std::vector<Row> rows = {
      {"path in the virtual name", Want({{"../../etc/passwd", "sdb", 1}})},
      {"virtual name beyond 23", Want({{"ephemeral24", "sdb", 1}})},
      {"virtual name twice", Want({{"ephemeral0", "sdb", 1}, {"ephemeral0", "sdc", 1}})},
      {"root's device", Want({{"ephemeral0", "sda", 1}})},
      {"odd device", Want({{"ephemeral0", "nvme1n1", 1}})},
      {"one slot twice", Want({{"ephemeral0", "sdb", 1}, {"ephemeral1", "xvdb", 1}})},
      {"zero size", Want({{"ephemeral0", "sdb", 0}})},
      {"huge size", Want({{"ephemeral0", "sdb", kMaxInstanceStoreGb + 1}})},
  };
  for (const Row& r : rows) {
    INFO(r.name);
    CHECK(PlanInstanceStore(r.want, "/state/i-1").status().code() ==
          absl::StatusCode::kInvalidArgument);
  }
}

// Would catch: files written in full (not sparse), a kept file emptied (reboot loses data), a
// fresh boot keeping old data, or removal missing a volume.
TEST_CASE("instance-store files: sparse, kept or emptied, removed", "[instance_store]") {
  testing::TempDir dir;
  auto plan =
      PlanInstanceStore(Want({{"ephemeral0", "sdb", 4}, {"ephemeral1", "sdc", 4}}), dir.path());
  REQUIRE(plan.ok());
  REQUIRE(CreateInstanceStore(*plan, /*fresh=*/true).ok());
  const std::string e0 = (*plan)[0].disk.path;
  struct stat st {};
  REQUIRE(::stat(e0.c_str(), &st) == 0);
  CHECK(st.st_size == int64_t{4} << 30);
  CHECK(st.st_blocks * 512 < (1 << 20));
  CHECK((st.st_mode & 0777) == 0600);
  { std::fstream(e0, std::ios::in | std::ios::out | std::ios::binary).write("data", 4); }
  REQUIRE(CreateInstanceStore(*plan, /*fresh=*/false).ok());
  {
    std::ifstream f(e0, std::ios::binary);
    std::string s(4, '\0');
    f.read(s.data(), 4);
    CHECK(s == "data");
  }
  REQUIRE(CreateInstanceStore(*plan, /*fresh=*/true).ok());
  {
    std::ifstream f(e0, std::ios::binary);
    std::string s(4, 'x');
    f.read(s.data(), 4);
    CHECK(s == std::string(4, '\0'));
  }
  CHECK(std::filesystem::file_size(e0) == uint64_t{4} << 30);
  std::ofstream(dir.path() + "/root.qcow2") << "root";
  REQUIRE(RemoveInstanceStore(dir.path()).ok());
  CHECK_FALSE(std::filesystem::exists(e0));
  CHECK_FALSE(std::filesystem::exists((*plan)[1].disk.path));
  CHECK(std::filesystem::exists(dir.path() + "/root.qcow2"));
  CHECK(RemoveInstanceStore(dir.path() + "/missing").ok());
}

}  // namespace minicloud::agent
