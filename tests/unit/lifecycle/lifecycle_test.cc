// The instance lifecycle as one table: every (state, event) pair, what it does, or the EC2 error
// it gives. A state added to v1::InstanceStateCode or an event added to lifecycle::EventKind
// without rows here fails "the table lists every state and event".
#include "controller/lifecycle/lifecycle.h"

#include <catch2/catch.hpp>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/ec2_error.h"

namespace minicloud::controller::lifecycle {
namespace {

constexpr v1::InstanceStateCode kNone = v1::INSTANCE_STATE_CODE_UNSPECIFIED;
constexpr v1::InstanceStateCode kPending = v1::INSTANCE_STATE_CODE_PENDING;
constexpr v1::InstanceStateCode kRunning = v1::INSTANCE_STATE_CODE_RUNNING;
constexpr v1::InstanceStateCode kShuttingDown = v1::INSTANCE_STATE_CODE_SHUTTING_DOWN;
constexpr v1::InstanceStateCode kTerminated = v1::INSTANCE_STATE_CODE_TERMINATED;
constexpr v1::InstanceStateCode kStopping = v1::INSTANCE_STATE_CODE_STOPPING;
constexpr v1::InstanceStateCode kStopped = v1::INSTANCE_STATE_CODE_STOPPED;

using E = EventKind;

constexpr char kId[] = "i-0123456789abcdef0";
constexpr char kHost[] = "h-0000000000000001";
constexpr char kDetail[] = "qemu: could not open disk";
// 2026-12-03 12:00:00 UTC, and EC2's StateTransitionReason for a user's call at that time.
const absl::Time kNow = absl::FromUnixSeconds(1796299200);
constexpr char kUserInitiated[] = "User initiated (2026-12-03 12:00:00 GMT)";

// What the host is told for each state, written out here rather than taken from GoalOf.
v1::DesiredGoal ExpectedGoal(v1::InstanceStateCode s) {
  switch (s) {
    case kPending:
    case kRunning:
      return v1::DESIRED_GOAL_RUNNING;
    case kStopping:
    case kStopped:
      return v1::DESIRED_GOAL_STOPPED;
    case kShuttingDown:
    case kTerminated:
      return v1::DESIRED_GOAL_TERMINATED;
    default:
      return v1::DESIRED_GOAL_UNSPECIFIED;
  }
}

struct Reason {
  std::string code;
  std::string message_part;  // a substring of the StateReason message
};
const Reason kUserShutdown{"Client.UserInitiatedShutdown",
                           "Client.UserInitiatedShutdown: User initiated shutdown"};
const Reason kInstanceShutdown{"Client.InstanceInitiatedShutdown",
                               "Client.InstanceInitiatedShutdown: Instance initiated shutdown"};
const Reason kNoReason{"", ""};

// One row: an instance in `from` (booted `boot` times, force_stop as given) meets `event`.
struct Row {
  v1::InstanceStateCode from = kNone;
  EventKind event = EventKind::kRunAccepted;
  int boot = 1;
  bool force_stop = false;

  // Expected: refused with an EC2 error ...
  std::string error_code;
  std::string error_part;
  // ... or allowed. changed == false: left exactly as it was.
  bool changed = false;
  v1::InstanceStateCode to = kNone;
  std::optional<Reason> reason;                  // nullopt: StateReason kept
  std::optional<std::string> transition_reason;  // nullopt: StateTransitionReason kept
  CapacityChange capacity = CapacityChange::kNone;
  bool notify = false;
  bool force_after = false;
  int boot_after = 1;
  bool launch_time = false, running_since = false, terminated_at = false, purge = false;

  std::string Name() const {
    return absl::StrCat(v1::InstanceStateCode_Name(from), " + ", EventKindName(event), " (boot ",
                        boot, force_stop ? ", force" : "", ")");
  }

