// cfn-init's executor (guest/cfn/init_exec.*) over a fake System: what it does to the guest, in
// which order, and the console report the CLI parses. Each case names the one-line bug it
// would catch.

#include "guest/cfn/init_exec.h"

#include <algorithm>
#include <catch2/catch.hpp>

#include "tests/unit/guest/fake_system.h"

namespace minicloud::guest {
namespace {

using nlohmann::json;
using testing::FakeSystem;

struct Harness {
  FakeSystem system;
  std::vector<std::string> log, cmd_log;
  InitResult Run(const json& init, std::vector<std::string> sets = {}) {
    StatusOr<std::vector<Step>> steps = PlanInit(json{{"AWS::CloudFormation::Init", init}}, sets);
    REQUIRE(steps.ok());
    InitExecutor executor(
        system, [&](const std::string& l) { log.push_back(l); },
        [&](const std::string& l) { cmd_log.push_back(l); });
    return executor.Run(*steps);
  }
  size_t IndexOf(const std::string& call) const {
    auto it = std::find(system.calls.begin(), system.calls.end(), call);
    return it == system.calls.end() ? std::string::npos
                                    : static_cast<size_t>(it - system.calls.begin());
  }
};

bool Has(const std::vector<std::string>& calls, const std::string& call) {
  return std::find(calls.begin(), calls.end(), call) != calls.end();
}

TEST_CASE("cfn-init runs a config in EC2's order and reports success", "[guest][exec]") {
  Harness h;
  h.system.urls["http://repo/app.tgz"] = "archive-bytes";
  InitResult r =
      h.Run({{"config",
              {{"commands", {{"b", {{"command", "echo b"}}}, {"a", {{"command", "echo a"}}}}},
               {"files", {{"/etc/app.conf", {{"content", "x"}}}}},
               {"sources", {{"/opt/app", "http://repo/app.tgz"}}},
               {"users", {{"app", {{"groups", {"appg"}}, {"uid", "1500"}}}}},
               {"groups", {{"appg", {{"gid", "1600"}}}}},
               {"packages", {{"apt", {{"nginx", json::array()}, {"jq", "1.6-2.1"}}}}}}}});
  CHECK(r.exit_code == 0);
  CHECK(r.report == std::vector<std::string>{"cfn-init: result: success"});
  // Bug caught: any two sections swapped (e.g. users before groups fails useradd -G).
  std::vector<size_t> order = {h.IndexOf("apt-get install jq=1.6-2.1 nginx"),
                               h.IndexOf("groupadd appg gid=1600"),
                               h.IndexOf("useradd app groups=appg uid=1500"),
                               h.IndexOf("extract /opt/app"),
                               h.IndexOf("write /etc/app.conf"),
                               h.IndexOf("run /bin/sh -c echo a"),
                               h.IndexOf("run /bin/sh -c echo b")};
  for (size_t i = 0; i < order.size(); ++i) {
    INFO(i);
    REQUIRE(order[i] != std::string::npos);
    if (i > 0) CHECK(order[i - 1] < order[i]);
  }
  CHECK(h.system.extracted["/opt/app"] == "archive-bytes");
}

TEST_CASE("cfn-init files: content, JSON, base64, mode, owner, context, symlink", "[guest][exec]") {
  Harness h;
  h.system.users = {"web"};
  h.system.urls["http://repo/t.txt"] = "from {{where}}";
  InitResult r =
      h.Run({{"config",
              {{"files",
                {{"/etc/plain",
                  {{"content", "hello {{name}}\n"},
                   {"context", {{"name", "web"}}},
                   {"mode", "000600"},
                   {"owner", "web"},
                   {"group", "web"}}},
                 {"/etc/json.conf", {{"content", {{"k", 1}}}}},
                 {"/etc/bin", {{"content", "aGk="}, {"encoding", "base64"}}},
                 {"/etc/src", {{"source", "http://repo/t.txt"}, {"context", {{"where", "repo"}}}}},
                 {"/etc/link", {{"content", "/etc/plain"}, {"mode", "120000"}}}}}}}});
  REQUIRE(r.exit_code == 0);
  // Bug caught: context ignored; mode "000600" written as 0644; owner not applied.
  CHECK(h.system.files["/etc/plain"].content == "hello web\n");
  CHECK(h.system.files["/etc/plain"].mode == 0600u);
  CHECK(h.system.files["/etc/plain"].owner == "web");
  // Bug caught: a JSON object content written as its dump without parsing back to the same JSON.
  CHECK(json::parse(h.system.files["/etc/json.conf"].content) == json{{"k", 1}});
  CHECK(h.system.files["/etc/json.conf"].owner == "root");
  CHECK(h.system.files["/etc/bin"].content == "hi");
  CHECK(h.system.files["/etc/src"].content == "from repo");
  // Bug caught: mode 120000 written as a regular file.
  CHECK(Has(h.system.calls, "symlink /etc/link -> /etc/plain"));
  CHECK_FALSE(Has(h.system.calls, "write /etc/link"));
}

TEST_CASE("cfn-init commands: test, env, cwd, list form, ignoreErrors", "[guest][exec]") {
  Harness h;
  ProcessResult fail;
  fail.exit_code = 1;
  h.system.command_results["test -f /nope"] = fail;
  h.system.command_results["false-ignored"] = fail;
  InitResult r = h.Run(
      {{"config",
        {{"commands",
          {{"1_skipped", {{"command", "touch skipped"}, {"test", "test -f /nope"}}},
           {"2_runs",
            {{"command", "touch ran"}, {"test", "true"}, {"cwd", "/tmp"}, {"env", {{"A", "b"}}}}},
           {"3_list", {{"command", {"/usr/bin/printf", "%s", "x y"}}}},
           {"4_ignored", {{"command", "false-ignored"}, {"ignoreErrors", "true"}}},
           {"5_after", {{"command", "touch after"}}}}}}}});
  CHECK(r.exit_code == 0);
  // Bug caught: the test's verdict inverted, or the command run anyway.
  CHECK_FALSE(Has(h.system.calls, "run /bin/sh -c touch skipped"));
  CHECK(Has(h.system.calls, "run /bin/sh -c touch ran"));
  // Bug caught: a list command wrapped in a shell (its argument split on the space).
  CHECK(Has(h.system.calls, "run /usr/bin/printf %s x y"));
  // Bug caught: ignoreErrors ignored (the run stops before 5_after).
  CHECK(Has(h.system.calls, "run /bin/sh -c touch after"));
  const ProcessSpec* ran = nullptr;
  for (const ProcessSpec& s : h.system.runs) {
    if (s.argv.back() == "touch ran") ran = &s;
  }
  REQUIRE(ran != nullptr);
  CHECK(ran->cwd == "/tmp");
  CHECK(ran->replace_env);  // env replaces the environment, as AWS documents
  CHECK(ran->env == std::map<std::string, std::string>{{"A", "b"}});
}

TEST_CASE("cfn-init reports a failing command with its last output lines", "[guest][exec]") {
  Harness h;
  ProcessResult fail;
  fail.exit_code = 3;
  for (int i = 1; i <= 25; ++i) fail.output += "line " + std::to_string(i) + "\n";
  h.system.command_results["./broken.sh"] = fail;
  InitResult r = h.Run({{"configSets", {{"full", {"setup"}}}},
                        {"setup",
                         {{"commands",
                           {{"01_broken", {{"command", "./broken.sh"}}},
                            {"02_never", {{"command", "touch never"}}}}}}}},
                       {"full"});
  CHECK(r.exit_code == 1);
  REQUIRE(r.report.size() == 1 + 20 + 1);
  // Bug caught: a different prefix, separator or message than the CLI's parser expects.
  CHECK(r.report.front() == "cfn-init: step full/setup/commands/01_broken failed: exit status 3");
  // Bug caught: the first 20 lines kept instead of the last 20.
  CHECK(r.report[1] == "cfn-init: output: line 6");
  CHECK(r.report[20] == "cfn-init: output: line 25");
  CHECK(r.report.back() == "cfn-init: result: failed (exit 1)");
  // Bug caught: the run continues after a failure.
  CHECK_FALSE(Has(h.system.calls, "run /bin/sh -c touch never"));

  ProcessResult killed;
  killed.signal = 9;
  Harness k;
  k.system.command_results["sleep 100"] = killed;
  InitResult rk = k.Run({{"config", {{"commands", {{"k", {{"command", "sleep 100"}}}}}}}});
  CHECK(rk.report.front() == "cfn-init: step default/config/commands/k failed: killed by signal 9");
}

TEST_CASE("cfn-init refuses an unsupported step before running anything", "[guest][exec]") {
  Harness h;
  InitResult r = h.Run({{"config",
                         {{"commands", {{"a", {{"command", "touch a"}}}}},
                          {"packages", {{"yum", {{"httpd", json::array()}}}}}}}});
  CHECK(r.exit_code == 1);
  CHECK(r.report.front() ==
        "cfn-init: step default/config/packages/yum failed: package manager yum is not supported "
        "on this guest (apt only)");
  // Bug caught: refusal checked only when the step is reached (the command already ran).
  CHECK(h.system.calls.empty());
}

TEST_CASE("cfn-init fails a step whose package install fails, with apt's output", "[guest][exec]") {
  Harness h;
  h.system.apt_failure = "E: Unable to locate package nosuch\n";
  InitResult r = h.Run({{"config", {{"packages", {{"apt", {{"nosuch", json::array()}}}}}}}});
  CHECK(r.exit_code == 1);
  REQUIRE(r.report.size() == 3);
  CHECK(r.report[0] ==
        "cfn-init: step default/config/packages/apt failed: apt-get gave exit status 100");
  CHECK(r.report[1] == "cfn-init: output: E: Unable to locate package nosuch");
}

TEST_CASE("cfn-init services: enable, start, restart only on a listed change", "[guest][exec]") {
  const json services = {
      {"systemd",
       {{"web", {{"enabled", true}, {"ensureRunning", true}, {"files", {"/etc/web.conf"}}}},
        {"db", {{"enabled", "true"}, {"ensureRunning", "true"}, {"commands", {"migrate"}}}},
        {"old", {{"enabled", false}, {"ensureRunning", false}}},
        {"pkg", {{"ensureRunning", true}, {"packages", {{"apt", {"nginx"}}}}}}}}};
  json config = {{"packages", {{"apt", {{"nginx", json::array()}}}}},
                 {"files", {{"/etc/web.conf", {{"content", "v2"}}}}},
                 {"commands", {{"migrate", {{"command", "migrate"}, {"test", "check"}}}}},
                 {"services", services}};
  SECTION("first run: enables and starts, no restart") {
    Harness h;
    h.system.active = {"old"};
    h.system.enabled = {"old"};
    REQUIRE(h.Run({{"config", config}}).exit_code == 0);
    CHECK(Has(h.system.calls, "systemctl enable web"));
    CHECK(Has(h.system.calls, "systemctl start web"));
    CHECK(Has(h.system.calls, "systemctl disable old"));
    CHECK(Has(h.system.calls, "systemctl stop old"));
    CHECK_FALSE(Has(h.system.calls, "systemctl restart web"));
  }
  SECTION("running services restart when their file, package or command changed") {
    Harness h;
    h.system.active = {"web", "db", "pkg"};
    h.system.enabled = {"web", "db"};
    h.system.files["/etc/web.conf"].content = "v1";
    REQUIRE(h.Run({{"config", config}}).exit_code == 0);
    // Bug caught: changes not tracked (no restart), or restarted without a change.
    CHECK(Has(h.system.calls, "systemctl restart web"));
    CHECK(Has(h.system.calls, "systemctl restart db"));
    CHECK(Has(h.system.calls, "systemctl restart pkg"));
    CHECK_FALSE(Has(h.system.calls, "systemctl enable web"));
  }
  SECTION("nothing changed: no restart") {
    Harness h;
    h.system.active = {"web", "db", "pkg"};
    h.system.enabled = {"web", "db"};
    h.system.installed = {"nginx"};
    h.system.files["/etc/web.conf"] = {"v2", 0644, "root", "root", ""};
    ProcessResult no;
    no.exit_code = 1;
    h.system.command_results["check"] = no;  // the test skips migrate
    REQUIRE(h.Run({{"config", config}}).exit_code == 0);
    // Bug caught: a skipped command or an unchanged file counted as a change.
    CHECK_FALSE(Has(h.system.calls, "systemctl restart web"));
    CHECK_FALSE(Has(h.system.calls, "systemctl restart db"));
    CHECK_FALSE(Has(h.system.calls, "systemctl restart pkg"));
    CHECK_FALSE(Has(h.system.calls, "write /etc/web.conf"));
  }
}

}  // namespace
}  // namespace minicloud::guest

