// Hibernation in the instance lifecycle, as a table: the hibernate flag of a stop, the saved RAM
// image a host reports, the resume (or cold boot after 60 days) of a start, and what terminate
// and a plain stop do to the image. The states and reasons are in lifecycle_test.cc's table.
//
// Bugs each row would catch (one line each): a hibernate that forgets to flag the stop; an image
// recorded from a stop that was not a hibernate (stale host flag); a failed save recorded as an
// image; the 60-day rule off by one way or the other (59 d, 60 d, 61 d); a resumed boot that
// keeps the used-up image; terminate keeping the image; a plain stop dropping it.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "controller/lifecycle/lifecycle.h"

namespace minicloud::controller::lifecycle {
namespace {

constexpr v1::InstanceStateCode kPending = v1::INSTANCE_STATE_CODE_PENDING;
constexpr v1::InstanceStateCode kRunning = v1::INSTANCE_STATE_CODE_RUNNING;
constexpr v1::InstanceStateCode kShuttingDown = v1::INSTANCE_STATE_CODE_SHUTTING_DOWN;
constexpr v1::InstanceStateCode kStopping = v1::INSTANCE_STATE_CODE_STOPPING;
constexpr v1::InstanceStateCode kStopped = v1::INSTANCE_STATE_CODE_STOPPED;

const absl::Time kNow = absl::FromUnixSeconds(1796299200);  // 2026-12-03 12:00:00 UTC
int64_t DaysAgoMs(double days) { return absl::ToUnixMillis(kNow - absl::Hours(24 * days)); }

struct Row {
  std::string name;
  InstanceLifecycle from;
  Event event;
  v1::InstanceStateCode to;
  bool hibernate = false;
  bool resume = false;
  int64_t hibernated_at_ms = 0;
  int64_t saved_state_bytes = 0;
};

InstanceLifecycle In(v1::InstanceStateCode s) {
  InstanceLifecycle c;
  c.instance_id = "i-0123456789abcdef0";
  c.host_id = "h-0000000000000001";
  c.state = s;
  c.boot_count = 1;
  return c;
}
InstanceLifecycle Hibernating() {
  InstanceLifecycle c = In(kStopping);
  c.hibernate = true;
  return c;
}
InstanceLifecycle Hibernated(double days_ago, v1::InstanceStateCode s = kStopped) {
  InstanceLifecycle c = In(s);
  c.hibernated_at_ms = DaysAgoMs(days_ago);
  c.saved_state_bytes = 1 << 20;
  return c;
}

// A row from the hibernated instance `c` whose transition keeps its saved image as it is.
Row KeepsImage(std::string name, const InstanceLifecycle& c, Event event, v1::InstanceStateCode to,
               bool resume) {
  return {std::move(name), c, event, to, false, resume, c.hibernated_at_ms, c.saved_state_bytes};
}

std::vector<Row> Table() {
  std::vector<Row> t;
  t.push_back({"running + hibernate: the stop saves the RAM",
               In(kRunning),
               {EventKind::kHibernateRequested, ""},
               kStopping,
               /*hibernate=*/true});
  t.push_back(
      {"running + stop: a plain stop", In(kRunning), {EventKind::kStopRequested, ""}, kStopping});
  t.push_back({"hibernating + host saved the image",
               Hibernating(),
               {EventKind::kAgentShutoff, "", true, 4096},
               kStopped,
               false,
               false,
               absl::ToUnixMillis(kNow),
               4096});
  t.push_back({"hibernating + host could not save: a plain stop",
               Hibernating(),
               {EventKind::kAgentShutoff, "", false, 0},
               kStopped});
  t.push_back({"plain stop + a host report claiming an image: no image",
               In(kStopping),
               {EventKind::kAgentShutoff, "", true, 4096},
               kStopped});
  t.push_back(KeepsImage("hibernated 59 days + start: resume", Hibernated(59),
                         {EventKind::kStartRequested, ""}, kPending,
                         /*resume=*/true));
  t.push_back(KeepsImage("hibernated exactly 60 days + start: resume", Hibernated(60),
                         {EventKind::kStartRequested, ""}, kPending,
                         /*resume=*/true));
  t.push_back({"hibernated 61 days + start: cold boot, image dropped",
               Hibernated(61),
               {EventKind::kStartRequested, ""},
               kPending});
  t.push_back({"never hibernated + start: cold boot",
               In(kStopped),
               {EventKind::kStartRequested, ""},
               kPending});
  {
    InstanceLifecycle c = Hibernated(1, kPending);
    c.resume = true;
    t.push_back({"resuming + host running: the image is used up",
                 c,
                 {EventKind::kAgentRunning, ""},
                 kRunning});
  }
  t.push_back({"hibernated + terminate: the image goes with it",
               Hibernated(1),
               {EventKind::kTerminateRequested, ""},
               kShuttingDown});
  t.push_back(KeepsImage("hibernated + stop: stays hibernated", Hibernated(1),
                         {EventKind::kStopRequested, ""}, kStopped,
                         /*resume=*/false));
  t.push_back(KeepsImage("hibernated + hibernate: stays hibernated", Hibernated(1),
                         {EventKind::kHibernateRequested, ""}, kStopped,
                         /*resume=*/false));
  return t;
}

}  // namespace

TEST_CASE("hibernation flags and the saved image through the lifecycle", "[lifecycle]") {
  for (const Row& row : Table()) {
    INFO(row.name);
    auto t = Apply(row.from, row.event, kNow);
    REQUIRE(t.ok());
    CHECK(t->state == row.to);
    CHECK(t->hibernate == row.hibernate);
    CHECK(t->resume == row.resume);
    CHECK(t->hibernated_at_ms == row.hibernated_at_ms);
    CHECK(t->saved_state_bytes == row.saved_state_bytes);
  }
}

TEST_CASE("a hibernated instance's StateReason is EC2's", "[lifecycle]") {
  auto t = Apply(In(kRunning), {EventKind::kHibernateRequested, ""}, kNow);
  REQUIRE(t.ok());
  REQUIRE(t->state_reason.has_value());
  CHECK(t->state_reason->code == "Client.UserInitiatedHibernate");
  CHECK(t->state_reason->message == "Client.UserInitiatedHibernate: User initiated hibernate");
  // Kept when the host reports the saved image (the stopped instance shows it).
  InstanceLifecycle c = Hibernating();
  auto done = Apply(c, {EventKind::kAgentShutoff, "", true, 1}, kNow);
  REQUIRE(done.ok());
  CHECK_FALSE(done->state_reason.has_value());
}

TEST_CASE("Record and Of carry the hibernation fields", "[lifecycle]") {
  v1::InstanceRecord r;
  r.set_instance_id("i-0123456789abcdef0");
  r.set_state(kStopping);
  r.set_hibernate_requested(true);
  auto t = Apply(InstanceLifecycle::Of(r), {EventKind::kAgentShutoff, "", true, 777}, kNow);
  REQUIRE(t.ok());
  Record(*t, r);
  CHECK(r.state() == kStopped);
  CHECK_FALSE(r.hibernate_requested());
  CHECK(r.hibernated_time_ms() == absl::ToUnixMillis(kNow));
  CHECK(r.saved_state_bytes() == 777);
  auto start = Apply(InstanceLifecycle::Of(r), {EventKind::kStartRequested, ""}, kNow);
  REQUIRE(start.ok());
  Record(*start, r);
  CHECK(r.resume_requested());
  CHECK(r.saved_state_bytes() == 777);
}

TEST_CASE("a host's SHUTOFF report carries the saved image", "[lifecycle]") {
  v1::ObservedInstance o;
  o.set_state(v1::OBSERVED_STATE_SHUTOFF);
  o.set_hibernated(true);
  o.set_saved_state_bytes(99);
  auto e = EventOf(o);
  REQUIRE(e.has_value());
  CHECK(e->kind == EventKind::kAgentShutoff);
  CHECK(e->hibernated);
  CHECK(e->saved_state_bytes == 99);
}

}  // namespace minicloud::controller::lifecycle
