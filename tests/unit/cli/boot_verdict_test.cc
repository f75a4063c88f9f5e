#include "cli/boot_verdict.h"

#include <catch2/catch.hpp>

namespace minicloud::cli {

// Console excerpts in the shape Debian 12's cloud-init 22.4 prints them.
constexpr char kBoot[] =
    "[    0.000000] Linux version 6.1.0-56-cloud-amd64 (debian-kernel@lists.debian.org)\n"
    "[   46.902795] cloud-init[331]: Cloud-init v. 22.4.2 running 'init-local' at Mon, 23 Nov "
    "2026 15:35:16 +0000. Up 46.32 seconds.\n"
    "[   76.492971] cloud-init[401]: Cloud-init v. 22.4.2 running 'init' at Mon, 23 Nov 2026 "
    "15:35:46 +0000. Up 76.17 seconds.\n"
    "[   76.892556] cloud-init[401]: ci-info: ++++++++Route IPv4 info++++++++\n"
    "\x1b[0;32m  OK  \x1b[0m] Finished networking.service\r\n"
    "[  126.812627] cloud-init[470]: Cloud-init v. 22.4.2 running 'modules:config' at Mon, 23 "
    "Nov 2026 15:36:36 +0000. Up 125.81 seconds.\n"
    "[  146.755382] cloud-init[495]: Cloud-init v. 22.4.2 running 'modules:final' at Mon, 23 "
    "Nov 2026 15:36:56 +0000. Up 145.61 seconds.\n"
    "[  148.891681] cloud-init[495]: hello from minicloud user data on ip-172-31-0-4\n";

TEST_CASE("boot verdict from a console", "[cli][verdict]") {
  struct Case {
    std::string name;
    std::string console;
    bool finished;
    bool failed;
    std::optional<int> exit_status;
    size_t stages;
  };
  const std::string finished =
      "[  153.630943] cloud-init[495]: Cloud-init v. 22.4.2 finished at Mon, 23 Nov 2026 "
      "15:37:04 +0000. Datasource DataSourceEc2Local.  Up 153.43 seconds\n";
  const std::string failed =
      "[  149.1] cloud-init[495]: 2026-11-23 15:37:00,001 - util.py[WARNING]: Failed running "
      "/var/lib/cloud/instance/scripts/part-001 [3]\n"
      "[  149.2] cloud-init[495]: 2026-11-23 15:37:00,002 - cc_scripts_user.py[WARNING]: "
      "Failed to run module scripts-user (scripts in /var/lib/cloud/instance/scripts)\n";
  const std::vector<Case> cases = {
      {"still booting", kBoot, false, false, std::nullopt, 5},
      {"succeeded", std::string(kBoot) + finished, true, false, 0, 5},
      {"failed with status 3", std::string(kBoot) + failed + finished, true, true, 3, 5},
      {"empty console", "", false, false, std::nullopt, 0},
      {"garbage", std::string("\x01\x02 Linux version\n[ x ] Cloud-init v. running\n"), false,
       false, std::nullopt, 0},
  };
  for (const auto& c : cases) {
    SECTION(c.name) {
      BootVerdict v = ParseBootConsole(c.console);
      REQUIRE(v.cloud_init_finished == c.finished);
      REQUIRE(v.user_data_failed == c.failed);
      REQUIRE(v.user_data_exit_status == c.exit_status);
      REQUIRE(v.stages.size() == c.stages);
    }
  }
  SECTION("details") {
    BootVerdict v = ParseBootConsole(std::string(kBoot) + finished);
    REQUIRE(v.datasource == "DataSourceEc2Local");
    REQUIRE(v.stages[0].name == "kernel");
    REQUIRE(v.stages[4].name == "modules:final");
    REQUIRE(v.stages[4].uptime_s == Approx(145.61));
    REQUIRE(v.output ==
            std::vector<std::string>{"hello from minicloud user data on ip-172-31-0-4"});
    std::string text = FormatBootVerdict(v, true);
    REQUIRE_THAT(text, Catch::Contains("verdict: user data succeeded (exit status 0)"));
    REQUIRE_THAT(text, Catch::Contains("153.4s  cloud-init finished"));
  }
}

}  // namespace minicloud::cli