namespace minicloud::guest {
namespace {

TEST_CASE("Malformed Init metadata is an error or a refusal, never an exception", "[guest][exec]") {
  using nlohmann::json;
  // Each value replaces a part of a valid config; a type check missing in the planner makes
  // the executor throw json::type_error here (the bug each row would catch).
  const std::vector<json> configs = {
      json{{"files", {{"/a", {{"mode", 644}}}}}},
      json{{"files", {{"/a", {{"owner", 0}}}}}},
      json{{"files", {{"/a", {{"encoding", true}}}}}},
      json{{"files", {{"/a", {{"content", "x"}, {"context", "notobj"}}}}}},
      json{{"files", {{"/a", {{"source", 5}}}}}},
      json{{"files", "x"}},
      json{{"commands", {{"a", {{"command", 5}}}}}},
      json{{"commands", {{"a", {{"command", {1, 2}}}}}}},
      json{{"commands", {{"a", {{"command", "x"}, {"env", {{"A", 1}}}}}}}},
      json{{"commands", {{"a", {{"command", "x"}, {"cwd", 1}}}}}},
      json{{"commands", {{"a", {{"command", "x"}, {"test", false}}}}}},
      json{{"commands", {{"a", "x"}}}},
      json{{"users", {{"u", {{"groups", "g"}}}}}},
      json{{"users", {{"u", {{"uid", json::object()}}}}}},
      json{{"groups", {{"g", 1}}}},
      json{{"sources", {{"/d", 1}}}},
      json{{"packages", {{"apt", {{"p", 1}}}}}},
      json{{"packages", {{"apt", {{"p", {1}}}}}}},
      json{{"packages", "apt"}},
      json{{"services", {{"systemd", {{"s", {{"files", "x"}}}}}}}},
      json{{"services", {{"systemd", {{"s", {{"packages", {{"apt", "x"}}}}}}}}}},
      json{{"services", {{"systemd", 1}}}},
      json(5),
  };
  for (const json& config : configs) {
    INFO(config.dump());
    Harness h;
    StatusOr<std::vector<Step>> steps =
        PlanInit(json{{"AWS::CloudFormation::Init", {{"config", config}}}}, {});
    if (!steps.ok()) continue;
    InitExecutor executor(
        h.system, [](const std::string&) {}, [](const std::string&) {});
    CHECK_NOTHROW(executor.Run(*steps));
  }
  for (const json& metadata :
       {json(nullptr), json("s"), json{{"AWS::CloudFormation::Init", 1}},
        json{{"AWS::CloudFormation::Init", {{"configSets", 1}}}},
        json{{"AWS::CloudFormation::Init", {{"configSets", {{"default", {1}}}}}}}}) {
    CHECK_NOTHROW(PlanInit(metadata, {}));
    CHECK_FALSE(PlanInit(metadata, {}).ok());
  }
}

}  // namespace
}  // namespace minicloud::guest
