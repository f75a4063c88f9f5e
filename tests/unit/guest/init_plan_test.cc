// cfn-init's planner (guest/cfn/init_plan.*), table-driven; and the pure pieces the executor
// uses (mustache, base64, modes). The one-line bug each case would catch is named in it.

#include "guest/cfn/init_plan.h"

#include <catch2/catch.hpp>

#include "guest/cfn/init_exec.h"
#include "guest/cfn/mustache.h"

namespace minicloud::guest {
namespace {

using nlohmann::json;

json Init(json init) { return json{{"AWS::CloudFormation::Init", std::move(init)}}; }

std::vector<std::string> Names(const std::vector<Step>& steps) {
  std::vector<std::string> out;
  for (const Step& s : steps) out.push_back(s.Name());
  return out;
}

struct PlanCase {
  const char* name;
  json metadata;
  std::vector<std::string> sets;
  std::vector<std::string> want;  // step names in order
};

TEST_CASE("PlanInit orders sections, commands and configSets", "[guest][plan]") {
  const json full_config = {
      // Keys written in the "wrong" order: the plan must not follow the object's order.
      {"services", {{"systemd", {{"nginx", {{"enabled", true}}}}}}},
      {"commands", {{"20_second", {{"command", "b"}}}, {"10_first", {{"command", "a"}}}}},
      {"files", {{"/etc/a", {{"content", "x"}}}}},
      {"sources", {{"/opt/src", "http://h/a.tgz"}}},
      {"users", {{"web", json::object()}}},
      {"groups", {{"www", json::object()}}},
      {"packages", {{"apt", {{"nginx", json::array()}}}}},
  };
  const std::vector<PlanCase> cases = {
      // Bug caught: sections in the metadata's (alphabetical) order instead of EC2's.
      {"EC2's section order, commands by key",
       Init({{"config", full_config}}),
       {},
       {"default/config/packages/apt", "default/config/groups/www", "default/config/users/web",
        "default/config/sources//opt/src", "default/config/files//etc/a",
        "default/config/commands/10_first", "default/config/commands/20_second",
        "default/config/services/nginx"}},
      // Bug caught: ignoring the default configSet when no -c is given.
      {"the default configSet wins over config",
       Init({{"configSets", {{"default", {"b", "a"}}}},
             {"config", {{"commands", {{"c", {{"command", "x"}}}}}}},
             {"a", {{"commands", {{"a", {{"command", "x"}}}}}}},
             {"b", {{"commands", {{"b", {{"command", "x"}}}}}}}}),
       {},
       {"default/b/commands/b", "default/a/commands/a"}},
      // Bug caught: a ConfigSet reference not expanded in place (appended at the end).
      {"nested ConfigSet references expand in place",
       Init({{"configSets",
              {{"full", {"one", json{{"ConfigSet", "inner"}}, "three"}}, {"inner", {"two"}}}},
             {"one", {{"commands", {{"x", {{"command", "1"}}}}}}},
             {"two", {{"commands", {{"x", {{"command", "2"}}}}}}},
             {"three", {{"commands", {{"x", {{"command", "3"}}}}}}}}),
       {"full"},
       {"full/one/commands/x", "inner/two/commands/x", "full/three/commands/x"}},
      // Bug caught: only the first of several -c sets run.
      {"several configSets run in the order given",
       Init({{"configSets", {{"a", "one"}, {"b", json::array({"two"})}}},
             {"one", {{"groups", {{"g1", json::object()}}}}},
             {"two", {{"groups", {{"g2", json::object()}}}}}}),
       {"b", "a"},
       {"b/two/groups/g2", "a/one/groups/g1"}},
  };
  for (const PlanCase& c : cases) {
    SECTION(c.name) {
      StatusOr<std::vector<Step>> steps = PlanInit(c.metadata, c.sets);
      REQUIRE(steps.ok());
      CHECK(Names(*steps) == c.want);
    }
  }
}

struct ErrorCase {
  const char* name;
  json metadata;
  std::vector<std::string> sets;
  std::string want;  // substring of the error
};

TEST_CASE("PlanInit refuses what it cannot plan, naming it", "[guest][plan]") {
  const std::vector<ErrorCase> cases = {
      // Bug caught: a missing Init key planned as an empty run (silent success).
      {"no Init metadata", json{{"Other", 1}}, {}, "no AWS::CloudFormation::Init"},
      // Bug caught: the recursion guard removed (stack overflow).
      {"cycle",
       Init({{"configSets",
              {{"a", {json{{"ConfigSet", "b"}}}}, {"b", {json{{"ConfigSet", "a"}}}}}}}),
       {"a"},
       "cycle"},
      {"unknown configSet",
       Init({{"config", json::object()}}),
       {"nope"},
       "no configSet named nope"},
      // Bug caught: a configSet naming a missing config skipped.
      {"unknown config",
       Init({{"configSets", {{"s", {"ghost"}}}}}),
       {"s"},
       "no config named ghost"},
      // Bug caught: unknown sections ignored instead of refused.
      {"unknown section",
       Init({{"config", {{"yum", json::object()}}}}),
       {},
       "unsupported section yum"},
  };
  for (const ErrorCase& c : cases) {
    SECTION(c.name) {
      StatusOr<std::vector<Step>> steps = PlanInit(c.metadata, c.sets);
      REQUIRE_FALSE(steps.ok());
      CHECK_THAT(steps.status().message(), Catch::Contains(c.want));
    }
  }
}

TEST_CASE("PlanInit marks refused entries by name", "[guest][plan]") {
  struct Refusal {
    json config;
    std::string step;
    std::string want;
  };
  const std::vector<Refusal> cases = {
      // Bug caught: yum passed to apt (or silently skipped).
      {{{"packages", {{"yum", {{"httpd", json::array()}}}}}},
       "default/config/packages/yum",
       "package manager yum is not supported"},
      {{{"packages", {{"apt", {{"x", {"1", "2"}}}}}}},
       "default/config/packages/apt",
       "one version"},
      {{{"files", {{"relative/path", {{"content", "x"}}}}}},
       "default/config/files/relative/path",
       "absolute"},
      {{{"files", {{"/a", {{"content", "x"}, {"mode", "rw-r--r--"}}}}}},
       "default/config/files//a",
       "octal"},
      {{{"files", {{"/a", {{"content", "x"}, {"source", "http://h/x"}}}}}},
       "default/config/files//a",
       "not both"},
      {{{"commands", {{"x", {{"cmd", "true"}}}}}}, "default/config/commands/x", "unknown command"},
      {{{"services", {{"windows", {{"w3svc", json::object()}}}}}},
       "default/config/services/windows",
       "service manager windows"},
  };
  for (const Refusal& c : cases) {
    StatusOr<std::vector<Step>> steps = PlanInit(Init({{"config", c.config}}), {});
    REQUIRE(steps.ok());
    REQUIRE(steps->size() == 1);
    CHECK((*steps)[0].Name() == c.step);
    CHECK_THAT((*steps)[0].refusal, Catch::Contains(c.want));
  }
  // Bug caught: a valid apt entry refused.
  StatusOr<std::vector<Step>> ok = PlanInit(
      Init({{"config",
             {{"packages", {{"apt", {{"a", json::array()}, {"b", "1.2"}, {"c", {"3"}}}}}}}}}),
      {});
  REQUIRE(ok.ok());
  CHECK((*ok)[0].refusal.empty());
}

TEST_CASE("SplitConfigSets and IsTrue", "[guest][plan]") {
  CHECK(SplitConfigSets(" a, b ,,c") == std::vector<std::string>{"a", "b", "c"});
  CHECK(SplitConfigSets("").empty());
  CHECK(IsTrue(json(true)));
  CHECK(IsTrue(json("true")));
  CHECK_FALSE(IsTrue(json("false")));
  CHECK_FALSE(IsTrue(json(nullptr)));
}

TEST_CASE("RenderMustache substitutes context values", "[guest][mustache]") {
  json ctx = {{"name", "web"}, {"port", 8080}, {"empty", nullptr}};
  // Bug caught: spaces inside the tag not trimmed; numbers not rendered.
  CHECK(*RenderMustache("server {{name}}:{{ port }}", ctx) == "server web:8080");
  CHECK(*RenderMustache("{{{name}}}-{{&name}}", ctx) == "web-web");
  CHECK(*RenderMustache("[{{missing}}][{{empty}}]{{! note }}", ctx) == "[][]");
  CHECK(*RenderMustache("no tags { }", ctx) == "no tags { }");
  CHECK_FALSE(RenderMustache("{{#list}}x{{/list}}", ctx).ok());
  CHECK_FALSE(RenderMustache("open {{name", ctx).ok());
}

TEST_CASE("DecodeBase64 and ParseMode", "[guest][files]") {
  CHECK(*DecodeBase64("aGVsbG8gd29ybGQ=") == "hello world");
  CHECK(*DecodeBase64("aGVs\nbG8=") == "hello");
  CHECK_FALSE(DecodeBase64("a*b").ok());
  // Bug caught: the mode read as decimal.
  CHECK(*ParseMode("000644") == 0644u);
  CHECK(*ParseMode("000755") == 0755u);
  CHECK(*ParseMode("120000") == 0120000u);
  CHECK_FALSE(ParseMode("0008").ok());
}

}  // namespace
}  // namespace minicloud::guest
