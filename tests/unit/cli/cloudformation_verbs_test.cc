// `minicloud cloudformation …`: argv -> the request the controller receives, the aws JSON shapes,
// the waiters (botocore's acceptors), and create-stack --wait's progress, verdict and exit code.
// The controller is FakeComputeApi with canned answers. Each test names the bug it catches.
#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "cli/render_cfn.h"
#include "cli/stack_verdict.h"
#include "cli/verb.h"
#include "minicloud/v1/cloudformation.pb.h"
#include "tests/unit/cli/fake_compute_api.h"

namespace minicloud::cli {
namespace {

using testing::CliHarness;
using testing::EqualsText;
using testing::TextOf;

std::string TempTemplate(const std::string& body) {
  const auto path = std::filesystem::temp_directory_path() /
                    ("cfn-cli-test-" + std::to_string(::getpid()) + ".yaml");
  std::ofstream(path) << body;
  return path.string();
}

struct ParseCase {
  std::vector<std::string> args;  // after "cloudformation"
  std::string operation;
  std::string request;
};

std::vector<ParseCase> ParseCases(const std::string& tpl) {
  return {
      // Catches: file:// not read (the path sent as the template).
      {{"create-stack", "--stack-name", "web", "--template-body", "file://" + tpl},
       "CreateStack",
       R"(stack_name: "web" template_body: "Resources: {}\n")"},
      // Catches: a second --parameters value dropped, or a list value not joined with commas.
      {{"create-stack", "--stack-name", "web", "--template-body", "{}", "--parameters",
        "ParameterKey=Size,ParameterValue=t3.micro", "ParameterKey=Azs,ParameterValue=a,b",
        "--on-failure", "DELETE", "--timeout-in-minutes", "5", "--tags", "Key=env,Value=dev",
        "--capabilities", "CAPABILITY_IAM"},
       "CreateStack",
       R"(stack_name: "web" template_body: "{}"
          parameters { key: "Size" value: "t3.micro" } parameters { key: "Azs" value: "a,b" }
          on_failure: "DELETE" timeout_in_minutes: 5 tags { key: "env" value: "dev" }
          capabilities: "CAPABILITY_IAM")"},
      // Catches: --disable-rollback not sent; JSON --parameters not accepted.
      {{"create-stack", "--stack-name", "web", "--template-body", "{}", "--disable-rollback",
        "--parameters", R"([{"ParameterKey":"K","ParameterValue":"v"}])"},
       "CreateStack",
       R"(stack_name: "web" template_body: "{}" disable_rollback: true
          parameters { key: "K" value: "v" })"},
      // Catches: UsePreviousValue=true sent as false.
      {{"update-stack", "--stack-name", "web", "--use-previous-template", "--parameters",
        "ParameterKey=K,UsePreviousValue=true"},
       "UpdateStack",
       R"(stack_name: "web" use_previous_template: true
          parameters { key: "K" use_previous_value: true })"},
      {{"delete-stack", "--stack-name", "web"}, "DeleteStack", R"(stack_name: "web")"},
      {{"describe-stacks"}, "DescribeStacks", ""},
      {{"describe-stacks", "--stack-name", "web"}, "DescribeStacks", R"(stack_name: "web")"},
      {{"describe-stack-events", "--stack-name", "web"},
       "DescribeStackEvents",
       R"(stack_name: "web")"},
      {{"describe-stack-resource", "--stack-name", "web", "--logical-resource-id", "Web"},
       "DescribeStackResource",
       R"(stack_name: "web" logical_resource_id: "Web")"},
      {{"describe-stack-resources", "--stack-name", "web"},
       "DescribeStackResources",
       R"(stack_name: "web")"},
      // Catches: --reason (minicloud's addition) not sent.
      {{"signal-resource", "--stack-name", "web", "--logical-resource-id", "Web", "--unique-id",
        "i-1", "--status", "FAILURE", "--reason", "no disk"},
       "SignalResource",
       R"(stack_name: "web" logical_resource_id: "Web" unique_id: "i-1" status: "FAILURE"
          reason: "no disk")"},
      {{"validate-template", "--template-body", "file://" + tpl},
       "ValidateTemplate",
       R"(template_body: "Resources: {}\n")"},
      {{"wait", "stack-create-complete", "--stack-name", "web"},
       "DescribeStacks",
       R"(stack_name: "web")"},
  };
}

TEST_CASE("cloudformation verbs: flags become the request", "[cli][cfn]") {
  const std::string tpl = TempTemplate("Resources: {}\n");
  for (const auto& c : ParseCases(tpl)) {
    DYNAMIC_SECTION(c.args[0] << " #" << c.operation) {
      CliHarness cli;
      cli.api.Answer<v1::DescribeStacksResponse>(
          "DescribeStacks", R"(stacks { stack_name: "web" stack_status: "CREATE_COMPLETE" })");
      std::vector<std::string> args = {"cloudformation"};
      args.insert(args.end(), c.args.begin(), c.args.end());
      const auto r = cli.Run(args);
      INFO(r.err);
      CHECK(r.exit_code == 0);
      REQUIRE(cli.api.sent().size() == 1);
      CHECK(cli.api.sent()[0].operation == c.operation);
      INFO("sent: " << TextOf(*cli.api.sent()[0].request));
      CHECK(EqualsText(*cli.api.sent()[0].request, c.request));
    }
  }
  std::remove(tpl.c_str());
}

// Catches: a verb dropped from RegisterCloudFormationVerbs, or the service word not routing.
TEST_CASE("cloudformation verbs: each is registered under the service word", "[cli][cfn]") {
  const std::string tpl = TempTemplate("Resources: {}\n");
  const auto cases = ParseCases(tpl);
  for (const std::string verb :
       {"create-stack", "update-stack", "delete-stack", "describe-stacks", "describe-stack-events",
        "describe-stack-resource", "describe-stack-resources", "signal-resource",
        "validate-template", "wait"}) {
    INFO(verb);
    CHECK(std::any_of(cases.begin(), cases.end(),
                      [&](const ParseCase& c) { return c.args[0] == verb; }));
    CliHarness cli;
    const auto r = cli.Run({"cloudformation", verb, "--help"});
    CHECK(r.exit_code == 0);
    CHECK(r.out.find("Usage:") != std::string::npos);
  }
  std::remove(tpl.c_str());
}

// Catches: an unknown verb after the service word sent anyway, or no suggestion; global options
// after a nested verb not reaching the app.
TEST_CASE("cloudformation verbs: usage errors and global options", "[cli][cfn]") {
  CliHarness cli;
  const auto r = cli.Run({"cloudformation", "describe-stackz"});
  CHECK(r.exit_code == kExitUsage);
  CHECK(r.err.find("Invalid choice: 'describe-stackz', maybe you meant:\n\n  * describe-stacks") !=
        std::string::npos);
  CHECK(cli.api.sent().empty());
  const auto bad = cli.Run({"cloudformation", "create-stack", "--stack-name", "x",
                            "--template-body", "{}", "--parameters", "ParameterValue=1"});
  CHECK(bad.exit_code == kExitUsage);
  CHECK(bad.err.find("ParameterKey") != std::string::npos);
  CHECK(cli.api.sent().empty());
  const auto on_failure = cli.Run({"cloudformation", "create-stack", "--stack-name", "x",
                                   "--template-body", "{}", "--on-failure", "EXPLODE"});
  CHECK(on_failure.exit_code == kExitUsage);

  CliHarness g;
  g.api.Answer<v1::DescribeStacksResponse>(
      "DescribeStacks", R"(stacks { stack_name: "web" stack_status: "CREATE_COMPLETE" })");
  const auto t = g.Run({"cloudformation", "describe-stacks", "--output", "text", "--query",
                        "Stacks[0].StackStatus", "--endpoint", "10.0.0.1:9"});
  CHECK(t.exit_code == 0);
  CHECK(t.globals.endpoint == "10.0.0.1:9");
  CHECK(t.out == "CREATE_COMPLETE\n");
}

// Catches: the aws shapes (key names, Metadata as a string, Tags always present) drifting.
TEST_CASE("cloudformation verbs: aws JSON shapes", "[cli][cfn]") {
  CliHarness cli;
  cli.api.Answer<v1::CreateStackResponse>(
      "CreateStack", R"(stack_id: "arn:aws:cloudformation:home-1:000000000000:stack/web/1")");
  const auto c =
      cli.Run({"cloudformation", "create-stack", "--stack-name", "web", "--template-body", "{}"});
  CHECK(c.out ==
        "{\n    \"StackId\": \"arn:aws:cloudformation:home-1:000000000000:stack/web/1\"\n}\n");

  v1::Stack s;
  s.set_stack_id("sid");
  s.set_stack_name("web");
  s.set_stack_status("ROLLBACK_COMPLETE");
  s.set_stack_status_reason("The following resource(s) failed to create: [Web].");
  s.mutable_creation_time()->set_seconds(1796000000);
  auto* p = s.add_parameters();
  p->set_key("Size");
  p->set_value("t3.micro");
  auto* o = s.add_outputs();
  o->set_key("Ip");
  o->set_value("172.31.0.4");
  const auto j = StackJson(s);
  CHECK(
      j.dump() ==
      R"({"CreationTime":"2026-11-30T00:53:20.000Z","DisableRollback":false,)"
      R"("DriftInformation":{"StackDriftStatus":"NOT_CHECKED"},"EnableTerminationProtection":false,)"
      R"("NotificationARNs":[],"Outputs":[{"OutputKey":"Ip","OutputValue":"172.31.0.4"}],)"
      R"("Parameters":[{"ParameterKey":"Size","ParameterValue":"t3.micro"}],)"
      R"("RollbackConfiguration":{},"StackId":"sid","StackName":"web",)"
      R"("StackStatus":"ROLLBACK_COMPLETE",)"
      R"("StackStatusReason":"The following resource(s) failed to create: [Web].","Tags":[]})");

  v1::StackResource r;
  r.set_logical_resource_id("Web");
  r.set_resource_type("AWS::EC2::Instance");
  r.set_metadata(R"({"AWS::CloudFormation::Init":{}})");
  CHECK(StackResourceDetailJson(r)["Metadata"] == R"({"AWS::CloudFormation::Init":{}})");
  CHECK(StackResourceDetailJson(r).contains("LastUpdatedTimestamp"));
  CHECK(!StackResourceJson(r).contains("Metadata"));
  CHECK(StackResourceJson(r).contains("Timestamp"));
}

// Catches: an acceptor out of botocore's order or the wrong matcher (pathAll vs pathAny).
TEST_CASE("stack waiters follow botocore's acceptors", "[cli][cfn]") {
  struct Row {
    const char* waiter;
    std::vector<std::string> statuses;
    const char* error;
    WaiterStep::State want;
  };
  const std::vector<Row> rows = {
      {"StackCreateComplete", {"CREATE_IN_PROGRESS"}, "", WaiterStep::kRetry},
      {"StackCreateComplete", {"CREATE_COMPLETE"}, "", WaiterStep::kSuccess},
      {"StackCreateComplete", {"ROLLBACK_IN_PROGRESS"}, "", WaiterStep::kRetry},
      {"StackCreateComplete", {"ROLLBACK_COMPLETE"}, "", WaiterStep::kFailure},
      {"StackCreateComplete", {"UPDATE_ROLLBACK_COMPLETE"}, "", WaiterStep::kSuccess},
      {"StackCreateComplete", {}, "ValidationError", WaiterStep::kFailure},
      {"StackCreateComplete", {}, "", WaiterStep::kRetry},
      {"StackUpdateComplete", {"UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"}, "", WaiterStep::kRetry},
      {"StackUpdateComplete", {"UPDATE_ROLLBACK_COMPLETE"}, "", WaiterStep::kFailure},
      {"StackUpdateComplete", {"UPDATE_COMPLETE"}, "", WaiterStep::kSuccess},
      {"StackDeleteComplete", {"DELETE_IN_PROGRESS"}, "", WaiterStep::kRetry},
      {"StackDeleteComplete", {}, "ValidationError", WaiterStep::kSuccess},
      {"StackDeleteComplete", {"DELETE_COMPLETE"}, "", WaiterStep::kSuccess},
      {"StackDeleteComplete", {"DELETE_FAILED"}, "", WaiterStep::kFailure},
  };
  for (const Row& row : rows) {
    INFO(row.waiter << " " << (row.statuses.empty() ? row.error : row.statuses[0]));
    CHECK(StackWaiterStep(row.waiter, row.statuses, row.error).state == row.want);
  }
  CHECK(
      StackWaiterStep("StackCreateComplete", {"ROLLBACK_COMPLETE"}, "").explanation ==
      R"(For expression "Stacks[].StackStatus" we matched expected path: "ROLLBACK_COMPLETE" at least once)");
}

// Catches: the waiter's failure line not the aws CLI's, or a failure exiting 0.
TEST_CASE("cloudformation wait: polls, then the aws CLI's failure line", "[cli][cfn]") {
  CliHarness cli;
  cli.api.Answer<v1::DescribeStacksResponse>("DescribeStacks",
                                             R"(stacks { stack_status: "CREATE_IN_PROGRESS" })");
  cli.api.Answer<v1::DescribeStacksResponse>("DescribeStacks",
                                             R"(stacks { stack_status: "ROLLBACK_COMPLETE" })");
  const auto r = cli.Run({"cloudformation", "wait", "stack-create-complete", "--stack-name", "w"});
  CHECK(r.exit_code == kExitWaiterFailed);
  CHECK(cli.sleeps == 1);
  CHECK(r.err ==
        "\nWaiter StackCreateComplete failed: Waiter encountered a terminal failure state: For "
        "expression \"Stacks[].StackStatus\" we matched expected path: \"ROLLBACK_COMPLETE\" at "
        "least once\n");

  CliHarness gone;
  gone.api.Fail("DescribeStacks", ServiceError("ValidationError", "DescribeStacks",
                                               "Stack with id w does not exist", ""));
  CHECK(gone.Run({"cloudformation", "wait", "stack-delete-complete", "--stack-name", "w"})
            .exit_code == 0);
}

// Catches: --cli-input-json not reaching a verb behind the service word, or a Parameters list in
// it not read as structures.
TEST_CASE("cloudformation verbs: --cli-input-json and the skeleton", "[cli][cfn]") {
  CliHarness cli;
  const auto r = cli.Run({"cloudformation", "create-stack", "--cli-input-json",
                          R"({"StackName": "web", "TemplateBody": "{}", "Parameters":
                              [{"ParameterKey": "K", "ParameterValue": "v"}]})"});
  INFO(r.err);
  CHECK(r.exit_code == 0);
  REQUIRE(cli.api.sent().size() == 1);
  CHECK(EqualsText(*cli.api.sent()[0].request,
                   R"(stack_name: "web" template_body: "{}" parameters { key: "K" value: "v" })"));
  const auto sk = cli.Run({"cloudformation", "create-stack", "--generate-cli-skeleton"});
  CHECK(nlohmann::json::parse(sk.out)["Parameters"][0].contains("ParameterKey"));
}

}  // namespace
}  // namespace minicloud::cli
