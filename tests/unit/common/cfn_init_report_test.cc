#include "common/cfn_init_report.h"

#include <catch2/catch.hpp>

namespace minicloud {
namespace {

// Each row: a console excerpt and what the parser must find in its last run. The comment of a
// row names the one-line bug it catches.
struct Row {
  const char* name;
  std::string console;
  size_t runs;
  bool finished, succeeded;
  std::optional<int> exit_code;
  std::vector<std::string> steps;  // "set/config/section/key|message"
  std::vector<std::vector<std::string>> outputs;
};

std::vector<Row> Rows() {
  return {
      // Catches: the console prefix ("[ts] cloud-init[pid]: ") not stripped.
      {"success behind the console prefix",
       "[  70.1] cloud-init[495]: Reading package lists...\n"
       "[  71.2] cloud-init[495]: cfn-init: result: success\n",
       1,
       true,
       true,
       std::nullopt,
       {},
       {}},
      // Catches: a bare line (no prefix, e.g. cfn-init run by hand on a tty) not recognised.
      {"bare lines", "cfn-init: result: success\n", 1, true, true, std::nullopt, {}, {}},
      // Catches: the exit code of "failed (exit N)" not read, or output lines dropped.
      {"failed command with output",
       "[  80.0] cloud-init[495]: cfn-init: step default/config/commands/02_check failed: exit "
       "status 3\n"
       "[  80.0] cloud-init[495]: cfn-init: output: checking /etc/app.conf\n"
       "[  80.0] cloud-init[495]: cfn-init: output: app.conf: wrong owner\n"
       "[  80.1] cloud-init[495]: cfn-init: result: failed (exit 1)\n",
       1,
       true,
       false,
       1,
       {"default/config/commands/02_check|exit status 3"},
       {{"checking /etc/app.conf", "app.conf: wrong owner"}}},
      // Catches: splitting the step path at every '/' (a files key is an absolute path).
      {"files key keeps its slashes",
       "cfn-init: step full/web/files//etc/nginx/conf.d/app.conf failed: owner 'www' does not "
       "exist\n"
       "cfn-init: result: failed (exit 1)\n",
       1,
       true,
       false,
       1,
       {"full/web/files//etc/nginx/conf.d/app.conf|owner 'www' does not exist"},
       {{}}},
      // Catches: carriage returns or colour codes left in the message.
      {"carriage returns and colours",
       "\x1b[0;31m[  9.9] cloud-init[1]: cfn-init: step s/c/packages/hello failed: apt-get exited "
       "100\x1b[0m\r\n"
       "cfn-init: output: E: Unable to locate package hello\r\n"
       "cfn-init: result: failed (exit 1)\r\n",
       1,
       true,
       false,
       1,
       {"s/c/packages/hello|apt-get exited 100"},
       {{"E: Unable to locate package hello"}}},
      // Catches: a second run (cfn-hup) mixed into the first one's result.
      {"two runs, the second failed",
       "cfn-init: result: success\n"
       "cfn-init: step default/config/commands/01 failed: killed by signal 9\n"
       "cfn-init: result: failed (exit 1)\n",
       2,
       true,
       false,
       1,
       {"default/config/commands/01|killed by signal 9"},
       {{}}},
      // Catches: a run still going reported as finished.
      {"unfinished run",
       "cfn-init: step a/b/services/nginx failed: unit nginx.service not found\n",
       1,
       false,
       false,
       std::nullopt,
       {"a/b/services/nginx|unit nginx.service not found"},
       {{}}},
      // Catches: any line that mentions "cfn-init: " mid-sentence taken as a report line.
      {"mention in prose is not a report",
       "[  5.0] cloud-init[1]: running/opt/aws/bin/cfn-init: result: success\n",
       0,
       false,
       false,
       std::nullopt,
       {},
       {}},
      // Catches: an empty output line ("cfn-init: output:") dropped, shifting the output.
      {"empty output line kept",
       "cfn-init: step d/c/commands/x failed: exit status 2\n"
       "cfn-init: output: first\n"
       "cfn-init: output:\n"
       "cfn-init: output: third\n"
       "cfn-init: result: failed (exit 1)\n",
       1,
       true,
       false,
       1,
       {"d/c/commands/x|exit status 2"},
       {{"first", "", "third"}}},
      // Catches: a result line without the exit form read as success.
      {"unparseable result is a failure without code",
       "cfn-init: result: failed\n",
       1,
       true,
       false,
       std::nullopt,
       {},
       {}},
  };
}

TEST_CASE("cfn-init console report: table") {
  for (const Row& row : Rows()) {
    INFO(row.name);
    const auto runs = ParseCfnInitConsole(row.console);
    REQUIRE(runs.size() == row.runs);
    if (runs.empty()) continue;
    const CfnInitRun& last = runs.back();
    CHECK(last.finished == row.finished);
    CHECK(last.succeeded == row.succeeded);
    CHECK(last.exit_code == row.exit_code);
    REQUIRE(last.failures.size() == row.steps.size());
    for (size_t i = 0; i < row.steps.size(); ++i) {
      const auto& f = last.failures[i];
      CHECK(f.config_set + "/" + f.config + "/" + f.section + "/" + f.key + "|" + f.message ==
            row.steps[i]);
      CHECK(f.output == row.outputs[i]);
    }
  }
}

// Catches: the step's section or key swapped in the parsed fields.
TEST_CASE("cfn-init console report: fields of a step") {
  const auto runs =
      ParseCfnInitConsole("cfn-init: step web/install/users/app failed: useradd exited 9\n");
  REQUIRE(runs.size() == 1);
  REQUIRE(runs[0].failures.size() == 1);
  const auto& f = runs[0].failures[0];
  CHECK(f.config_set == "web");
  CHECK(f.config == "install");
  CHECK(f.section == "users");
  CHECK(f.key == "app");
  CHECK(f.message == "useradd exited 9");
}

// Catches: cfn-init's "error:" line (it could not even start) dropped from the report.
TEST_CASE("cfn-init console report: an error before any step") {
  const auto runs = ParseCfnInitConsole(
      "[ 60.0] cloud-init[495]: cfn-init: error: DescribeStackResource: HTTP 403 AccessDenied\n"
      "[ 60.0] cloud-init[495]: cfn-init: result: failed (exit 1)\n");
  REQUIRE(runs.size() == 1);
  CHECK(runs[0].errors == std::vector<std::string>{"DescribeStackResource: HTTP 403 AccessDenied"});
  CHECK(runs[0].failures.empty());
  CHECK(FormatCfnInitRun(runs[0], "  ") ==
        "  cfn-init error: DescribeStackResource: HTTP 403 AccessDenied\n"
        "  cfn-init: failed (exit 1)\n");
}

// Catches: the formatted verdict dropping the output or the exit code.
TEST_CASE("cfn-init console report: formatting") {
  CfnInitRun run;
  run.finished = true;
  run.exit_code = 1;
  run.failures.push_back(
      {"default", "config", "commands", "02_check", "exit status 3", {"checking", "bad owner"}});
  CHECK(FormatCfnInitRun(run, "  ") ==
        "  cfn-init step default/config/commands/02_check failed: exit status 3\n"
        "    | checking\n"
        "    | bad owner\n"
        "  cfn-init: failed (exit 1)\n");
  CfnInitRun ok;
  ok.finished = ok.succeeded = true;
  CHECK(FormatCfnInitRun(ok, "") == "cfn-init: succeeded\n");
  CHECK(FormatCfnInitRun(std::nullopt, "") == "cfn-init: no report on the console\n");
  CfnInitRun going;
  CHECK(FormatCfnInitRun(going, "") == "cfn-init: still running (no result line yet)\n");
}

}  // namespace
}  // namespace minicloud
