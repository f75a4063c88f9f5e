// The verbs that call the controller more than once: the waiters (poll until a state, with the
// harness's sleeps counted) and pagination (--page-size follows NextToken, --max-items stops).
// The controller's answers are canned in FakeComputeApi; expected texts are written out in full.
#include <catch2/catch.hpp>

#include "absl/strings/escaping.h"
#include "cli/output.h"
#include "cli/verb.h"
#include "common/boot_verdict.h"
#include "minicloud/v1/compute.pb.h"
#include "tests/unit/cli/fake_compute_api.h"

namespace minicloud::cli {
namespace {

using testing::CliHarness;

TEST_CASE("wait instance-running polls until running and fails fast on termination",
          "[cli][render]") {
  CliHarness cli;
  cli.api.Answer<v1::DescribeInstancesResponse>("DescribeInstances",
                                                R"(reservations { instances { instance_id: "i-1"
                                                         state { name: "pending" } } })");
  cli.api.Answer<v1::DescribeInstancesResponse>("DescribeInstances",
                                                R"(reservations { instances { instance_id: "i-1"
                                                         state { name: "running" } } })");
  const auto r = cli.Run({"wait", "instance-running", "--instance-ids", "i-1"});
  CHECK(r.exit_code == 0);
  CHECK(cli.api.sent().size() == 2);
  CHECK(cli.sleeps == 1);
  CHECK(r.out.empty());

  CliHarness gone;
  gone.api.Answer<v1::DescribeInstancesResponse>("DescribeInstances", R"(
      reservations { instances { instance_id: "i-1" state { name: "terminated" }
                     state_reason { code: "Server.InternalError" message: "no host" } } })");
  const auto g = gone.Run({"wait", "instance-running", "--instance-ids", "i-1"});
  CHECK(g.exit_code == kExitWaiterFailed);
  CHECK(g.err == "\nWaiter InstanceRunning failed: i-1 is terminated (no host)\n");

  CliHarness stopped;
  stopped.api.Answer<v1::DescribeInstancesResponse>("DescribeInstances",
                                                    R"(reservations { instances { instance_id: "i-1"
                                                         state { name: "stopped" } } })");
  CHECK(stopped.Run({"wait", "instance-stopped", "--instance-ids", "i-1"}).exit_code == 0);
  CHECK(stopped.sleeps == 0);
}

// Would catch: run-instances --wait polling on (or exiting 0) after a launch ended, or the
// launch's StateReason (here: an EBS volume whose snapshot is gone) left out of the verdict.
TEST_CASE("run-instances --wait reports the reason of a launch that ended", "[cli][render]") {
  CliHarness cli;
  cli.api.Answer<v1::Reservation>("RunInstances", R"(instances { instance_id: "i-1"
                                                       state { name: "pending" } })");
  cli.api.Answer<v1::DescribeInstancesResponse>("DescribeInstances",
                                                R"(reservations { instances { instance_id: "i-1"
                                                         state { name: "pending" } } })");
  cli.api.Answer<v1::DescribeInstancesResponse>("DescribeInstances", R"(
      reservations { instances { instance_id: "i-1" state { name: "shutting-down" }
        state_reason { code: "Client.InvalidSnapshot.NotFound"
          message: "Client.InvalidSnapshot.NotFound: The specified snapshot was not found: volume vol-1 (/dev/sdf) from snap-1 cannot be created: gone" } } })");
  const auto r = cli.Run({"run-instances", "--image-id", "ami-1", "--wait"});
  CHECK(r.exit_code == kExitWaiterFailed);
  CHECK(r.out ==
        "i-1\nverdict: instance is shutting-down: Client.InvalidSnapshot.NotFound: The specified "
        "snapshot was not found: volume vol-1 (/dev/sdf) from snap-1 cannot be created: gone\n");
  CHECK(cli.sleeps == 1);
}

constexpr char kConsole[] =
    "[   46.9] cloud-init[331]: Cloud-init v. 22.4.2 running 'init-local' at Mon, 23 Nov 2026 "
    "15:35:16 +0000. Up 46.32 seconds.\n"
    "[  146.7] cloud-init[495]: Cloud-init v. 22.4.2 running 'modules:final' at Mon, 23 Nov 2026 "
    "15:36:56 +0000. Up 145.61 seconds.\n"
    "[  148.8] cloud-init[495]: hello from user data\n"
    "[  153.6] cloud-init[495]: Cloud-init v. 22.4.2 finished at Mon, 23 Nov 2026 15:37:04 "
    "+0000. Datasource DataSourceEc2Local.  Up 153.43 seconds\n";

