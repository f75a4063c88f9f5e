// UpdateStack through a dependency: a resource whose properties refer to a replaced resource is
// replaced too once the replacement is in; cleanup only after every new resource is in; a failed
// update rolls back through UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS. StackService over the
// real store (RocksDB in a temp dir) and the real services. Each test names the bugs it catches.
#include <catch2/catch.hpp>

#include "absl/strings/match.h"
#include "tests/testing/stack_fixture.h"

namespace minicloud::controller {
namespace {

using Fixture = testing::StackFixture;

// Every event of the stack (all pages), oldest first.
std::vector<v1::StackEvent> History(Fixture& f, const std::string& stack) {
  std::vector<v1::StackEvent> out;
  std::string token;
  do {
    v1::DescribeStackEventsRequest d;
    d.set_stack_name(stack);
    d.set_next_token(token);
    auto r = f.stacks->DescribeStackEvents(d, {});
    REQUIRE(r.ok());
    for (const auto& e : r->stack_events()) out.push_back(e);
    token = r->next_token();
  } while (!token.empty());
  std::reverse(out.begin(), out.end());
  return out;
}

// The index of the first event after `from` matching logical id, status and (when given)
// physical id; -1 when none.
int IndexOf(const std::vector<v1::StackEvent>& events, const std::string& logical,
            const std::string& status, const std::string& physical = "", int from = 0) {
  for (int i = from; i < static_cast<int>(events.size()); ++i) {
    const auto& e = events[i];
    if (e.logical_resource_id() == logical && e.resource_status() == status &&
        (physical.empty() || e.physical_resource_id() == physical)) {
      return i;
    }
  }
  return -1;
}

v1::UpdateStackRequest Update(const std::string& stack, std::map<std::string, std::string> set) {
  v1::UpdateStackRequest u;
  u.set_stack_name(stack);
  u.set_use_previous_template(true);
  for (const auto& k : {"ImageId", "KeySuffix", "InstanceType"}) {
    auto* p = u.add_parameters();
    p->set_key(k);
    if (set.count(k)) {
      p->set_value(set[k]);
    } else {
      p->set_use_previous_value(true);
    }
  }
  return u;
}

bool KeyExists(Fixture& f, const std::string& name) {
  std::lock_guard<std::mutex> lock(f.ctl.state->mu());
  return f.ctl.state->key_pairs().count(name) == 1;
}

std::string CreateKeyed(Fixture& f) {
  auto id = f.Create("kd", "keyed.yaml");
  REQUIRE(id.ok());
  f.stacks->Advance();
  f.BootAll();
  f.stacks->Advance();
  REQUIRE(f.Describe("kd").stack_status() == "CREATE_COMPLETE");
  return *id;
}

TEST_CASE("UpdateStack: a replaced key pair replaces the instance that names it") {
  // Bugs caught: the instance kept (its KeyName still the old key's, and the old key deleted
  // under it in cleanup) because its properties were compared before the key's replacement
  // existed; the instance replaced before the new key is in; cleanup (the old key, the old
  // instance) started before the new instance is in; the old key deleted before the old
  // instance that uses it.
  Fixture f;
  CreateKeyed(f);
  const std::string first = f.Resource("kd", "Web").physical_resource_id();
  REQUIRE(KeyExists(f, "kd-a"));
  REQUIRE(f.stacks->UpdateStack(Update("kd", {{"KeySuffix", "b"}}), {}).ok());
  f.stacks->Advance();
  CHECK(f.Resource("kd", "Key").physical_resource_id() == "kd-b");
  const std::string second = f.Resource("kd", "Web").physical_resource_id();
  REQUIRE(absl::StartsWith(second, "i-"));
  CHECK(second != first);
  CHECK(f.Instance(second).key_name() == "kd-b");
  CHECK(f.Describe("kd").stack_status() == "UPDATE_IN_PROGRESS");
  CHECK(KeyExists(f, "kd-a"));  // nothing old deleted while the new instance is pending
  CHECK(f.Instance(first).state() == v1::INSTANCE_STATE_CODE_RUNNING);
  f.BootAll();
  f.stacks->Advance();
  CHECK(f.Describe("kd").stack_status() == "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS");
  CHECK(KeyExists(f, "kd-a"));  // still used by the old instance, being terminated
  REQUIRE(f.ctl.Report(f.host, first, v1::OBSERVED_STATE_ABSENT).ok());
  f.stacks->Advance();
  CHECK(f.Describe("kd").stack_status() == "UPDATE_COMPLETE");
  CHECK(!KeyExists(f, "kd-a"));
  CHECK(KeyExists(f, "kd-b"));
  CHECK(f.Instance(first).state() == v1::INSTANCE_STATE_CODE_TERMINATED);
  CHECK(f.Resource("kd", "Web").physical_resource_id() == second);

  const auto h = History(f, "kd");
  const int cleanup = IndexOf(h, "kd", "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS");
  REQUIRE(cleanup > 0);
  CHECK(IndexOf(h, "Web", "UPDATE_COMPLETE", second) >= 0);
  CHECK(IndexOf(h, "Web", "UPDATE_COMPLETE", second) < cleanup);
  CHECK(IndexOf(h, "Web", "DELETE_IN_PROGRESS", first) > cleanup);
  CHECK(IndexOf(h, "Key", "DELETE_COMPLETE", "kd-a") > IndexOf(h, "Web", "DELETE_COMPLETE", first));
}

TEST_CASE("A failed update rolls back, then deletes what it made in the rollback's cleanup") {
  // Bugs caught: UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS skipped (what the update made
  // deleted during UPDATE_ROLLBACK_IN_PROGRESS, or never); the new key pair leaked; the old key
  // pair or the old instance deleted by the rollback; the stack left naming the new key.
  Fixture f;
  CreateKeyed(f);
  const std::string first = f.Resource("kd", "Web").physical_resource_id();
  REQUIRE(
      f.stacks
          ->UpdateStack(Update("kd", {{"KeySuffix", "b"}, {"InstanceType", "p4d.24xlarge"}}), {})
          .ok());
  f.stacks->Advance();
  f.stacks->Advance();
  CHECK(f.Describe("kd").stack_status() == "UPDATE_ROLLBACK_COMPLETE");
  CHECK(!KeyExists(f, "kd-b"));
  CHECK(KeyExists(f, "kd-a"));
  CHECK(f.Instance(first).state() == v1::INSTANCE_STATE_CODE_RUNNING);
  CHECK(f.Resource("kd", "Key").physical_resource_id() == "kd-a");
  CHECK(f.Resource("kd", "Web").physical_resource_id() == first);

  const auto h = History(f, "kd");
  const int rollback = IndexOf(h, "kd", "UPDATE_ROLLBACK_IN_PROGRESS");
  const int cleanup = IndexOf(h, "kd", "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS");
  const int done = IndexOf(h, "kd", "UPDATE_ROLLBACK_COMPLETE");
  REQUIRE(rollback > 0);
  CHECK(IndexOf(h, "Web", "UPDATE_FAILED") < rollback);
  CHECK(cleanup > rollback);
  CHECK(IndexOf(h, "Key", "DELETE_COMPLETE", "kd-b") > cleanup);
  CHECK(done > IndexOf(h, "Key", "DELETE_COMPLETE", "kd-b"));
  CHECK(IndexOf(h, "Key", "DELETE_IN_PROGRESS", "kd-b", rollback) > cleanup);
}

}  // namespace
}  // namespace minicloud::controller
