// The built helpers (build/guest/bin) run as a guest would run them, against a real loopback
// endpoint serving canned answers: cfn-get-metadata, cfn-signal, cfn-init (files, commands and
// the console report), cfn-hup --no-daemon. Logs go to a temp dir (MINICLOUD_CFN_LOG_DIR).

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/testing/skip.h"
#include "tests/unit/guest/loopback_server.h"

namespace minicloud::guest {
namespace {

using nlohmann::json;
using testing::Canned;
using testing::DescribeAnswer;
using testing::LoopbackServer;
using testing::ParseForm;
using testing::Recorded;

struct Ran {
  int exit_code;
  std::string output;  // stdout + stderr
};

std::string Bin(const std::string& name) {
  return std::string(MINICLOUD_BINARY_DIR) + "/guest/bin/" + name;
}

Ran Sh(const std::string& command) {
  std::FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  REQUIRE(p != nullptr);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int status = ::pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

struct TempDir {
  std::string path;
  TempDir() {
    char t[] = "/tmp/cfn-bin-test.XXXXXX";
    REQUIRE(::mkdtemp(t) != nullptr);
    path = t;
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

TEST_CASE("cfn-get-metadata prints the metadata or one key", "[guest][bin]") {
  json metadata = {{"app", {{"port", 8080}, {"name", "web"}}}};
  LoopbackServer server([&](const Recorded&) { return Canned{200, DescribeAnswer(metadata)}; });
  Ran all = Sh(Bin("cfn-get-metadata") + " -s s -r Web --region us-east-1 --url " + server.url());
  REQUIRE(all.exit_code == 0);
  CHECK(json::parse(all.output) == metadata);
  Ran key = Sh(Bin("cfn-get-metadata") + " -s s -r Web -k app.name --url " + server.url());
  CHECK(key.exit_code == 0);
  CHECK(key.output == "web\n");
  Ran missing = Sh(Bin("cfn-get-metadata") + " -s s -r Web -k app.nope --url " + server.url());
  CHECK(missing.exit_code == 1);
  CHECK_THAT(missing.output, Catch::Contains("app.nope"));
}

TEST_CASE("cfn-signal -e sends FAILURE with the reason and exits non-zero when refused",
          "[guest][bin]") {
  bool refuse = false;
  LoopbackServer server([&](const Recorded&) {
    if (refuse) return Canned{400, R"({"Error":{"Code":"ValidationError","Message":"no"}})"};
    return Canned{200, R"({"SignalResourceResponse":{}})"};
  });
  Ran r = Sh(Bin("cfn-signal") + " -e 3 --reason 'step failed' --id i-0abc --stack s " +
             "--resource Web --region us-east-1 --url " + server.url());
  CHECK(r.exit_code == 0);
  auto form = ParseForm(server.requests().at(0).body);
  CHECK(form["Status"] == "FAILURE");
  CHECK(form["Reason"] == "step failed");
  CHECK(form["UniqueId"] == "i-0abc");
  refuse = true;
  Ran refused =
      Sh(Bin("cfn-signal") + " -e 0 -i i-0abc --stack s --resource Web --url " + server.url());
  // Bug caught: the endpoint's refusal not turned into a failing exit code.
  CHECK(refused.exit_code == 1);
  CHECK_THAT(refused.output, Catch::Contains("ValidationError"));
  // The WaitConditionHandle form.
  refuse = false;
  Ran wc = Sh(Bin("cfn-signal") + " -s false -d payload -i i-0abc '" + server.url() +
              "/cloudformation/waitcondition/t1'");
  CHECK(wc.exit_code == 0);
  Recorded put = server.requests().back();
  CHECK(put.method == "PUT");
  CHECK(json::parse(put.body)["Status"] == "FAILURE");
  CHECK(json::parse(put.body)["Data"] == "payload");
}

TEST_CASE("cfn-init applies files and commands and prints the report", "[guest][bin]") {
  MC_SKIP_UNLESS(::geteuid() == 0, "needs root (files are chowned to root as in a guest)");
  TempDir tmp;
  const std::string d = tmp.path;
  json init = {
      {"configSets", {{"full", {"setup", json{{"ConfigSet", "run"}}}}, {"run", {"cmds"}}}},
      {"setup",
       {{"files",
         {{d + "/etc/app.conf",
           {{"content", "port={{port}}\n"}, {"context", {{"port", "8080"}}}, {"mode", "000640"}}},
          {d + "/etc/link", {{"content", d + "/etc/app.conf"}, {"mode", "120000"}}}}}}},
      {"cmds",
       {{"commands",
         {{"1_write",
           {{"command", "echo $GREETING > out.txt"}, {"cwd", d}, {"env", {{"GREETING", "hi"}}}}},
          {"2_skip", {{"command", "touch " + d + "/skipped"}, {"test", "false"}}},
          {"3_fail", {{"command", "echo one; echo two >&2; exit 7"}}},
          {"4_never", {{"command", "touch " + d + "/never"}}}}}}}};
  LoopbackServer server([&](const Recorded&) {
    return Canned{200, DescribeAnswer({{"AWS::CloudFormation::Init", init}})};
  });
  Ran r = Sh("MINICLOUD_CFN_LOG_DIR=" + d + "/log " + Bin("cfn-init") +
             " -v -s s -r Web --region us-east-1 -c full --url " + server.url());
  CHECK(r.exit_code == 1);
  CHECK(r.output ==
        "cfn-init: step run/cmds/commands/3_fail failed: exit status 7\n"
        "cfn-init: output: one\n"
        "cfn-init: output: two\n"
        "cfn-init: result: failed (exit 1)\n");
  CHECK(Slurp(d + "/etc/app.conf") == "port=8080\n");
  struct stat st;
  REQUIRE(::stat((d + "/etc/app.conf").c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0640);
  CHECK(std::filesystem::read_symlink(d + "/etc/link") == d + "/etc/app.conf");
  CHECK(Slurp(d + "/out.txt") == "hi\n");
  CHECK_FALSE(std::filesystem::exists(d + "/skipped"));
  CHECK_FALSE(std::filesystem::exists(d + "/never"));
  CHECK_THAT(Slurp(d + "/log/cfn-init.log"), Catch::Contains("3_fail failed"));
  CHECK_THAT(Slurp(d + "/log/cfn-init-cmd.log"), Catch::Contains("two"));

  // Success prints only the result line.
  init["cmds"]["commands"].erase("3_fail");
  Ran ok = Sh("MINICLOUD_CFN_LOG_DIR=" + d + "/log " + Bin("cfn-init") + " -s s -r Web -c full " +
              "--url " + server.url());
  CHECK(ok.exit_code == 0);
  CHECK(ok.output == "cfn-init: result: success\n");
  CHECK(std::filesystem::exists(d + "/never"));
}

TEST_CASE("cfn-hup --no-daemon runs the hook after the metadata changed", "[guest][bin]") {
  TempDir tmp;
  const std::string d = tmp.path;
  json metadata = {{"AWS::CloudFormation::Init", {{"config", {{"v", 1}}}}}};
  LoopbackServer server([&](const Recorded&) { return Canned{200, DescribeAnswer(metadata)}; });
  std::filesystem::create_directories(d + "/cfn/hooks.d");
  std::ofstream(d + "/cfn/cfn-hup.conf")
      << "[main]\nstack=s\nregion=us-east-1\nurl=" + server.url() + "\ninterval=1\n";
  std::ofstream(d + "/cfn/hooks.d/reload.conf")
      << "[reload]\ntriggers=post.update\npath=Resources.Web.Metadata.AWS::CloudFormation::Init\n"
         "action=echo \"$CFN_NEW_METADATA\" >> " +
             d + "/ran\nrunas=root\n";
  const std::string run = "MINICLOUD_CFN_LOG_DIR=" + d + "/log MINICLOUD_CFN_HUP_DATA_DIR=" + d +
                          "/data " + Bin("cfn-hup") + " --no-daemon -c " + d + "/cfn";
  REQUIRE(Sh(run).exit_code == 0);
  CHECK_FALSE(std::filesystem::exists(d + "/ran"));
  metadata["AWS::CloudFormation::Init"]["config"]["v"] = 2;
  REQUIRE(Sh(run).exit_code == 0);
  CHECK(json::parse(Slurp(d + "/ran")) == metadata["AWS::CloudFormation::Init"]);
  Ran bad = Sh("MINICLOUD_CFN_LOG_DIR=" + d + "/log " + Bin("cfn-hup") + " --no-daemon -c " + d +
               "/nope");
  CHECK(bad.exit_code == 1);
}

}  // namespace
}  // namespace minicloud::guest
