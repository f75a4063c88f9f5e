#include "common/boot_verdict.h"

#include <catch2/catch.hpp>

namespace minicloud {

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

// What Debian 12's cloud-init 22.4.2 printed on a guest's console when its user-data script
// printed a line and exited 3 (tests/e2e/user_data_failure_test.sh): the script's output, then
// two WARNING lines naming scripts-user. The exit status went only to the guest's
// /var/log/cloud-init.log (DEBUG). Verbatim but for the pid (495, kBoot's modules:final) and the
// first line's timestamp.
constexpr char kFailed224[] =
    "[   70.301252] cloud-init[495]: udf: the user data fails now, on purpose\n"
    "[   70.344667] cloud-init[495]: 2026-12-03 10:41:38,088 - cc_scripts_user.py[WARNING]: "
    "Failed to run module scripts-user (scripts in /var/lib/cloud/instance/scripts)\n"
    "[   70.359841] cloud-init[495]: 2026-12-03 10:41:38,103 - util.py[WARNING]: Running module "
    "scripts-user (<module 'cloudinit.config.cc_scripts_user' from "
    "'/usr/lib/python3/dist-packages/cloudinit/config/cc_scripts_user.py'>) failed\n";
// Older cloud-init (runparts logging "Failed running <path> [<status>]" at WARNING).
constexpr char kFailedOld[] =
    "[  149.1] cloud-init[495]: 2026-11-23 15:37:00,001 - util.py[WARNING]: Failed running "
    "/var/lib/cloud/instance/scripts/part-001 [3]\n"
    "[  149.2] cloud-init[495]: 2026-11-23 15:37:00,002 - cc_scripts_user.py[WARNING]: "
    "Failed to run module scripts-user (scripts in /var/lib/cloud/instance/scripts)\n";
constexpr char kFinished[] =
    "[  153.630943] cloud-init[495]: Cloud-init v. 22.4.2 finished at Mon, 23 Nov 2026 "
    "15:37:04 +0000. Datasource DataSourceEc2Local.  Up 153.43 seconds\n";

TEST_CASE("boot verdict from a console", "[cli][verdict]") {
  struct Case {
    std::string name;
    std::string console;
    bool finished;
    bool failed;
    std::optional<int> exit_status;
    size_t stages;
    size_t failures;
  };
  const std::string boot = kBoot;
  const std::vector<Case> cases = {
      {"still booting", boot, false, false, std::nullopt, 5, 0},
      {"succeeded", boot + kFinished, true, false, 0, 5, 0},
      {"failed, cloud-init 22.4 (no status on the console)", boot + kFailed224 + kFinished, true,
       true, std::nullopt, 5, 2},
      {"failed, cloud-init 22.4, not finished yet", boot + kFailed224, false, true, std::nullopt, 5,
       2},
      {"failed with status 3, older cloud-init", boot + kFailedOld + kFinished, true, true, 3, 5,
       2},
      {"empty console", "", false, false, std::nullopt, 0, 0},
      {"garbage", std::string("\x01\x02 Linux version\n[ x ] Cloud-init v. running\n"), false,
       false, std::nullopt, 0, 0},
  };
  for (const auto& c : cases) {
    SECTION(c.name) {
      BootVerdict v = ParseBootConsole(c.console);
      REQUIRE(v.cloud_init_finished == c.finished);
      REQUIRE(v.user_data_failed == c.failed);
      REQUIRE(v.user_data_exit_status == c.exit_status);
      REQUIRE(v.stages.size() == c.stages);
      REQUIRE(v.failures.size() == c.failures);
    }
  }
  SECTION("details") {
    BootVerdict v = ParseBootConsole(boot + kFinished);
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

TEST_CASE("boot verdict of failed user data, text and JSON", "[cli][verdict]") {
  struct Case {
    std::string name;
    std::string console;
    std::string verdict_line;
    nlohmann::json exit_status;
  };
  const std::string boot = kBoot;
  const std::vector<Case> cases = {
      {"cloud-init 22.4", boot + kFailed224 + kFinished,
       "verdict: user data FAILED (exit status not on the console: this cloud-init logs it only "
       "in the guest's /var/log/cloud-init.log)",
       nullptr},
      {"older cloud-init", boot + kFailedOld + kFinished,
       "verdict: user data FAILED (exit status 3)", 3},
  };
  for (const auto& c : cases) {
    SECTION(c.name) {
      BootVerdict v = ParseBootConsole(c.console);
      const std::string text = FormatBootVerdict(v, true);
      REQUIRE_THAT(text, Catch::StartsWith(c.verdict_line + "\n"));
      REQUIRE_THAT(text, Catch::Contains("failure: "));
      const nlohmann::json j = BootVerdictJson(v, true);
      REQUIRE(j["Verdict"] == "failed");
      REQUIRE(j["UserDataExitStatus"] == c.exit_status);
      REQUIRE(j["Failures"].size() == 2);
      REQUIRE(j["Timeline"].back()["Stage"] == "finished");
    }
  }
  SECTION("the script's own output is kept, cloud-init's warnings are not") {
    BootVerdict v = ParseBootConsole(boot + kFailed224 + kFinished);
    REQUIRE(v.output == std::vector<std::string>{"hello from minicloud user data on ip-172-31-0-4",
                                                 "udf: the user data fails now, on purpose"});
  }
  SECTION("JSON of a boot still in progress and of one without user data") {
    REQUIRE(BootVerdictJson(ParseBootConsole(boot), true)["Verdict"] == "running");
    REQUIRE(BootVerdictJson(ParseBootConsole(boot + kFinished), false)["Verdict"] ==
            "no-user-data");
    REQUIRE(BootVerdictJson(ParseBootConsole(boot + kFinished), true)["UserDataExitStatus"] == 0);
  }
}

}  // namespace minicloud
