// create-stack --wait and update-stack --wait against canned answers: the progress lines (new
// events only, oldest first), the verdict (signals, cfn-init's failed step and its output, read
// from the console before the rollback removed the instance) and the exit codes 0 / 1 / 255.
#include <catch2/catch.hpp>

#include "cli/stack_verdict.h"
#include "cli/verb.h"
#include "minicloud/v1/cloudformation.pb.h"
#include "tests/unit/cli/fake_compute_api.h"

namespace minicloud::cli {
namespace {

using testing::CliHarness;

constexpr char kStackId[] = "arn:aws:cloudformation:home-1:000000000000:stack/web/1";

// What cfn-init prints on the console when its second command fails (cfn-seams' format).
constexpr char kFailedConsole[] =
    "[  70.0] cloud-init[495]: Reading package lists...\n"
    "[  80.0] cloud-init[495]: cfn-init: step default/config/commands/02_fail failed: exit status "
    "3\n"
    "[  80.0] cloud-init[495]: cfn-init: output: checking the disk\n"
    "[  80.0] cloud-init[495]: cfn-init: output: no disk\n"
    "[  80.1] cloud-init[495]: cfn-init: result: failed (exit 1)\n";

v1::StackEvent Event(const std::string& id, int64_t t, const std::string& logical,
                     const std::string& type, const std::string& physical,
                     const std::string& status, const std::string& reason = "") {
  v1::StackEvent e;
  e.set_event_id(id);
  e.set_stack_id(kStackId);
  e.set_stack_name("web");
  e.timestamp();
  e.mutable_timestamp()->set_seconds(t);
  e.set_logical_resource_id(logical);
  e.set_resource_type(type);
  e.set_physical_resource_id(physical);
  e.set_resource_status(status);
  e.set_resource_status_reason(reason);
  return e;
}

// Newest first, as DescribeStackEvents lists them.
v1::DescribeStackEventsResponse Events(std::vector<v1::StackEvent> oldest_first) {
  v1::DescribeStackEventsResponse r;
  for (auto it = oldest_first.rbegin(); it != oldest_first.rend(); ++it) {
    *r.add_stack_events() = *it;
  }
  return r;
}

v1::DescribeStacksResponse Stack(const std::string& status, const std::string& reason = "") {
  v1::DescribeStacksResponse r;
  v1::Stack* s = r.add_stacks();
  s->set_stack_id(kStackId);
  s->set_stack_name("web");
  s->set_stack_status(status);
  s->set_stack_status_reason(reason);
  return r;
}

const v1::StackEvent e1 = Event("e1", 1796000000, "web", "AWS::CloudFormation::Stack", kStackId,
                                "CREATE_IN_PROGRESS", "User Initiated");
const v1::StackEvent e2 =
    Event("e2", 1796000001, "Web", "AWS::EC2::Instance", "i-1", "CREATE_IN_PROGRESS");
// The engine names a FAILURE signal twice: the signal's own event, then the failure.
const v1::StackEvent e3s =
    Event("e3s", 1796000089, "Web", "AWS::EC2::Instance", "i-1", "CREATE_IN_PROGRESS",
          "Received FAILURE signal with UniqueId i-1 (cfn-init failed)");
const v1::StackEvent e3 =
    Event("e3", 1796000090, "Web", "AWS::EC2::Instance", "i-1", "CREATE_FAILED",
          "Received FAILURE signal with UniqueId i-1 (cfn-init failed)");
const v1::StackEvent e4 =
    Event("e4", 1796000091, "web", "AWS::CloudFormation::Stack", kStackId, "ROLLBACK_IN_PROGRESS",
          "The following resource(s) failed to "
          "create: [Web].");
const v1::StackEvent e5 =
    Event("e5", 1796000095, "Web", "AWS::EC2::Instance", "i-1", "DELETE_COMPLETE");
const v1::StackEvent e6 =
    Event("e6", 1796000096, "web", "AWS::CloudFormation::Stack", kStackId, "ROLLBACK_COMPLETE");

void AnswerFailedCreate(CliHarness& cli) {
  v1::CreateStackResponse created;
  created.set_stack_id(kStackId);
  cli.api.Answer("CreateStack", created);
  cli.api.Answer("DescribeStackEvents", Events({e1, e2}));
  cli.api.Answer("DescribeStackEvents", Events({e1, e2, e3s, e3, e4, e5, e6}));
  cli.api.Answer("DescribeStacks", Stack("CREATE_IN_PROGRESS"));
  cli.api.Answer("DescribeStacks",
                 Stack("ROLLBACK_COMPLETE", "The following resource(s) failed to create: [Web]."));
  v1::GetConsoleOutputResponse console;
  console.set_instance_id("i-1");
  console.set_output(kFailedConsole);
  cli.api.Answer("GetConsoleOutput", console);
  // Once the instance is gone its console can no longer be read.
  cli.api.Fail("GetConsoleOutput", ServiceError("InvalidInstanceID.NotFound", "GetConsoleOutput",
                                                "The instance ID 'i-1' does not exist", ""));
}

// Catches: exit 0 on ROLLBACK_COMPLETE; the console read after the rollback (and lost); an
// event printed twice or out of order; the failing command's output left out of the verdict; one
// signal shown twice because two events name it.
TEST_CASE("create-stack --wait: a failed cfn-init command gives the verdict and exit 1",
          "[cli][cfn]") {
  CliHarness cli;
  AnswerFailedCreate(cli);
  const auto r = cli.Run(
      {"cloudformation", "create-stack", "--stack-name", "web", "--template-body", "{}", "--wait"});
  CHECK(r.exit_code == 1);
  CHECK(r.out ==
        "stack web: ROLLBACK_COMPLETE (The following resource(s) failed to create: [Web].)\n"
        "Web (AWS::EC2::Instance, i-1): DELETE_COMPLETE\n"
        "  signal: Received FAILURE signal with UniqueId i-1 (cfn-init failed)\n"
        "  cfn-init step default/config/commands/02_fail failed: exit status 3\n"
        "    | checking the disk\n"
        "    | no disk\n"
        "  cfn-init: failed (exit 1)\n"
        "verdict: failed\n");
  // Each event once, oldest first, one line each.
  const std::vector<std::string> order = {
      "User Initiated",  "Web  AWS::EC2::Instance  CREATE_IN_PROGRESS",
      "CREATE_FAILED",   "ROLLBACK_IN_PROGRESS",
      "DELETE_COMPLETE", "ROLLBACK_COMPLETE"};
  size_t at = 0;
  for (const auto& s : order) {
    INFO(s << "\n" << r.err);
    const size_t found = r.err.find(s, at);
    REQUIRE(found != std::string::npos);
    at = found;
  }
  CHECK(r.err.find("CREATE_FAILED", r.err.find("CREATE_FAILED") + 1) == std::string::npos);
  CHECK(cli.sleeps == 1);
}

// Catches: the JSON verdict missing the failed step (programs read it with --output json).
TEST_CASE("create-stack --wait --output json: the verdict as JSON", "[cli][cfn]") {
  CliHarness cli;
  AnswerFailedCreate(cli);
  const auto r = cli.Run({"cloudformation", "create-stack", "--stack-name", "web",
                          "--template-body", "{}", "--wait", "--output", "json"});
  CHECK(r.exit_code == 1);
  const auto j = nlohmann::json::parse(r.out);
  CHECK(j["StackStatus"] == "ROLLBACK_COMPLETE");
  CHECK(j["Verdict"] == "failed");
  REQUIRE(j["Instances"].size() == 1);
  CHECK(j["Instances"][0]["CfnInit"]["FailedSteps"][0]["Key"] == "02_fail");
  CHECK(j["Instances"][0]["CfnInit"]["FailedSteps"][0]["Output"][1] == "no disk");
  CHECK(j["Instances"][0]["CfnInit"]["ExitCode"] == 1);
}

// Catches: success not exiting 0; a stack that never settles waited for forever (no 255).
TEST_CASE("create-stack --wait: CREATE_COMPLETE exits 0, a timeout 255", "[cli][cfn]") {
  CliHarness ok;
  ok.api.Answer(
      "DescribeStackEvents",
      Events({e1, e2,
              Event("s", 1796000080, "Web", "AWS::EC2::Instance", "i-1", "CREATE_IN_PROGRESS",
                    "Received SUCCESS signal with UniqueId i-1"),
              Event("c", 1796000081, "Web", "AWS::EC2::Instance", "i-1", "CREATE_COMPLETE"),
              Event("d", 1796000082, "web", "AWS::CloudFormation::Stack", kStackId,
                    "CREATE_COMPLETE")}));
  ok.api.Answer("DescribeStacks", Stack("CREATE_COMPLETE"));
  v1::GetConsoleOutputResponse console;
  console.set_output("[ 80.1] cloud-init[495]: cfn-init: result: success\n");
  ok.api.Answer("GetConsoleOutput", console);
  const auto r = ok.Run(
      {"cloudformation", "create-stack", "--stack-name", "web", "--template-body", "{}", "--wait"});
  CHECK(r.exit_code == 0);
  CHECK(r.out ==
        "stack web: CREATE_COMPLETE\n"
        "Web (AWS::EC2::Instance, i-1): CREATE_COMPLETE\n"
        "  signal: Received SUCCESS signal with UniqueId i-1\n"
        "  cfn-init: succeeded\n"
        "verdict: succeeded\n");

  CliHarness slow;
  slow.api.Answer("DescribeStackEvents", Events({e1, e2}));
  slow.api.Answer("DescribeStacks", Stack("CREATE_IN_PROGRESS"));
  const auto t = slow.Run({"cloudformation", "create-stack", "--stack-name", "web",
                           "--template-body", "{}", "--wait", "--wait-timeout", "0"});
  CHECK(t.exit_code == kExitWaiterFailed);
  CHECK(t.err.find("timed out after") != std::string::npos);
  CHECK(t.out.find("stack web: CREATE_IN_PROGRESS") == 0);
  CHECK(t.out.find("console: ") == std::string::npos);  // the console was empty, not unreadable
}

// Catches: update-stack --wait replaying the creation's events, or judging UPDATE_COMPLETE a
// failure.
TEST_CASE("update-stack --wait shows only the update's events", "[cli][cfn]") {
  CliHarness cli;
  cli.api.Answer("DescribeStackEvents", Events({e1, e2}));  // before the update
  const auto u1 = Event("u1", 1796000200, "web", "AWS::CloudFormation::Stack", kStackId,
                        "UPDATE_IN_PROGRESS", "User Initiated");
  const auto u2 =
      Event("u2", 1796000210, "web", "AWS::CloudFormation::Stack", kStackId, "UPDATE_COMPLETE");
  cli.api.Answer("DescribeStackEvents", Events({e1, e2, u1, u2}));
  cli.api.Answer("DescribeStacks", Stack("UPDATE_COMPLETE"));
  const auto r = cli.Run({"cloudformation", "update-stack", "--stack-name", "web",
                          "--use-previous-template", "--wait"});
  CHECK(r.exit_code == 0);
  CHECK(r.err.find("UPDATE_IN_PROGRESS") != std::string::npos);
  CHECK(r.err.find("  CREATE_IN_PROGRESS") == std::string::npos);
  CHECK(r.out.find("verdict: succeeded") != std::string::npos);
  CHECK(r.out.find("signal: none received") == std::string::npos);  // an update waits for none
}

// Catches: delete-stack --wait following the name (gone once deleted) instead of the stack id,
// or a DELETE_FAILED taken for success.
TEST_CASE("delete-stack --wait follows the stack id to DELETE_COMPLETE", "[cli][cfn]") {
  CliHarness cli;
  cli.api.Answer("DescribeStacks", Stack("CREATE_COMPLETE"));  // the id, before deleting
  cli.api.Answer("DescribeStacks", Stack("DELETE_IN_PROGRESS"));
  cli.api.Answer("DescribeStacks", Stack("DELETE_COMPLETE"));
  cli.api.Answer("DescribeStackEvents",
                 Events({Event("x", 1796000300, "web", "AWS::CloudFormation::Stack", kStackId,
                               "DELETE_IN_PROGRESS", "User Initiated")}));
  const auto r = cli.Run({"cloudformation", "delete-stack", "--stack-name", "web", "--wait"});
  CHECK(r.exit_code == 0);
  bool deleted = false;
  for (const auto& sent : cli.api.sent()) {
    if (sent.operation == "DeleteStack") {
      deleted = true;
      CHECK(testing::EqualsText(*sent.request, R"(stack_name: "web")"));
    } else if (deleted && sent.operation == "DescribeStacks") {
      CHECK(testing::EqualsText(*sent.request, std::string("stack_name: \"") + kStackId + "\""));
    }
  }
  CHECK(deleted);

  CliHarness failed;
  failed.api.Answer("DescribeStacks", Stack("DELETE_FAILED"));
  const auto f = failed.Run({"cloudformation", "delete-stack", "--stack-name", "web", "--wait"});
  CHECK(f.exit_code == kExitWaiterFailed);
  CHECK(f.err.find("Waiter StackDeleteComplete failed") != std::string::npos);
}

// Catches: a timeout without any signal shown as a signal received (its reason names signals).
TEST_CASE("stack verdict: an instance that never signalled", "[cli][cfn]") {
  v1::Stack s;
  s.set_stack_name("web");
  s.set_stack_status("ROLLBACK_COMPLETE");
  const auto v = BuildStackVerdict(
      s,
      {e2, Event("t", 1796000100, "Web", "AWS::EC2::Instance", "i-1", "CREATE_FAILED",
                 "Failed to receive 1 resource signal(s) within the specified duration")},
      {{"i-1", "no cfn-init here\n"}}, false);
  CHECK(FormatStackVerdict(v) ==
        "stack web: ROLLBACK_COMPLETE\n"
        "Web (AWS::EC2::Instance, i-1): CREATE_FAILED\n"
        "  CREATE_FAILED: Failed to receive 1 resource signal(s) within the specified duration\n"
        "  signal: none received\n"
        "  cfn-init: no report on the console\n"
        "verdict: failed\n");
}

}  // namespace
}  // namespace minicloud::cli
