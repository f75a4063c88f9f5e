// Stack events in their own table, paging of DescribeStacks and DescribeStackEvents, the
// migration of events embedded in older stack records, and the 90-day purge of deleted stacks:
// StackService over the real store (RocksDB in a temp dir). Each test names the bugs it catches.
#include <catch2/catch.hpp>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/ec2_error.h"
#include "controller/service/record_migration.h"
#include "tests/testing/stack_fixture.h"

namespace minicloud::controller {
namespace {

using Fixture = testing::StackFixture;

// `n` WaitConditionHandles (the shape of stack_templates/wait.yaml's handle, which passes
// cfn-lint): each makes three events, and needs no instance.
std::string Handles(int n) {
  std::string t = "AWSTemplateFormatVersion: \"2010-09-09\"\nResources:\n";
  for (int i = 0; i < n; ++i) {
    absl::StrAppend(&t, "  Handle", i, ":\n    Type: AWS::CloudFormation::WaitConditionHandle\n");
  }
  return t;
}

std::string CreateBody(Fixture& f, const std::string& name, const std::string& body) {
  v1::CreateStackRequest req;
  req.set_stack_name(name);
  req.set_template_body(body);
  auto r = f.stacks->CreateStack(req, {});
  REQUIRE(r.ok());
  return r->stack_id();
}

absl::StatusOr<v1::DescribeStackEventsResponse> EventsPage(Fixture& f, const std::string& stack,
                                                           const std::string& token) {
  v1::DescribeStackEventsRequest d;
  d.set_stack_name(stack);
  d.set_next_token(token);
  return f.stacks->DescribeStackEvents(d, {});
}

// Every page, following NextToken (as the aws CLI and boto3's paginator do).
std::vector<v1::StackEvent> AllEvents(Fixture& f, const std::string& stack, int* pages) {
  std::vector<v1::StackEvent> out;
  std::string token;
  *pages = 0;
  do {
    auto r = EventsPage(f, stack, token);
    REQUIRE(r.ok());
    ++*pages;
    REQUIRE(*pages < 100);
    for (const auto& e : r->stack_events()) out.push_back(e);
    token = r->next_token();
  } while (!token.empty());
  return out;
}

TEST_CASE("DescribeStackEvents: every event, newest first, 100 a page, no cap") {
  // Bugs caught: events still capped at 1000 (the oldest, CREATE_IN_PROGRESS User Initiated,
  // missing); no NextToken (only the first page); a page of another size than 100; a page
  // repeating the last event of the one before (token off by one); oldest first.
  Fixture f;
  const std::string id = CreateBody(f, "many", Handles(340));
  f.stacks->Advance();
  REQUIRE(f.Describe("many").stack_status() == "CREATE_COMPLETE");
  auto first = EventsPage(f, "many", "");
  REQUIRE(first.ok());
  CHECK(first->stack_events_size() == 100);
  CHECK(!first->next_token().empty());
  int pages = 0;
  const std::vector<v1::StackEvent> all = AllEvents(f, "many", &pages);
  CHECK(all.size() == 2 + 3 * 340);
  CHECK(pages == 11);
  std::set<std::string> ids;
  for (const auto& e : all) ids.insert(e.event_id());
  CHECK(ids.size() == all.size());
  REQUIRE(!all.empty());
  CHECK(all.front().resource_status() == "CREATE_COMPLETE");
  CHECK(all.front().logical_resource_id() == "many");
  CHECK(all.back().resource_status() == "CREATE_IN_PROGRESS");
  CHECK(all.back().resource_status_reason() == "User Initiated");
  for (size_t i = 1; i < all.size(); ++i) {
    CHECK(all[i - 1].timestamp().seconds() >= all[i].timestamp().seconds());
  }
  // By stack id too, the same events.
  CHECK(AllEvents(f, id, &pages).size() == all.size());
}

TEST_CASE("DescribeStackEvents and DescribeStacks refuse tokens they did not issue") {
  // Bugs caught: a garbage token read as "from the start" (the aws CLI loops forever); EC2's
  // InvalidPaginationToken code instead of CloudFormation's ValidationError; one stack's token
  // accepted for another stack's events (a page of nothing, or of the wrong stack); a
  // DescribeStacks token accepted by DescribeStackEvents.
  Fixture f;
  CreateBody(f, "a", Handles(40));
  CreateBody(f, "b", Handles(40));
  f.stacks->Advance();
  auto a = EventsPage(f, "a", "");
  REQUIRE(a.ok());
  REQUIRE(!a->next_token().empty());
  auto garbage = EventsPage(f, "a", "not-a-token");
  CHECK(Ec2CodeOf(garbage.status()) == "ValidationError");
  auto other = EventsPage(f, "b", a->next_token());
  CHECK(Ec2CodeOf(other.status()) == "ValidationError");
  auto next = EventsPage(f, "a", a->next_token());
  REQUIRE(next.ok());
  CHECK(next->stack_events_size() == 2 + 3 * 40 - 100);
  CHECK(next->next_token().empty());
  v1::DescribeStacksRequest d;
  d.set_next_token(a->next_token());
  CHECK(Ec2CodeOf(f.stacks->DescribeStacks(d, {}).status()) == "ValidationError");
  d.set_next_token("%%%");
  CHECK(Ec2CodeOf(f.stacks->DescribeStacks(d, {}).status()) == "ValidationError");
}

TEST_CASE("DescribeStacks pages 100 stacks, each once") {
  // Bugs caught: every stack in one answer (no NextToken); a stack on two pages or on none;
  // deleted stacks listed without a name.
  Fixture f;
  for (int i = 0; i < 101; ++i) CreateBody(f, absl::StrCat("s", i), Handles(1));
  v1::DescribeStacksRequest d;
  auto p1 = f.stacks->DescribeStacks(d, {});
  REQUIRE(p1.ok());
  CHECK(p1->stacks_size() == 100);
  REQUIRE(!p1->next_token().empty());
  d.set_next_token(p1->next_token());
  auto p2 = f.stacks->DescribeStacks(d, {});
  REQUIRE(p2.ok());
  CHECK(p2->stacks_size() == 1);
  CHECK(p2->next_token().empty());
  std::set<std::string> names;
  for (const auto* p : {&*p1, &*p2}) {
    for (const auto& s : p->stacks()) names.insert(s.stack_name());
  }
  CHECK(names.size() == 101);
}

TEST_CASE("Events embedded in an older stack record move to their own table on load") {
  // Bugs caught: the migration dropping the embedded events (DescribeStackEvents empty after an
  // upgrade); their order reversed; the record keeping them (written twice, shown twice); new
  // events numbered over the migrated ones (a key reused: an old event overwritten).
  Fixture f;
  const std::string id = CreateBody(f, "old", Handles(3));
  f.stacks->Advance();
  int pages = 0;
  const std::vector<v1::StackEvent> before = AllEvents(f, "old", &pages);
  REQUIRE(before.size() == 11);
  {
    // Write the record the way versions before the events table did: events inside it,
    // oldest first, and no table rows.
    auto lock = f.ctl.state->LockCommitted();
    auto rows = f.ctl.state->StackEventsLocked(id, "", 0);
    REQUIRE(rows.ok());
    v1::StackRecord legacy = f.ctl.state->stacks().at(id);
    CHECK(legacy.events_size() == 0);
    CHECK(legacy.event_sequence() == 11);
    legacy.clear_event_sequence();
    WriteBatch batch;
    for (auto it = rows->rbegin(); it != rows->rend(); ++it) {
      *legacy.add_events() = it->second;
      batch.Delete(Table::kStackEvents, it->first);
    }
    batch.Put(Table::kStacks, id, legacy.SerializeAsString());
    REQUIRE(f.ctl.store->Commit(batch).ok());
  }
  f.Restart();
  const std::vector<v1::StackEvent> after = AllEvents(f, "old", &pages);
  REQUIRE(after.size() == before.size());
  for (size_t i = 0; i < after.size(); ++i) CHECK(after[i].event_id() == before[i].event_id());
  {
    auto lock = f.ctl.state->LockCommitted();
    CHECK(f.ctl.state->stacks().at(id).events_size() == 0);
    CHECK(f.ctl.state->stacks().at(id).event_sequence() == 11);
    auto stored = f.ctl.store->Get(Table::kStacks, id);
    REQUIRE(stored.ok());
    REQUIRE(stored->has_value());
    v1::StackRecord r;
    REQUIRE(r.ParseFromString(**stored));
    CHECK(r.events_size() == 0);
  }
  v1::DeleteStackRequest del;
  del.set_stack_name("old");
  REQUIRE(f.stacks->DeleteStack(del, {}).ok());
  const std::vector<v1::StackEvent> later = AllEvents(f, id, &pages);
  CHECK(later.size() == before.size() + 1);
  CHECK(later.front().resource_status() == "DELETE_IN_PROGRESS");
  CHECK(later.back().event_id() == before.back().event_id());
}

TEST_CASE("TakeEmbeddedStackEvents numbers the events after the record's sequence") {
  // Bugs caught: the events left in the record; the sequence not advanced (the next event's key
  // overwrites a migrated one).
  v1::StackRecord r;
  r.set_event_sequence(4);
  r.add_events()->set_event_id("e1");
  r.add_events()->set_event_id("e2");
  auto events = TakeEmbeddedStackEvents(r);
  REQUIRE(events.size() == 2);
  CHECK(events[0].event_id() == "e1");
  CHECK(r.events_size() == 0);
  CHECK(r.event_sequence() == 6);
  CHECK(TakeEmbeddedStackEvents(r).empty());
  CHECK(r.event_sequence() == 6);
}

TEST_CASE("Stack event keys: one range per stack, newest first") {
  // Bugs caught: keys sorting oldest first (the first page the oldest events); one stack's
  // range holding another's keys.
  const std::string a = "arn:aws:cloudformation:home-1:000000000000:stack/a/1";
  CHECK(StackEventKey(a, 2) < StackEventKey(a, 1));
  CHECK(StackEventKey(a, 1) > StackEventsBegin(a));
  CHECK(StackEventKey(a, 1) < StackEventsEnd(a));
  CHECK(StackEventKey(a, 1u << 31) > StackEventsBegin(a));
  const std::string b = "arn:aws:cloudformation:home-1:000000000000:stack/a/10";
  CHECK(!(StackEventKey(b, 1) > StackEventsBegin(a) && StackEventKey(b, 1) < StackEventsEnd(a)));
}

TEST_CASE("A deleted stack: found by its id as DELETE_COMPLETE, purged after 90 days") {
  // Bugs caught: a deleted stack found by its name, listed without a name, or not found by its
  // id; purged before 90 days, or never; its events left in the store after the purge.
  Fixture f;
  const std::string id = CreateBody(f, "gone", Handles(2));
  f.stacks->Advance();
  v1::DeleteStackRequest del;
  del.set_stack_name("gone");
  REQUIRE(f.stacks->DeleteStack(del, {}).ok());
  f.stacks->Advance();
  REQUIRE(f.Describe(id).stack_status() == "DELETE_COMPLETE");
  CHECK(f.Describe(id).has_deletion_time());
  v1::DescribeStacksRequest by_name;
  by_name.set_stack_name("gone");
  CHECK(Ec2CodeOf(f.stacks->DescribeStacks(by_name, {}).status()) == "ValidationError");
  auto listed = f.stacks->DescribeStacks(v1::DescribeStacksRequest(), {});
  REQUIRE(listed.ok());
  CHECK(listed->stacks_size() == 0);
  int pages = 0;
  CHECK(AllEvents(f, id, &pages).front().resource_status() == "DELETE_COMPLETE");

  f.ctl.clock.Advance(kDeletedStackRetention - absl::Minutes(1));
  f.stacks->Advance();
  CHECK(f.Describe(id).stack_status() == "DELETE_COMPLETE");
  f.ctl.clock.Advance(absl::Minutes(2));
  f.stacks->Advance();
  v1::DescribeStacksRequest by_id;
  by_id.set_stack_name(id);
  auto purged = f.stacks->DescribeStacks(by_id, {});
  CHECK(Ec2CodeOf(purged.status()) == "ValidationError");
  CHECK(absl::StrContains(purged.status().message(), "does not exist"));
  CHECK(Ec2CodeOf(EventsPage(f, id, "").status()) == "ValidationError");
  auto rows = f.ctl.store->Scan(Table::kStackEvents);
  REQUIRE(rows.ok());
  CHECK(rows->empty());
  auto stacks = f.ctl.store->Scan(Table::kStacks);
  REQUIRE(stacks.ok());
  CHECK(stacks->empty());
}

}  // namespace
}  // namespace minicloud::controller
