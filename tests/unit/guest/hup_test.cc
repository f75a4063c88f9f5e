// cfn-hup (guest/cfn/hup.*): configuration parsing and change detection, with fakes for the
// endpoint and the action runner and the state in a temp directory. Each case names the one-line
// bug it would catch.

#include "guest/cfn/hup.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace minicloud::guest {
namespace {

using nlohmann::json;

std::string TempDir() {
  char templ[] = "/tmp/cfn-hup-test.XXXXXX";
  REQUIRE(::mkdtemp(templ) != nullptr);
  return templ;
}

TEST_CASE("cfn-hup.conf: [main] keys", "[guest][hup]") {
  auto c = ParseHupConfig(
      "[main]\nstack=arn:aws:cloudformation:r:1:stack/s/x\nregion=us-east-1\n"
      "interval = 1\nverbose=true\nurl=http://10.0.0.1:8/cf\n");
  REQUIRE(c.ok());
  CHECK(c->stack == "arn:aws:cloudformation:r:1:stack/s/x");
  CHECK(c->interval_minutes == 1);
  CHECK(c->verbose);
  CHECK(c->url == "http://10.0.0.1:8/cf");
  auto defaults = ParseHupConfig("# c\n[main]\nstack=s\n");
  REQUIRE(defaults.ok());
  // Bug caught: the default interval or URL changed.
  CHECK(defaults->interval_minutes == 15);
  CHECK(defaults->url == "http://169.254.169.254/cloudformation");
  CHECK_FALSE(ParseHupConfig("[main]\nregion=x\n").ok());  // stack is required
  CHECK_FALSE(ParseHupConfig("[main]\nstack=s\ninterval=0\n").ok());
  CHECK_FALSE(ParseHupConfig("[main]\nstack=s\ninterval=soon\n").ok());
  CHECK_FALSE(ParseHupConfig("stack=s\n").ok());  // outside a section
}

TEST_CASE("hooks: triggers, path, action, runas", "[guest][hup]") {
  auto hooks = ParseHooks(
      "[cfn-auto-reloader-hook]\ntriggers=post.update\n"
      "path=Resources.Web.Metadata.AWS::CloudFormation::Init\n"
      "action=/opt/aws/bin/cfn-init -v --stack s --resource Web\nrunas=root\n\n"
      "[id]\ntriggers=post.add, post.remove\npath=Resources.Web.PhysicalResourceId\naction=true\n",
      "hooks.conf");
  REQUIRE(hooks.ok());
  REQUIRE(hooks->size() == 2);
  const Hook& h = (*hooks)[0];
  CHECK(h.name == "cfn-auto-reloader-hook");
  CHECK(h.triggers == std::vector<std::string>{"post.update"});
  CHECK(h.parsed.resource == "Web");
  // Bug caught: "AWS::CloudFormation::Init" split on its colons, or the Metadata key kept.
  CHECK(h.parsed.metadata == std::vector<std::string>{"AWS::CloudFormation::Init"});
  CHECK(h.action == "/opt/aws/bin/cfn-init -v --stack s --resource Web");
  CHECK((*hooks)[1].parsed.physical_id);
  CHECK((*hooks)[1].triggers == std::vector<std::string>{"post.add", "post.remove"});
  CHECK((*hooks)[1].runas == "root");

  for (const char* bad : {"[h]\ntriggers=post.change\npath=Resources.W.Metadata\naction=x\n",
                          "[h]\npath=Resources.W.Metadata\naction=x\n",
                          "[h]\ntriggers=post.update\npath=Resources.W\naction=x\n",
                          "[h]\ntriggers=post.update\npath=Outputs.W.Metadata\naction=x\n",
                          "[h]\ntriggers=post.update\npath=Resources.W.Metadata\n"}) {
    INFO(bad);
    CHECK_FALSE(ParseHooks(bad, "h.conf").ok());
  }
}

TEST_CASE("TriggerFor names the change", "[guest][hup]") {
  CHECK(TriggerFor(std::nullopt, json(1)) == "post.add");
  CHECK(TriggerFor(json(1), std::nullopt) == "post.remove");
  CHECK(TriggerFor(json(1), json(2)) == "post.update");
  CHECK(TriggerFor(json(1), json(1)).empty());
  CHECK(TriggerFor(std::nullopt, std::nullopt).empty());
}

struct HupFixture {
  std::string dir = TempDir();
  json metadata = {{"AWS::CloudFormation::Init", {{"config", {{"files", {{"/a", 1}}}}}}},
                   {"other", 1}};
  bool fail_read = false;
  std::vector<ProcessSpec> runs;
  HupDeps deps;
  HupFixture() {
    deps.describe = [this](const std::string& resource) -> StatusOr<ResourceDetail> {
      if (fail_read) return Error("connection refused");
      ResourceDetail d;
      d.logical_id = resource;
      d.metadata = metadata;
      return d;
    };
    deps.run = [this](const ProcessSpec& spec) -> StatusOr<ProcessResult> {
      runs.push_back(spec);
      return ProcessResult{};
    };
    deps.log = [](const std::string&) {};
  }
  ~HupFixture() { std::filesystem::remove_all(dir); }
};

std::vector<Hook> InitHook(const std::string& triggers = "post.update") {
  auto hooks = ParseHooks("[reload]\ntriggers=" + triggers +
                              "\npath=Resources.Web.Metadata.AWS::CloudFormation::Init\n"
                              "action=cfn-init --stack s --resource Web\n",
                          "hooks.conf");
  REQUIRE(hooks.ok());
  return *hooks;
}

TEST_CASE("cfn-hup runs a hook once per change of its path", "[guest][hup]") {
  HupFixture f;
  std::vector<Hook> hooks = InitHook();
  // First pass: records only (the instance was just configured with this metadata).
  auto first = RunHupPass(hooks, f.dir, f.deps);
  CHECK(first.ran.empty());
  CHECK(f.runs.empty());
  // Unchanged: nothing. Bug caught: comparing against nothing kept (runs on every pass).
  CHECK(RunHupPass(hooks, f.dir, f.deps).ran.empty());
  // A change outside the path: nothing. Bug caught: the whole metadata compared.
  f.metadata["other"] = 2;
  CHECK(RunHupPass(hooks, f.dir, f.deps).ran.empty());
  // A change inside the path: the action runs once, with the old and new values.
  json old_init = f.metadata["AWS::CloudFormation::Init"];
  f.metadata["AWS::CloudFormation::Init"]["config"]["files"]["/a"] = 2;
  auto changed = RunHupPass(hooks, f.dir, f.deps);
  CHECK(changed.ran == std::vector<std::string>{"reload"});
  REQUIRE(f.runs.size() == 1);
  CHECK(f.runs[0].argv ==
        std::vector<std::string>{"/bin/sh", "-c", "cfn-init --stack s --resource Web"});
  CHECK(json::parse(f.runs[0].env["CFN_OLD_METADATA"]) == old_init);
  CHECK(json::parse(f.runs[0].env["CFN_NEW_METADATA"]) == f.metadata["AWS::CloudFormation::Init"]);
  // Bug caught: the new value not kept (the action runs again on the next pass).
  CHECK(RunHupPass(hooks, f.dir, f.deps).ran.empty());
  CHECK(f.runs.size() == 1);
}

TEST_CASE("cfn-hup's first pass records without running, even for post.add", "[guest][hup]") {
  HupFixture f;
  std::vector<Hook> hooks = InitHook("post.add,post.update");
  // Bug caught: the first observation treated as "absent before" (post.add on every boot).
  CHECK(RunHupPass(hooks, f.dir, f.deps).ran.empty());
  // A hook whose path changed starts over the same way.
  hooks[0].path = "Resources.Web.Metadata";
  hooks[0].parsed.metadata.clear();
  CHECK(RunHupPass(hooks, f.dir, f.deps).ran.empty());
  CHECK(f.runs.empty());
}

TEST_CASE("cfn-hup keeps the last value across a failed read and honours triggers",
          "[guest][hup]") {
  HupFixture f;
  std::vector<Hook> hooks = InitHook("post.update,post.remove");
  RunHupPass(hooks, f.dir, f.deps);
  f.fail_read = true;
  auto failed = RunHupPass(hooks, f.dir, f.deps);
  CHECK(failed.failures == 1);
  CHECK(failed.ran.empty());
  f.fail_read = false;
  f.metadata["AWS::CloudFormation::Init"] = "v2";
  // Bug caught: a failed read recorded as "absent" (then this would be post.add, not update).
  CHECK(RunHupPass(hooks, f.dir, f.deps).ran == std::vector<std::string>{"reload"});
  f.metadata.erase("AWS::CloudFormation::Init");
  CHECK(RunHupPass(hooks, f.dir, f.deps).ran == std::vector<std::string>{"reload"});  // remove
  CHECK(f.runs.back().env["CFN_NEW_METADATA"].empty());
  // Re-added, but post.add is not a trigger of this hook.
  f.metadata["AWS::CloudFormation::Init"] = "v3";
  CHECK(RunHupPass(hooks, f.dir, f.deps).ran.empty());
}

TEST_CASE("LoadHupFiles reads cfn-hup.conf, hooks.conf and hooks.d/*.conf", "[guest][hup]") {
  std::string dir = TempDir();
  std::filesystem::create_directories(dir + "/hooks.d");
  std::ofstream(dir + "/cfn-hup.conf") << "[main]\nstack=s\ninterval=5\n";
  std::ofstream(dir + "/hooks.d/b.conf")
      << "[b]\ntriggers=post.update\npath=Resources.X.Metadata\naction=echo b\n";
  std::ofstream(dir + "/hooks.d/a.conf")
      << "[a]\ntriggers=post.update\npath=Resources.X.Metadata\naction=echo a\n";
  std::ofstream(dir + "/hooks.d/ignored.txt") << "not a hook";
  auto files = LoadHupFiles(dir);
  REQUIRE(files.ok());
  CHECK(files->config.interval_minutes == 5);
  REQUIRE(files->hooks.size() == 2);
  CHECK(files->hooks[0].name == "a");  // Bug caught: readdir order instead of sorted
  std::ofstream(dir + "/hooks.conf")
      << "[a]\ntriggers=post.update\npath=Resources.X.Metadata\naction=echo dup\n";
  CHECK_FALSE(LoadHupFiles(dir).ok());  // a hook defined twice
  std::filesystem::remove_all(dir);
  CHECK_FALSE(LoadHupFiles(dir).ok());
}

}  // namespace
}  // namespace minicloud::guest
