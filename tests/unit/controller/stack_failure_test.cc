// StackService when things go wrong or change: OnFailure DELETE, DeleteStack while creating,
// TimeoutInMinutes, an update that fails and rolls back, resources added and removed by an
// update, a wait condition signaled after its timeout. Each test names the bugs it catches.
#include <catch2/catch.hpp>

#include "absl/strings/match.h"
#include "common/ec2_error.h"
#include "tests/testing/stack_fixture.h"

namespace minicloud::controller {
namespace {

using testing::ReadTemplate;
using Fixture = testing::StackFixture;

v1::UpdateStackRequest Update(const std::string& stack, const std::string& file) {
  v1::UpdateStackRequest u;
  u.set_stack_name(stack);
  u.set_template_body(ReadTemplate(file));
  return u;
}

TEST_CASE("OnFailure DELETE: a failed stack deletes itself and frees its name") {
  // Bugs caught: OnFailure ignored (ROLLBACK_COMPLETE kept); the name still taken afterwards.
  Fixture f;
  auto id = f.Create("gone", "badtype.yaml", {}, "DELETE");
  REQUIRE(id.ok());
  f.stacks->Advance();
  CHECK(f.Describe(*id).stack_status() == "DELETE_COMPLETE");
  CHECK(f.HasEvent(*id, "Web CREATE_FAILED Invalid value 'p4d.24xlarge' for InstanceType."));
  CHECK(f.HasEvent(*id,
                   "gone DELETE_IN_PROGRESS The following resource(s) failed to create: "
                   "[Web]. Delete requested by user."));
  CHECK(f.Create("gone", "keys.yaml").ok());
}

TEST_CASE("DeleteStack while creating: the pending instance is terminated, nothing leaks") {
  // Bugs caught: DeleteStack refused during CREATE_IN_PROGRESS; the pending instance left
  // running; the key pair deleted before the instance; DeleteStack of an unknown stack failing.
  Fixture f;
  REQUIRE(f.Create("early", "web.yaml").ok());
  f.stacks->Advance();
  const std::string inst = f.Resource("early", "Web").physical_resource_id();
  v1::DeleteStackRequest del;
  del.set_stack_name("early");
  REQUIRE(f.stacks->DeleteStack(del, {}).ok());
  const std::string id = f.Describe("early").stack_id();
  f.stacks->Advance();
  CHECK(f.Resource(id, "Key").resource_status() == "CREATE_COMPLETE");
  CHECK(f.Resource(id, "Web").resource_status() == "DELETE_IN_PROGRESS");
  REQUIRE(f.ctl.Report(f.host, inst, v1::OBSERVED_STATE_ABSENT).ok());
  f.stacks->Advance();
  CHECK(f.Describe(id).stack_status() == "DELETE_COMPLETE");
  CHECK(f.Instance(inst).state() == v1::INSTANCE_STATE_CODE_TERMINATED);
  {
    std::lock_guard<std::mutex> lock(f.ctl.state->mu());
    CHECK(f.ctl.state->key_pairs().empty());
  }
  del.set_stack_name("never-was");
  CHECK(f.stacks->DeleteStack(del, {}).ok());
}

TEST_CASE("TimeoutInMinutes cancels what is in progress and rolls back") {
  // Bugs caught: the stack timeout ignored while a resource waits for its (longer) signal
  // timeout; the cancelled resource's reason; the stack's reason.
  Fixture f;
  v1::CreateStackRequest req;
  req.set_stack_name("late");
  req.set_template_body(ReadTemplate("signal.yaml"));
  auto* p = req.add_parameters();
  p->set_key("ImageId");
  p->set_value(f.image);
  req.set_timeout_in_minutes(3);
  REQUIRE(f.stacks->CreateStack(req, {}).ok());
  f.stacks->Advance();
  f.BootAll();
  f.ctl.clock.Advance(absl::Minutes(2));
  f.stacks->Advance();
  CHECK(f.Describe("late").stack_status() == "CREATE_IN_PROGRESS");
  f.ctl.clock.Advance(absl::Minutes(1));
  f.stacks->Advance();
  CHECK(f.HasEvent("late", "Web CREATE_FAILED Resource creation cancelled"));
  CHECK(f.Describe("late").stack_status_reason() ==
        "Stack creation time exceeded the specified timeout. Rollback requested by user.");
  CHECK(f.Describe("late").stack_status() == "ROLLBACK_IN_PROGRESS");
}

TEST_CASE("A failed update rolls back to the old instance and template") {
  // Bugs caught: the stack left on the failed replacement; UPDATE_ROLLBACK_COMPLETE never
  // reached; the removed key pair deleted although the update failed; the old template not
  // restored (the same update then says "No updates").
  Fixture f;
  REQUIRE(f.Create("roll", "web.yaml").ok());
  f.stacks->Advance();
  f.BootAll();
  f.stacks->Advance();
  REQUIRE(f.Describe("roll").stack_status() == "CREATE_COMPLETE");
  const std::string first = f.Resource("roll", "Web").physical_resource_id();
  v1::UpdateStackRequest u = Update("roll", "badtype.yaml");
  auto* p = u.add_parameters();
  p->set_key("ImageId");
  p->set_use_previous_value(true);
  REQUIRE(f.stacks->UpdateStack(u, {}).ok());
  f.stacks->Advance();
  CHECK(f.HasEvent("roll", "Web UPDATE_FAILED Invalid value 'p4d.24xlarge'"));
  CHECK(f.Describe("roll").stack_status() == "UPDATE_ROLLBACK_COMPLETE");
  CHECK(f.Resource("roll", "Web").physical_resource_id() == first);
  CHECK(f.Resource("roll", "Key").resource_status() == "CREATE_COMPLETE");
  CHECK(f.Instance(first).state() == v1::INSTANCE_STATE_CODE_RUNNING);
  {
    std::lock_guard<std::mutex> lock(f.ctl.state->mu());
    CHECK(f.ctl.state->key_pairs().count("roll-key") == 1);
  }
  v1::UpdateStackRequest same;
  same.set_stack_name("roll");
  same.set_use_previous_template(true);
  auto* keep = same.add_parameters();
  keep->set_key("ImageId");
  keep->set_use_previous_value(true);
  CHECK(f.stacks->UpdateStack(same, {}).status().message() == "No updates are to be performed.");
}

TEST_CASE("UpdateStack adds and removes resources, cleanup deletes the removed ones") {
  // Bugs caught: the added key pair not made; the removed one kept (leaked) or deleted before
  // UPDATE_COMPLETE_CLEANUP_IN_PROGRESS; the removed resource still described.
  Fixture f;
  REQUIRE(f.Create("k", "keys.yaml").ok());
  f.stacks->Advance();
  REQUIRE(f.Describe("k").stack_status() == "CREATE_COMPLETE");
  REQUIRE(f.stacks->UpdateStack(Update("k", "keys2.yaml"), {}).ok());
  f.stacks->Advance();
  CHECK(f.Describe("k").stack_status() == "UPDATE_COMPLETE");
  CHECK(f.HasEvent("k", "KeyA DELETE_COMPLETE"));
  CHECK(f.HasEvent("k", "k UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"));
  CHECK(f.Resource("k", "KeyC").resource_status() == "CREATE_COMPLETE");
  v1::DescribeStackResourceRequest d;
  d.set_stack_name("k");
  d.set_logical_resource_id("KeyA");
  CHECK(Ec2CodeOf(f.stacks->DescribeStackResource(d, {}).status()) == "ValidationError");
  std::lock_guard<std::mutex> lock(f.ctl.state->mu());
  CHECK(f.ctl.state->key_pairs().count("k-a") == 0);
  CHECK(f.ctl.state->key_pairs().count("k-b") == 1);
  CHECK(f.ctl.state->key_pairs().count("k-c") == 1);
}

TEST_CASE("A wait condition times out, a later signal to its handle is refused") {
  // Bugs caught: the WaitCondition's Timeout ignored; CloudFormation's wording; a signal after
  // the timeout accepted.
  Fixture f;
  REQUIRE(f.Create("wt", "wait.yaml", {}, "DO_NOTHING").ok());
  f.stacks->Advance();
  f.BootAll();
  f.stacks->Advance();
  const std::string url = f.Resource("wt", "Handle").physical_resource_id();
  f.ctl.clock.Advance(absl::Seconds(601));
  f.stacks->Advance();
  CHECK(f.HasEvent("wt",
                   "Wait CREATE_FAILED WaitCondition timed out. Received 0 conditions "
                   "when expecting 1"));
  CHECK(f.Describe("wt").stack_status() == "CREATE_FAILED");
  auto late =
      f.stacks->SignalWaitCondition({url.substr(url.rfind('/') + 1), "SUCCESS", "", "i-1", ""});
  CHECK(Ec2CodeOf(late) == "ValidationError");
}

TEST_CASE("WaitConditionHandle tokens are random by default") {
  // Bugs caught: a token from the seeded id generator or a constant (guessable from another
  // stack's URL); a short token.
  Fixture f;
  f.real_tokens = true;
  f.Build();
  REQUIRE(f.Create("t1", "wait.yaml").ok());
  REQUIRE(f.Create("t2", "wait.yaml").ok());
  f.stacks->Advance();
  const std::string a = f.Resource("t1", "Handle").physical_resource_id();
  const std::string b = f.Resource("t2", "Handle").physical_resource_id();
  const std::string ta = a.substr(a.rfind('/') + 1), tb = b.substr(b.rfind('/') + 1);
  CHECK(ta.size() == 64);
  CHECK(ta.find_first_not_of("0123456789abcdef") == std::string::npos);
  CHECK(ta != tb);
  CHECK(ta.find(f.ctl.ids.Next("x").substr(2)) == std::string::npos);
}

}  // namespace
}  // namespace minicloud::controller
