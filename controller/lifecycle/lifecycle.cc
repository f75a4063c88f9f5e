#include "controller/lifecycle/lifecycle.h"

#include "absl/strings/str_cat.h"
#include "common/ec2_error.h"
#include "controller/lifecycle/volume_failure.h"

namespace minicloud::controller::lifecycle {
namespace {

using v1::InstanceStateCode;
constexpr InstanceStateCode kNone = v1::INSTANCE_STATE_CODE_UNSPECIFIED;
constexpr InstanceStateCode kPending = v1::INSTANCE_STATE_CODE_PENDING;
constexpr InstanceStateCode kRunning = v1::INSTANCE_STATE_CODE_RUNNING;
constexpr InstanceStateCode kShuttingDown = v1::INSTANCE_STATE_CODE_SHUTTING_DOWN;
constexpr InstanceStateCode kTerminated = v1::INSTANCE_STATE_CODE_TERMINATED;
constexpr InstanceStateCode kStopping = v1::INSTANCE_STATE_CODE_STOPPING;
constexpr InstanceStateCode kStopped = v1::INSTANCE_STATE_CODE_STOPPED;

// IncorrectInstanceState: "The instance 'i-…' is not in a state from which it can be <what>."
absl::Status IncorrectState(absl::string_view id, absl::string_view what) {
  return Ec2Error(
      absl::StatusCode::kFailedPrecondition, "IncorrectInstanceState",
      absl::StrCat("The instance '", id, "' is not in a state from which it can be ", what, "."));
}

StateReason UserInitiatedShutdown() {
  return {"Client.UserInitiatedShutdown", "Client.UserInitiatedShutdown: User initiated shutdown"};
}

// EC2's StateReason of a hibernated instance (API reference, StateReason).
StateReason UserInitiatedHibernate() {
  return {"Client.UserInitiatedHibernate",
          "Client.UserInitiatedHibernate: User initiated hibernate"};
}

StateReason InstanceInitiatedShutdown() {
  return {"Client.InstanceInitiatedShutdown",
          "Client.InstanceInitiatedShutdown: Instance initiated shutdown"};
}

// A start (boot_count > 1) that cannot complete leaves the instance stopped with its disk; a
// first launch that cannot complete ends terminated.
bool IsStart(const InstanceLifecycle& c) { return c.boot_count > 1; }

// Builds the transition from `c` to `to`; the capacity change follows from the states.
class Builder {
 public:
  explicit Builder(const InstanceLifecycle& c) {
    t_.state = c.state;
    t_.boot_count = c.boot_count;
    t_.force_stop = c.force_stop;
    t_.hibernate = c.hibernate;
    t_.resume = c.resume;
    t_.hibernated_at_ms = c.hibernated_at_ms;
    t_.saved_state_bytes = c.saved_state_bytes;
  }
  Builder& To(InstanceStateCode to) {
    const bool held = HoldsCapacity(t_.state);
    t_.changed = true;
    t_.notify_host = true;
    t_.state = to;
    t_.capacity = held == HoldsCapacity(to) ? CapacityChange::kNone
                  : held                    ? CapacityChange::kRelease
                                            : CapacityChange::kTake;
    return *this;
  }
  Builder& ForceStop(bool f) {
    t_.force_stop = f;
    return *this;
  }
  Builder& Reason(StateReason r) {
    t_.state_reason = std::move(r);
    return *this;
  }
  Builder& TransitionReason(std::string r) {
    t_.state_transition_reason = std::move(r);
    return *this;
  }
  Builder& HostNotNotified() {
    t_.notify_host = false;
    return *this;
  }
  Transition& t() { return t_; }
  operator Transition() const { return t_; }  // NOLINT: builder

