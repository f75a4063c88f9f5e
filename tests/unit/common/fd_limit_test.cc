// process::RaiseFdLimit: raises the soft RLIMIT_NOFILE to min(hard, ceiling), never lowers it.
// Changes this process's own limit and restores it afterwards.

#include "common/process/fd_limit.h"

#include <sys/resource.h>

#include <catch2/catch.hpp>
#include <cstdint>

#include "tests/testing/skip.h"

namespace minicloud::process {
namespace {

// Restores the limits the test started with.
class RestoreFdLimit {
 public:
  RestoreFdLimit() { REQUIRE(::getrlimit(RLIMIT_NOFILE, &saved_) == 0); }
  ~RestoreFdLimit() { ::setrlimit(RLIMIT_NOFILE, &saved_); }
  uint64_t hard() const { return saved_.rlim_max; }

 private:
  rlimit saved_{};
};

void SetSoft(uint64_t soft) {
  rlimit r{};
  REQUIRE(::getrlimit(RLIMIT_NOFILE, &r) == 0);
  r.rlim_cur = soft;
  REQUIRE(::setrlimit(RLIMIT_NOFILE, &r) == 0);
}

TEST_CASE("RaiseFdLimit raises the soft limit to min(hard, ceiling) and never lowers it") {
  RestoreFdLimit restore;
  const uint64_t hard = restore.hard();
  MC_SKIP_UNLESS(hard >= 512 && hard != RLIM_INFINITY,
                 "the hard RLIMIT_NOFILE must be finite and at least 512 to test raising it");

  struct Row {
    const char* what;
    uint64_t soft_before;
    uint64_t ceiling;
    uint64_t soft_after;
  };
  const Row rows[] = {
      {"up to the hard limit", 64, hard, hard},
      {"a ceiling above the hard limit stops at the hard limit", 64, hard + 1000, hard},
      {"up to the ceiling below the hard limit", 64, 300, 300},
      {"a ceiling below the current soft limit leaves it alone", 400, 300, 400},
      {"already at the ceiling", 300, 300, 300},
  };
  for (const Row& row : rows) {
    SECTION(row.what) {
      SetSoft(row.soft_before);
      absl::StatusOr<FdLimit> after = RaiseFdLimit(row.ceiling);
      REQUIRE(after.ok());
      CHECK(after->soft == row.soft_after);
      CHECK(after->hard == hard);
      rlimit now{};
      REQUIRE(::getrlimit(RLIMIT_NOFILE, &now) == 0);
      CHECK(now.rlim_cur == row.soft_after);  // really in force, not only reported
    }
  }
}

}  // namespace
}  // namespace minicloud::process