  // Builders for the expectations.
  Row& Boot(int b) {
    boot = b;
    boot_after = b;
    return *this;
  }
  Row& Forced() {
    force_stop = true;
    force_after = true;
    return *this;
  }
  Row& Stays() {
    changed = false;
    to = from;
    return *this;
  }
  Row& Refused(std::string code, std::string part) {
    error_code = std::move(code);
    error_part = std::move(part);
    return *this;
  }
  Row& To(v1::InstanceStateCode s, CapacityChange c = CapacityChange::kNone) {
    changed = true;
    notify = true;
    to = s;
    capacity = c;
    return *this;
  }
  Row& Because(Reason r) {
    reason = std::move(r);
    return *this;
  }
  Row& UserInitiated(bool force) {
    reason = kUserShutdown;
    transition_reason = kUserInitiated;
    force_after = force;
    return *this;
  }
  Row& ForceAfter(bool f) {
    force_after = f;
    return *this;
  }
  Row& HostNotNotified() {
    notify = false;
    return *this;
  }
};

Row At(v1::InstanceStateCode from, EventKind event) {
  Row r;
  r.from = from;
  r.event = event;
  return r;
}

const char kNotStopped[] = "is not in a state from which it can be stopped.";
const char kNotStarted[] = "is not in a state from which it can be started.";

std::vector<Row> Table() {
  const auto take = CapacityChange::kTake;
  const auto release = CapacityChange::kRelease;
  std::vector<Row> t;
  // No record yet: only RunInstances creates one.
  {
    Row r = At(kNone, E::kRunAccepted).To(kPending, take);
    r.boot = 0;
    r.launch_time = true;
    t.push_back(r);
  }
  for (EventKind e : {E::kStopRequested, E::kStopForced, E::kStartRequested, E::kTerminateRequested,
                      E::kAgentRunning, E::kAgentShutoff, E::kAgentBootFailed,
                      E::kAgentRefusedAdmission, E::kAgentAbsent, E::kLaunchTimedOut, E::kHostGone,
                      E::kRetentionExpired, E::kHibernateRequested, E::kVolumeFailed}) {
    t.push_back(At(kNone, e).Refused("InternalError", "has no record"));
  }
  // Every existing instance: RunInstances cannot apply again.
  for (auto s : {kPending, kRunning, kShuttingDown, kTerminated, kStopping, kStopped}) {
    t.push_back(At(s, E::kRunAccepted).Refused("InternalError", "was accepted already"));
  }

  // pending
  t.push_back(At(kPending, E::kStopRequested).To(kStopping).UserInitiated(false));
  t.push_back(At(kPending, E::kStopForced).To(kStopping).UserInitiated(true));
  t.push_back(At(kPending, E::kStartRequested).Stays());
  t.push_back(At(kPending, E::kTerminateRequested).To(kShuttingDown).UserInitiated(false));
  {
    Row r = At(kPending, E::kAgentRunning).To(kRunning).HostNotNotified();
    r.running_since = true;
    t.push_back(r);
  }
  t.push_back(At(kPending, E::kAgentShutoff).Stays());
  t.push_back(
      At(kPending, E::kAgentBootFailed)
          .To(kShuttingDown)
          .Because({"Server.InternalError",
                    absl::StrCat("Server.InternalError: Internal error on launch: ", kDetail)}));
  t.push_back(
      At(kPending, E::kAgentBootFailed)
          .Boot(2)
          .To(kStopped, release)
          .Because({"Server.InternalError",
                    absl::StrCat("Server.InternalError: Internal error on start: ", kDetail)}));
  t.push_back(At(kPending, E::kAgentRefusedAdmission)
                  .To(kShuttingDown)
                  .Because({"Server.InsufficientInstanceCapacity",
                            absl::StrCat("Server.InsufficientInstanceCapacity: the host refused "
                                         "the launch: ",
                                         kDetail)}));
  t.push_back(At(kPending, E::kAgentRefusedAdmission)
                  .Boot(2)
                  .To(kStopped, release)
                  .Because({"Server.InsufficientInstanceCapacity",
                            absl::StrCat("Server.InsufficientInstanceCapacity: the host refused "
                                         "the start: ",
                                         kDetail)}));
  t.push_back(At(kPending, E::kAgentAbsent).Stays());
  const Reason timed_out{
      "Server.InternalError",
      absl::StrCat("Server.InternalError: host ", kHost, " did not start the instance in time")};
  t.push_back(At(kPending, E::kLaunchTimedOut).To(kShuttingDown).Because(timed_out));
  t.push_back(
      At(kPending, E::kLaunchTimedOut).Boot(2).To(kStopping).Because(timed_out).ForceAfter(true));
  t.push_back(At(kPending, E::kHostGone).Stays());
  t.push_back(At(kPending, E::kRetentionExpired).Stays());
  t.push_back(At(kPending, E::kHibernateRequested)
                  .Refused("IncorrectInstanceState", "from which it can be hibernated."));
  // A volume the boot needs cannot be made: a launch ends, a start stays stopped (the event's
  // own code is volume_failure_test.cc's; without one it reads as Server.InternalError).
  const Reason volume_failed{
      "Server.InternalError",
      absl::StrCat("Server.InternalError: Internal error on launch: ", kDetail)};
  t.push_back(At(kPending, E::kVolumeFailed).To(kShuttingDown).Because(volume_failed));
  t.push_back(At(kPending, E::kVolumeFailed).Boot(2).To(kStopped, release).Because(volume_failed));

  // running
  t.push_back(At(kRunning, E::kStopRequested).To(kStopping).UserInitiated(false));
  t.push_back(At(kRunning, E::kStopForced).To(kStopping).UserInitiated(true));
  t.push_back(At(kRunning, E::kStartRequested).Stays());
  t.push_back(At(kRunning, E::kTerminateRequested).To(kShuttingDown).UserInitiated(false));
  t.push_back(At(kRunning, E::kAgentRunning).Stays());
  // Hibernation details (the flags, the image) are in hibernation_lifecycle_test.cc.
  t.push_back(At(kRunning, E::kHibernateRequested)
                  .To(kStopping)
                  .UserInitiated(false)
                  .Because({"Client.UserInitiatedHibernate",
                            "Client.UserInitiatedHibernate: User initiated hibernate"}));
  {
    Row r = At(kRunning, E::kAgentShutoff).To(kStopped, release).Because(kInstanceShutdown);
    r.transition_reason = "Client.InstanceInitiatedShutdown";
    t.push_back(r);
  }
  for (EventKind e : {E::kAgentBootFailed, E::kAgentRefusedAdmission, E::kAgentAbsent,
                      E::kLaunchTimedOut, E::kHostGone, E::kRetentionExpired, E::kVolumeFailed}) {
    t.push_back(At(kRunning, e).Stays());
  }

  // shutting-down
  t.push_back(At(kShuttingDown, E::kStopRequested).Refused("IncorrectInstanceState", kNotStopped));
  t.push_back(At(kShuttingDown, E::kStopForced).Refused("IncorrectInstanceState", kNotStopped));
  t.push_back(At(kShuttingDown, E::kStartRequested).Refused("IncorrectInstanceState", kNotStarted));
  t.push_back(
      At(kShuttingDown, E::kHibernateRequested).Refused("IncorrectInstanceState", kNotStopped));
  for (EventKind e :
       {E::kTerminateRequested, E::kAgentRunning, E::kAgentShutoff, E::kAgentBootFailed,
        E::kAgentRefusedAdmission, E::kLaunchTimedOut, E::kRetentionExpired, E::kVolumeFailed}) {
    t.push_back(At(kShuttingDown, e).Stays());
  }
  {
    Row r = At(kShuttingDown, E::kAgentAbsent).To(kTerminated, release);
    r.terminated_at = true;
    t.push_back(r);
    Row gone = At(kShuttingDown, E::kHostGone).To(kTerminated, release).HostNotNotified();
    gone.terminated_at = true;
    t.push_back(gone);
  }

  // terminated
  t.push_back(At(kTerminated, E::kStopRequested).Refused("IncorrectInstanceState", kNotStopped));
  t.push_back(At(kTerminated, E::kStopForced).Refused("IncorrectInstanceState", kNotStopped));
  t.push_back(At(kTerminated, E::kStartRequested).Refused("IncorrectInstanceState", kNotStarted));
  t.push_back(
      At(kTerminated, E::kHibernateRequested).Refused("IncorrectInstanceState", kNotStopped));
  for (EventKind e : {E::kTerminateRequested, E::kAgentRunning, E::kAgentShutoff,
                      E::kAgentBootFailed, E::kAgentRefusedAdmission, E::kAgentAbsent,
                      E::kLaunchTimedOut, E::kHostGone, E::kVolumeFailed}) {
    t.push_back(At(kTerminated, e).Stays());
  }
  {
    Row r = At(kTerminated, E::kRetentionExpired);  // forgotten; it leaves the host's list
    r.changed = true;
    r.to = kTerminated;
    r.notify = true;
    r.purge = true;
    t.push_back(r);
  }

  // stopping
  t.push_back(At(kStopping, E::kStopRequested).Stays());
  t.push_back(At(kStopping, E::kStopRequested).Forced().Stays());
  // Force on an instance already stopping escalates to a power-off.
  t.push_back(At(kStopping, E::kStopForced).To(kStopping).UserInitiated(true));
  t.push_back(At(kStopping, E::kStartRequested).Refused("IncorrectInstanceState", kNotStarted));
  t.push_back(At(kStopping, E::kTerminateRequested).To(kShuttingDown).UserInitiated(false));
  t.push_back(At(kStopping, E::kTerminateRequested)
                  .Forced()
                  .To(kShuttingDown)
                  .UserInitiated(true));  // the forced power-off goes on
  t.push_back(At(kStopping, E::kAgentRunning).Stays());
  t.push_back(At(kStopping, E::kHibernateRequested).Stays());
  t.push_back(At(kStopping, E::kAgentShutoff).Forced().To(kStopped, release).ForceAfter(false));
  for (EventKind e : {E::kAgentBootFailed, E::kAgentRefusedAdmission, E::kAgentAbsent,
                      E::kLaunchTimedOut, E::kHostGone, E::kRetentionExpired, E::kVolumeFailed}) {
    t.push_back(At(kStopping, e).Stays());
  }

  // stopped
  t.push_back(At(kStopped, E::kStopRequested).Stays());
  t.push_back(At(kStopped, E::kStopForced).Stays());
  t.push_back(At(kStopped, E::kHibernateRequested).Stays());
  {
    Row r = At(kStopped, E::kStartRequested).To(kPending, take).Because(kNoReason);
    r.transition_reason = "";
    r.boot_after = 2;
    r.launch_time = true;
    t.push_back(r);
  }
  // Terminating a stopped instance holds its host's capacity again until the host has
  // deleted it (shutting-down counts as occupying).
  t.push_back(At(kStopped, E::kTerminateRequested).To(kShuttingDown, take).UserInitiated(false));
  for (EventKind e : {E::kAgentRunning, E::kAgentShutoff, E::kAgentBootFailed,
                      E::kAgentRefusedAdmission, E::kAgentAbsent, E::kLaunchTimedOut, E::kHostGone,
                      E::kRetentionExpired, E::kVolumeFailed}) {
    t.push_back(At(kStopped, e).Stays());
  }
  return t;
}

InstanceLifecycle Current(const Row& row) {
  InstanceLifecycle c;
  c.instance_id = kId;
  c.host_id = kHost;
  c.state = row.from;
  c.boot_count = row.boot;
  c.force_stop = row.force_stop;
  return c;
}

}  // namespace

TEST_CASE("the table lists every state and event", "[lifecycle]") {
  std::set<std::pair<int, int>> listed;
  std::set<std::tuple<int, int, int, bool>> rows;
  for (const Row& row : Table()) {
    listed.insert({row.from, static_cast<int>(row.event)});
    INFO(row.Name());
    CHECK(rows.insert({row.from, static_cast<int>(row.event), row.boot, row.force_stop}).second);
  }
  const google::protobuf::EnumDescriptor* states = v1::InstanceStateCode_descriptor();
  for (int i = 0; i < states->value_count(); ++i) {
    for (int e = 0; e < kEventKindCount; ++e) {
      INFO(states->value(i)->name() << " + " << EventKindName(static_cast<EventKind>(e)));
      CHECK(listed.contains({states->value(i)->number(), e}));
    }
  }
  for (int e = 0; e < kEventKindCount; ++e) {
    CHECK(EventKindName(static_cast<EventKind>(e)) != "unknown-event");
  }
}

TEST_CASE("every transition and refusal", "[lifecycle]") {
  for (const Row& row : Table()) {
    INFO(row.Name());
    auto t = Apply(Current(row), {row.event, kDetail}, kNow);
    if (!row.error_code.empty()) {
      REQUIRE_FALSE(t.ok());
      CHECK(Ec2CodeOf(t.status()) == row.error_code);
      CHECK_THAT(std::string(t.status().message()), Catch::Contains(row.error_part));
      if (row.error_code == "IncorrectInstanceState") {
        CHECK_THAT(std::string(t.status().message()),
                   Catch::StartsWith(absl::StrCat("The instance '", kId, "' ")));
      }
      continue;
    }
    REQUIRE(t.ok());
    CHECK(t->changed == row.changed);
    CHECK(t->state == row.to);
    CHECK(GoalOf(t->state) == ExpectedGoal(row.to));
    CHECK(t->capacity == row.capacity);
    CHECK(t->notify_host == row.notify);
    CHECK(t->purge == row.purge);
    CHECK(t->force_stop == row.force_after);
    CHECK(t->boot_count == row.boot_after);
    if (row.reason) {
      REQUIRE(t->state_reason.has_value());
      CHECK(t->state_reason->code == row.reason->code);
      if (row.reason->message_part.empty()) {
        CHECK(t->state_reason->message.empty());
      } else {
        CHECK_THAT(t->state_reason->message, Catch::Contains(row.reason->message_part));
      }
    } else {
      CHECK_FALSE(t->state_reason.has_value());
    }
    CHECK(t->state_transition_reason == row.transition_reason);
    CHECK(t->launch_time == (row.launch_time ? std::optional<absl::Time>(kNow) : std::nullopt));
    CHECK(t->running_since == (row.running_since ? std::optional<absl::Time>(kNow) : std::nullopt));
    CHECK(t->terminated_at == (row.terminated_at ? std::optional<absl::Time>(kNow) : std::nullopt));
  }
}

TEST_CASE("the states that hold host capacity", "[lifecycle]") {
  // The domain exists or is about to: pending, running, stopping, shutting-down.
  CHECK(HoldsCapacity(kPending));
  CHECK(HoldsCapacity(kRunning));
  CHECK(HoldsCapacity(kStopping));
  CHECK(HoldsCapacity(kShuttingDown));
  CHECK_FALSE(HoldsCapacity(kStopped));
  CHECK_FALSE(HoldsCapacity(kTerminated));
  CHECK_FALSE(HoldsCapacity(kNone));
}

TEST_CASE("Record writes a transition into the instance record", "[lifecycle]") {
  v1::InstanceRecord r;
  r.set_instance_id(kId);
  r.set_host_id(kHost);
  r.set_state(kStopped);
  r.set_goal(v1::DESIRED_GOAL_STOPPED);
  r.set_boot_count(1);
  r.set_launch_time_ms(1000);
  r.set_running_time_ms(2000);
  r.mutable_timeline()->set_received_ms(1500);
  r.set_state_transition_reason("User initiated (2026-12-01 10:00:00 GMT)");
  r.set_state_reason_code("Client.UserInitiatedShutdown");
  r.set_state_reason_message("Client.UserInitiatedShutdown: User initiated shutdown");

  SECTION("a start is a new boot with its reasons cleared") {
    auto t = Apply(InstanceLifecycle::Of(r), {E::kStartRequested, ""}, kNow);
    REQUIRE(t.ok());
    Record(*t, r);
    CHECK(r.state() == kPending);
    CHECK(r.goal() == v1::DESIRED_GOAL_RUNNING);
    CHECK(r.boot_count() == 2);
    CHECK(r.launch_time_ms() == absl::ToUnixMillis(kNow));
    CHECK(r.running_time_ms() == 0);
    CHECK_FALSE(r.has_timeline());
    CHECK(r.state_transition_reason().empty());
    CHECK(r.state_reason_code().empty());
    CHECK(r.state_reason_message().empty());
  }
  SECTION("a terminate writes EC2's user-initiated reasons and keeps the times") {
    auto t = Apply(InstanceLifecycle::Of(r), {E::kTerminateRequested, ""}, kNow);
    REQUIRE(t.ok());
    Record(*t, r);
    CHECK(r.state() == kShuttingDown);
    CHECK(r.goal() == v1::DESIRED_GOAL_TERMINATED);
    CHECK(r.state_transition_reason() == kUserInitiated);
    CHECK(r.state_reason_code() == "Client.UserInitiatedShutdown");
    CHECK(r.launch_time_ms() == 1000);
    CHECK(r.running_time_ms() == 2000);
    CHECK(r.timeline().received_ms() == 1500);
  }
  SECTION("an unchanged transition writes nothing") {
    const std::string before = r.SerializeAsString();
    auto t = Apply(InstanceLifecycle::Of(r), {E::kStopRequested, ""}, kNow);
    REQUIRE(t.ok());
    REQUIRE_FALSE(t->changed);
    Record(*t, r);
    CHECK(r.SerializeAsString() == before);
  }
  SECTION("the host's report times the run and the termination") {
    r.set_state(kPending);
    Record(*Apply(InstanceLifecycle::Of(r), {E::kAgentRunning, ""}, kNow), r);
    CHECK(r.running_time_ms() == absl::ToUnixMillis(kNow));
    r.set_state(kShuttingDown);
    Record(*Apply(InstanceLifecycle::Of(r), {E::kAgentAbsent, ""}, kNow + absl::Seconds(1)), r);
    CHECK(r.state() == kTerminated);
    CHECK(r.terminated_time_ms() == absl::ToUnixMillis(kNow + absl::Seconds(1)));
  }
}

TEST_CASE("a host's report is read by its typed fields", "[lifecycle]") {
  struct Case {
    v1::ObservedState state;
    v1::BootFailure failure;
    std::string message;
    std::optional<EventKind> event;
  };
  const std::vector<Case> cases = {
      {v1::OBSERVED_STATE_UNSPECIFIED, v1::BOOT_FAILURE_UNSPECIFIED, "", std::nullopt},
      {v1::OBSERVED_STATE_PREPARING, v1::BOOT_FAILURE_UNSPECIFIED, "", std::nullopt},
      {v1::OBSERVED_STATE_RUNNING, v1::BOOT_FAILURE_UNSPECIFIED, "", E::kAgentRunning},
      {v1::OBSERVED_STATE_SHUTOFF, v1::BOOT_FAILURE_UNSPECIFIED, "", E::kAgentShutoff},
      {v1::OBSERVED_STATE_ABSENT, v1::BOOT_FAILURE_UNSPECIFIED, "", E::kAgentAbsent},
      {v1::OBSERVED_STATE_FAILED, v1::BOOT_FAILURE_ERROR, "disk full", E::kAgentBootFailed},
      // The kind is the typed field, never the message text.
      {v1::OBSERVED_STATE_FAILED, v1::BOOT_FAILURE_ERROR, "admission: looks like a refusal",
       E::kAgentBootFailed},
      {v1::OBSERVED_STATE_FAILED, v1::BOOT_FAILURE_ADMISSION, "spread group 'web' ...",
       E::kAgentRefusedAdmission},
      // An agent that does not say: a boot failure.
      {v1::OBSERVED_STATE_FAILED, v1::BOOT_FAILURE_UNSPECIFIED, "old agent", E::kAgentBootFailed},
  };
  for (const Case& c : cases) {
    INFO(v1::ObservedState_Name(c.state) << " " << v1::BootFailure_Name(c.failure));
    v1::ObservedInstance o;
    o.set_instance_id(kId);
    o.set_state(c.state);
    o.set_failure(c.failure);
    o.set_message(c.message);
    std::optional<Event> e = EventOf(o);
    REQUIRE(e.has_value() == c.event.has_value());
    if (!e) continue;
    CHECK(e->kind == *c.event);
    if (c.state == v1::OBSERVED_STATE_FAILED) CHECK(e->detail == c.message);
  }
  // Every observed state is decided on here: a new one needs a row.
  const google::protobuf::EnumDescriptor* d = v1::ObservedState_descriptor();
  std::set<int> covered;
  for (const Case& c : cases) covered.insert(c.state);
  for (int i = 0; i < d->value_count(); ++i) {
    INFO(d->value(i)->name());
    CHECK(covered.contains(d->value(i)->number()));
  }
}

TEST_CASE("timer events fall due by the clock", "[lifecycle]") {
  const Timeouts timeouts{absl::Minutes(10), absl::Hours(1)};
  v1::InstanceRecord r;
  r.set_launch_time_ms(absl::ToUnixMillis(kNow));
  r.set_terminated_time_ms(absl::ToUnixMillis(kNow));
  auto kinds = [&](absl::Time at, bool registered) {
    std::vector<EventKind> out;
    for (const Event& e : DueEvents(r, registered, at, timeouts)) out.push_back(e.kind);
    return out;
  };
  using V = std::vector<EventKind>;
  CHECK(kinds(kNow + absl::Minutes(10), true) == V{});  // "more than" the timeout
  CHECK(kinds(kNow + absl::Minutes(10) + absl::Milliseconds(1), true) == V{E::kLaunchTimedOut});
  CHECK(kinds(kNow + absl::Hours(1) + absl::Milliseconds(1), true) ==
        V{E::kLaunchTimedOut, E::kRetentionExpired});
  CHECK(kinds(kNow, false) == V{E::kHostGone});
}

}  // namespace minicloud::controller::lifecycle