 private:
  Transition t_;
};

Transition Unchanged(const InstanceLifecycle& c) { return Builder(c); }

Transition UserShutdown(const InstanceLifecycle& c, InstanceStateCode to, bool force,
                        absl::Time now) {
  return Builder(c)
      .To(to)
      .ForceStop(force)
      .TransitionReason(UserInitiatedReason(now))
      .Reason(UserInitiatedShutdown());
}

absl::StatusOr<Transition> Stop(const InstanceLifecycle& c, bool force, absl::Time now) {
  switch (c.state) {
    case kPending:  // EC2: running or pending instances stop
    case kRunning:
      return UserShutdown(c, kStopping, force, now);
    case kStopping:  // Force on an instance already stopping escalates to a power-off
      return force ? UserShutdown(c, kStopping, true, now) : Unchanged(c);
    case kStopped:
      return Unchanged(c);
    default:  // shutting-down, terminated
      return IncorrectState(c.instance_id, "stopped");
  }
}

// StopInstances with Hibernate: only a running instance saves its RAM (a pending one has not
// booted yet, EC2 refuses it); one already stopping or stopped stays as it is.
absl::StatusOr<Transition> Hibernate(const InstanceLifecycle& c, absl::Time now) {
  switch (c.state) {
    case kRunning: {
      Builder b(c);
      b.To(kStopping).ForceStop(false).TransitionReason(UserInitiatedReason(now));
      b.Reason(UserInitiatedHibernate());
      b.t().hibernate = true;
      return b.t();
    }
    case kStopping:
    case kStopped:
      return Unchanged(c);
    case kPending:
      return IncorrectState(c.instance_id, "hibernated");
    default:  // shutting-down, terminated
      return IncorrectState(c.instance_id, "stopped");
  }
}

absl::StatusOr<Transition> Start(const InstanceLifecycle& c, absl::Time now) {
  switch (c.state) {
    case kStopped: {
      Builder b(c);
      b.To(kPending).ForceStop(false).TransitionReason("").Reason({});
      b.t().boot_count = c.boot_count + 1;
      b.t().launch_time = now;  // EC2's LaunchTime is the last start
      b.t().hibernate = false;
      if (c.hibernated_at_ms != 0) {
        const absl::Time saved = absl::FromUnixMillis(c.hibernated_at_ms);
        // Within the limit the boot restores the RAM; past it the image is dropped.
        b.t().resume = now - saved <= kMaxHibernation;
        if (!b.t().resume) {
          b.t().hibernated_at_ms = 0;
          b.t().saved_state_bytes = 0;
        }
      }
      return b.t();
    }
    case kPending:
    case kRunning:
      return Unchanged(c);
    default:  // stopping, shutting-down, terminated
      return IncorrectState(c.instance_id, "started");
  }
}

Transition Terminate(const InstanceLifecycle& c, absl::Time now) {
  if (c.state == kShuttingDown || c.state == kTerminated) return Unchanged(c);
  Transition t = UserShutdown(c, kShuttingDown, c.force_stop, now);
  // The saved RAM goes with the instance (its volume is deleted with it).
  t.hibernate = t.resume = false;
  t.hibernated_at_ms = t.saved_state_bytes = 0;
  return t;
}

// A boot the host could not complete (failed, refused by its re-check, or timed out).
Transition BootNotCompleted(const InstanceLifecycle& c, StateReason reason) {
  if (IsStart(c)) return Builder(c).To(kStopped).Reason(std::move(reason));
  return Builder(c).To(kShuttingDown).Reason(std::move(reason));
}

absl::StatusOr<Transition> Reported(const InstanceLifecycle& c, const Event& e, absl::Time now) {
  switch (e.kind) {
    case EventKind::kAgentRunning:
      if (c.state != kPending) return Unchanged(c);
      {
        Builder b(c);
        b.To(kRunning).HostNotNotified();
        b.t().running_since = now;
        // A resumed (or cold-booted) guest's image is used up: the next hibernate writes anew.
        b.t().resume = false;
        b.t().hibernated_at_ms = 0;
        b.t().saved_state_bytes = 0;
        return b.t();
      }
    case EventKind::kAgentShutoff:
      if (c.state == kStopping) {
        Builder b(c);
        b.To(kStopped).ForceStop(false);
        if (c.hibernate && e.hibernated) {
          b.t().hibernated_at_ms = absl::ToUnixMillis(now);
          b.t().saved_state_bytes = e.saved_state_bytes;
        }
        // Not saved (forced, or the save failed): a plain stop, as EC2 falls back to.
        b.t().hibernate = false;
        return b.t();
      }
      // An OS-initiated shutdown stops an EBS-backed instance (EC2's default behaviour).
      if (c.state == kRunning) {
        return Builder(c)
            .To(kStopped)
            .TransitionReason("Client.InstanceInitiatedShutdown")
            .Reason(InstanceInitiatedShutdown());
      }
      return Unchanged(c);
    case EventKind::kAgentBootFailed:
      if (c.state != kPending) return Unchanged(c);
      return BootNotCompleted(
          c, {"Server.InternalError", absl::StrCat("Server.InternalError: Internal error on ",
                                                   IsStart(c) ? "start: " : "launch: ", e.detail)});
    case EventKind::kAgentRefusedAdmission:
      if (c.state != kPending) return Unchanged(c);
      return BootNotCompleted(c, {"Server.InsufficientInstanceCapacity",
                                  absl::StrCat("Server.InsufficientInstanceCapacity: the host "
                                               "refused the ",
                                               IsStart(c) ? "start: " : "launch: ", e.detail)});
    case EventKind::kAgentAbsent:
      if (c.state != kShuttingDown) return Unchanged(c);
      {
        Builder b(c);
        b.To(kTerminated);
        b.t().terminated_at = now;
        return b.t();
      }
    default:
      return absl::InternalError(
          absl::StrCat("lifecycle: ", EventKindName(e.kind), " is not a host report"));
  }
}

absl::StatusOr<Transition> Timed(const InstanceLifecycle& c, const Event& e, absl::Time now) {
  switch (e.kind) {
    case EventKind::kLaunchTimedOut: {
      if (c.state != kPending) return Unchanged(c);
      StateReason reason{"Server.InternalError",
                         absl::StrCat("Server.InternalError: host ", c.host_id,
                                      " did not start the instance in time")};
      // A start that timed out is stopped again (forced), its disk kept; the host may still be
      // booting it.
      if (IsStart(c)) return Builder(c).To(kStopping).ForceStop(true).Reason(std::move(reason));
      return Builder(c).To(kShuttingDown).Reason(std::move(reason));
    }
    case EventKind::kHostGone: {
      // Never placed on a known host: nothing to clean up.
      if (c.state != kShuttingDown) return Unchanged(c);
      Builder b(c);
      b.To(kTerminated).HostNotNotified();
      b.t().terminated_at = now;
      return b.t();
    }
    case EventKind::kRetentionExpired: {
      if (c.state != kTerminated) return Unchanged(c);
      Builder b(c);
      b.t().changed = true;
      b.t().purge = true;
      b.t().notify_host = true;  // it leaves the host's desired list
      return b.t();
    }
    default:
      return absl::InternalError(
          absl::StrCat("lifecycle: ", EventKindName(e.kind), " is not a timer event"));
  }
}

}  // namespace

absl::string_view EventKindName(EventKind kind) {
  switch (kind) {
    case EventKind::kRunAccepted:
      return "run-accepted";
    case EventKind::kStopRequested:
      return "stop-requested";
    case EventKind::kStopForced:
      return "stop-forced";
    case EventKind::kStartRequested:
      return "start-requested";
    case EventKind::kTerminateRequested:
      return "terminate-requested";
    case EventKind::kAgentRunning:
      return "host-reports-running";
    case EventKind::kAgentShutoff:
      return "host-reports-shutoff";
    case EventKind::kAgentBootFailed:
      return "host-reports-boot-failed";
    case EventKind::kAgentRefusedAdmission:
      return "host-refused-admission";
    case EventKind::kAgentAbsent:
      return "host-reports-absent";
    case EventKind::kLaunchTimedOut:
      return "launch-timed-out";
    case EventKind::kHostGone:
      return "host-gone";
    case EventKind::kRetentionExpired:
      return "retention-expired";
    case EventKind::kHibernateRequested:
      return "hibernate-requested";
    case EventKind::kVolumeFailed:
      return "volume-failed";
  }
  return "unknown-event";
}

InstanceLifecycle InstanceLifecycle::Of(const v1::InstanceRecord& r) {
  return {r.instance_id(),        r.host_id(),           r.state(),
          r.boot_count(),         r.force_stop(),        r.hibernate_requested(),
          r.hibernated_time_ms(), r.saved_state_bytes(), r.resume_requested()};
}

bool HoldsCapacity(v1::InstanceStateCode s) {
  return s == kPending || s == kRunning || s == kShuttingDown || s == kStopping;
}

v1::DesiredGoal GoalOf(v1::InstanceStateCode s) {
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

std::string UserInitiatedReason(absl::Time now) {
  return absl::StrCat("User initiated (",
                      absl::FormatTime("%Y-%m-%d %H:%M:%S GMT", now, absl::UTCTimeZone()), ")");
}

absl::StatusOr<Transition> Apply(const InstanceLifecycle& c, const Event& e, absl::Time now) {
  if (c.state == kNone) {
    if (e.kind != EventKind::kRunAccepted) {
      return absl::InternalError(absl::StrCat("lifecycle: ", EventKindName(e.kind), " for ",
                                              c.instance_id, ", which has no record"));
    }
    Builder b(c);
    b.To(kPending).ForceStop(false);
    b.t().boot_count = 1;
    b.t().launch_time = now;
    return b.t();
  }
  if (!v1::InstanceStateCode_IsValid(c.state)) {
    return absl::InternalError(
        absl::StrCat("lifecycle: ", c.instance_id, " has unknown state ", c.state));
  }
  switch (e.kind) {
    case EventKind::kRunAccepted:
      return absl::InternalError(
          absl::StrCat("lifecycle: ", c.instance_id, " was accepted already"));
    case EventKind::kStopRequested:
      return Stop(c, false, now);
    case EventKind::kStopForced:
      return Stop(c, true, now);
    case EventKind::kStartRequested:
      return Start(c, now);
    case EventKind::kTerminateRequested:
      return Terminate(c, now);
    case EventKind::kHibernateRequested:
      return Hibernate(c, now);
    case EventKind::kVolumeFailed:
      // Only a boot waits for its volumes; the instance ends as a boot the host could not do.
      if (c.state != kPending) return Unchanged(c);
      {
        StateReason reason{e.reason_code.empty() ? "Server.InternalError" : e.reason_code,
                           LaunchVolumeReasonMessage(e.reason_code, e.detail)};
        return BootNotCompleted(c, std::move(reason));
      }
    case EventKind::kAgentRunning:
    case EventKind::kAgentShutoff:
    case EventKind::kAgentBootFailed:
    case EventKind::kAgentRefusedAdmission:
    case EventKind::kAgentAbsent:
      return Reported(c, e, now);
    case EventKind::kLaunchTimedOut:
    case EventKind::kHostGone:
    case EventKind::kRetentionExpired:
      return Timed(c, e, now);
  }
  return absl::InternalError(absl::StrCat("lifecycle: unknown event ", static_cast<int>(e.kind)));
}

void Record(const Transition& t, v1::InstanceRecord& r) {
  if (!t.changed || t.purge) return;
  r.set_state(t.state);
  r.set_goal(GoalOf(t.state));
  r.set_boot_count(t.boot_count);
  r.set_force_stop(t.force_stop);
  r.set_hibernate_requested(t.hibernate);
  r.set_resume_requested(t.resume);
  r.set_hibernated_time_ms(t.hibernated_at_ms);
  r.set_saved_state_bytes(t.saved_state_bytes);
  if (t.state_transition_reason) r.set_state_transition_reason(*t.state_transition_reason);
  if (t.state_reason) {
    r.set_state_reason_code(t.state_reason->code);
    r.set_state_reason_message(t.state_reason->message);
  }
  if (t.launch_time) {
    r.set_launch_time_ms(absl::ToUnixMillis(*t.launch_time));
    r.set_running_time_ms(0);
    r.clear_timeline();
  }
  if (t.running_since) r.set_running_time_ms(absl::ToUnixMillis(*t.running_since));
  if (t.terminated_at) r.set_terminated_time_ms(absl::ToUnixMillis(*t.terminated_at));
}

std::optional<Event> EventOf(const v1::ObservedInstance& o) {
  switch (o.state()) {
    case v1::OBSERVED_STATE_RUNNING:
      return Event{EventKind::kAgentRunning, ""};
    case v1::OBSERVED_STATE_SHUTOFF:
      return Event{EventKind::kAgentShutoff, "", o.hibernated(), o.saved_state_bytes()};
    case v1::OBSERVED_STATE_ABSENT:
      return Event{EventKind::kAgentAbsent, ""};
    case v1::OBSERVED_STATE_FAILED:
      return Event{o.failure() == v1::BOOT_FAILURE_ADMISSION ? EventKind::kAgentRefusedAdmission
                                                             : EventKind::kAgentBootFailed,
                   o.message()};
    default:  // preparing, unspecified
      return std::nullopt;
  }
}

std::vector<Event> DueEvents(const v1::InstanceRecord& r, bool host_registered, absl::Time now,
                             const Timeouts& timeouts) {
  const int64_t now_ms = absl::ToUnixMillis(now);
  std::vector<Event> due;
  if (now_ms - r.launch_time_ms() > absl::ToInt64Milliseconds(timeouts.launch_timeout)) {
    due.push_back({EventKind::kLaunchTimedOut, ""});
  }
  if (now_ms - r.terminated_time_ms() > absl::ToInt64Milliseconds(timeouts.terminated_retention)) {
    due.push_back({EventKind::kRetentionExpired, ""});
  }
  if (!host_registered) due.push_back({EventKind::kHostGone, ""});
  return due;
}

}  // namespace minicloud::controller::lifecycle