TEST_CASE("wait user-data-finished prints the verdict, JSON only when asked for by name",
          "[cli][render]") {
  auto answer = [](CliHarness& cli) {
    cli.api.Answer<v1::DescribeInstanceAttributeResponse>(
        "DescribeInstanceAttribute", R"(instance_id: "i-1" has_user_data: true user_data: "x")");
    cli.api.Answer<v1::DescribeInstancesResponse>("DescribeInstances",
                                                  R"(reservations { instances { instance_id: "i-1"
                                                           state { name: "running" } } })");
    v1::GetConsoleOutputResponse console;
    console.set_output(kConsole);
    cli.api.Answer("GetConsoleOutput", console);
  };
  const BootVerdict verdict = ParseBootConsole(kConsole);
  REQUIRE(verdict.cloud_init_finished);

  CliHarness text;  // the global default output is json, but a verdict is for people
  answer(text);
  const auto t = text.Run({"wait", "user-data-finished", "--instance-ids", "i-1"});
  CHECK(t.exit_code == 0);
  CHECK(t.out == "i-1\n" + FormatBootVerdict(verdict, true));
  CHECK(t.err.find("cloud-init finished") != std::string::npos);

  CliHarness json;
  answer(json);
  const auto j =
      json.Run({"wait", "user-data-finished", "--instance-ids", "i-1", "--output", "json"});
  CHECK(j.exit_code == 0);
  nlohmann::json want = BootVerdictJson(verdict, true);
  want["InstanceId"] = "i-1";
  CHECK(j.out == nlohmann::json{{"Verdicts", {want}}}.dump(4) + "\n");
}

// Would catch: --page-size not following NextToken (items of later pages lost), or following it
// with --max-items (more than one page printed, NextToken dropped).
TEST_CASE("describe-tags pages: --page-size follows NextToken, --max-items stops",
          "[cli][render]") {
  {
    CliHarness cli;
    cli.api.Answer<v1::DescribeTagsResponse>(
        "DescribeTags",
        R"(tags { resource_id: "i-1" resource_type: "instance" key: "a" value: "1" }
           next_token: "t1")");
    cli.api.Answer<v1::DescribeTagsResponse>(
        "DescribeTags",
        R"(tags { resource_id: "pg-2" resource_type: "placement-group" key: "b" })");
    const auto r = cli.Run({"describe-tags", "--page-size", "5", "--output", "table"});
    INFO(r.err);
    CHECK(r.exit_code == 0);
    REQUIRE(cli.api.sent().size() == 2);
    CHECK(testing::TextOf(*cli.api.sent()[1].request) == "max_results: 5\nnext_token: \"t1\"\n");
    CHECK(r.out.find("||  a  |  i-1         |  instance         |  1     ||\n") !=
          std::string::npos);
    CHECK(r.out.find("||  b  |  pg-2        |  placement-group  |        ||\n") !=
          std::string::npos);
  }
  {
    // --max-items 2 stops inside the second page: the token resumes there, one item skipped.
    CliHarness cli;
    cli.api.Answer<v1::DescribeTagsResponse>(
        "DescribeTags",
        R"(tags { resource_id: "i-1" resource_type: "instance" key: "a" } next_token: "t1")");
    cli.api.Answer<v1::DescribeTagsResponse>(
        "DescribeTags", R"(tags { resource_id: "i-2" resource_type: "instance" key: "b" }
                           tags { resource_id: "i-3" resource_type: "instance" key: "c" })");
    const auto r = cli.Run({"describe-tags", "--max-items", "2"});
    INFO(r.err);
    CHECK(r.exit_code == 0);
    const auto doc = nlohmann::json::parse(r.out);
    REQUIRE(doc["Tags"].size() == 2);
    CHECK(doc["Tags"][1]["ResourceId"] == "i-2");
    std::string token;
    REQUIRE(absl::Base64Unescape(doc["NextToken"].get<std::string>(), &token));
    CHECK(nlohmann::json::parse(token) ==
          nlohmann::json{{"NextToken", "t1"}, {"boto_truncate_amount", 1}});
    const auto next =
        cli.Run({"describe-tags", "--starting-token", doc["NextToken"].get<std::string>()});
    CHECK(testing::TextOf(*cli.api.sent().back().request) == "next_token: \"t1\"\n");
    const auto rest = nlohmann::json::parse(next.out);
    REQUIRE(rest["Tags"].size() == 1);
    CHECK(rest["Tags"][0]["ResourceId"] == "i-3");
    CHECK(!rest.contains("NextToken"));
  }
}

// Would catch: a waiter done on an empty status list, or done while one status initializes.
TEST_CASE("wait instance-status-ok polls until every status is ok", "[cli][render]") {
  CliHarness cli;
  cli.api.Answer<v1::DescribeInstanceStatusResponse>("DescribeInstanceStatus", "");
  cli.api.Answer<v1::DescribeInstanceStatusResponse>(
      "DescribeInstanceStatus",
      R"(instance_statuses { instance_id: "i-1" instance_status { status: "ok" } }
         instance_statuses { instance_id: "i-2" instance_status { status: "initializing" } })");
  cli.api.Answer<v1::DescribeInstanceStatusResponse>(
      "DescribeInstanceStatus",
      R"(instance_statuses { instance_id: "i-1" instance_status { status: "ok" } }
         instance_statuses { instance_id: "i-2" instance_status { status: "ok" } })");
  const auto r = cli.Run({"wait", "instance-status-ok", "--instance-ids", "i-1", "i-2"});
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(cli.api.sent().size() == 3);
  CHECK(cli.sleeps == 2);
}

}  // namespace
}  // namespace minicloud::cli
