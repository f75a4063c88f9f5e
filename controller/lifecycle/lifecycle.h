#pragma once

// The instance lifecycle in one place: every state an instance can be in, every event that can
// happen to it, and what each (state, event) pair does. Pure: no I/O, no clock, no locks; the
// services load a record, ask Apply() what the event does to it, and store the answer (Record()).
//
//   (none) --run accepted--> pending --host: running--> running
//   pending|running --stop--> stopping --host: shut off--> stopped --start--> pending
//   running --host: shut off (guest powered itself off)--> stopped
//   pending (first boot) --host: failed | refused | timed out | a volume failed--> shutting-down
//   pending (a start)    --host: failed | refused | a volume failed--> stopped;
//                        timed out--> stopping (forced)
//   any but shutting-down|terminated --terminate--> shutting-down --host: absent--> terminated
//   shutting-down on a host that is not registered --> terminated
//   terminated, kept for the retention --> forgotten (purged)
//   running --hibernate--> stopping (RAM saved) --host: shut off, saved--> stopped (hibernated)
//   stopped (hibernated) --start--> pending (resume) --host: running--> running (same processes)
//   stopped (hibernated more than kMaxHibernation ago) --start--> pending (cold boot, image
//   dropped)
//
// EC2's codes: pending 0, running 16, shutting-down 32, terminated 48, stopping 64, stopped 80
// (controller/service/instance_state.h). Capacity is held while the domain exists or is about to:
// pending, running, stopping, shutting-down.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "minicloud/v1/common.pb.h"
#include "minicloud/v1/host.pb.h"
#include "minicloud/v1/records.pb.h"

namespace minicloud::controller::lifecycle {

// What can happen to an instance. Add an event here and lifecycle_test.cc fails until its table
// lists the event in every state.
enum class EventKind {
  kRunAccepted,            // RunInstances placed a new instance (there is no record yet)
  kStopRequested,          // StopInstances
  kStopForced,             // StopInstances with Force
  kStartRequested,         // StartInstances (the caller has re-checked the host's capacity)
  kTerminateRequested,     // TerminateInstances
  kAgentRunning,           // the host reports the domain running
  kAgentShutoff,           // the host reports the domain off
  kAgentBootFailed,        // the host could not boot it (v1::BOOT_FAILURE_ERROR)
  kAgentRefusedAdmission,  // the host's own re-check refused the boot (BOOT_FAILURE_ADMISSION)
  kAgentAbsent,            // the host reports no domain and no disks
  kLaunchTimedOut,         // pending for longer than the launch timeout
  kHostGone,               // the instance's host is not registered
  kRetentionExpired,       // terminated for longer than the retention
  kHibernateRequested,     // StopInstances with Hibernate (the caller checked it is configured)
  // An EBS volume the boot needs cannot be made (volume_failure.h says when a failure is final):
  // Event.reason_code is the StateReason code, Event.detail says which volume and why.
  kVolumeFailed,
};
inline constexpr int kEventKindCount = static_cast<int>(EventKind::kVolumeFailed) + 1;

// EC2 keeps a hibernated instance's RAM for at most 60 days ("We do not support keeping an
// instance hibernated for more than 60 days", EC2 User Guide, hibernation limitations): a start
// after that boots the disk cold and drops the saved image.
inline constexpr absl::Duration kMaxHibernation = absl::Hours(24 * 60);
absl::string_view EventKindName(EventKind kind);

struct Event {
  EventKind kind;
  std::string detail;  // agent failures: the host's message, quoted in the StateReason
  // kAgentShutoff after a hibernate: the host saved the RAM image (this long) on the
  // hibernation volume; false: it could not and shut the guest down instead.
  bool hibernated = false;
  int64_t saved_state_bytes = 0;
  // kVolumeFailed: EC2's StateReason code (volume_failure.h; empty = Server.InternalError).
  std::string reason_code = {};
};

// The part of an instance record the lifecycle decides on.
struct InstanceLifecycle {
  std::string instance_id;
  std::string host_id;
  // UNSPECIFIED: no record yet (the only state kRunAccepted applies to).
  v1::InstanceStateCode state = v1::INSTANCE_STATE_CODE_UNSPECIFIED;
  int32_t boot_count = 0;  // 1 for the first launch, +1 for every start
  bool force_stop = false;
  bool hibernate = false;         // the pending stop saves the RAM
  int64_t hibernated_at_ms = 0;   // a saved RAM image exists, taken then (0: none)
  int64_t saved_state_bytes = 0;  // its length
  bool resume = false;            // the pending boot restores it

  static InstanceLifecycle Of(const v1::InstanceRecord& r);
};

// EC2's StateReason (`Client.UserInitiatedShutdown`, ...). An empty code means "none".
struct StateReason {
  std::string code;
  std::string message;
};

enum class CapacityChange { kNone, kTake, kRelease };

// What an event does. With changed == false the instance stays exactly as it was (EC2 answers
// such a call with the unchanged state, or the host's report is stale).
struct Transition {
  bool changed = false;
  v1::InstanceStateCode state = v1::INSTANCE_STATE_CODE_UNSPECIFIED;
  int32_t boot_count = 0;
  bool force_stop = false;  // goal STOPPED: power off at once instead of an ACPI shutdown
  // Hibernation, always written by Record: the pending stop saves the RAM; the pending boot
  // restores the saved image; the image (time taken, 0 = none, and its length).
  bool hibernate = false;
  bool resume = false;
  int64_t hibernated_at_ms = 0;
  int64_t saved_state_bytes = 0;
  // Set: replaces the stored value ("" / an empty code clears it). Unset: kept.
  std::optional<std::string> state_transition_reason;
  std::optional<StateReason> state_reason;
  // A new boot: LaunchTime (EC2's is the last start) = now, running time and timeline cleared.
  std::optional<absl::Time> launch_time;
  std::optional<absl::Time> running_since;
  std::optional<absl::Time> terminated_at;
  bool purge = false;        // the record is forgotten
  bool notify_host = false;  // the host's desired state changed: wake its watch
  CapacityChange capacity = CapacityChange::kNone;
};

// The one transition function. Allowed events return the Transition (possibly unchanged);
// refused ones the EC2 error (IncorrectInstanceState worded as EC2 for the API verbs,
// InternalError for an event that cannot concern the state, such as a second kRunAccepted).
absl::StatusOr<Transition> Apply(const InstanceLifecycle& current, const Event& event,
                                 absl::Time now);

// Writes a changed transition into `r` (state, goal, boot count, reasons, times). Does nothing
// for an unchanged one; a purge is the caller's to carry out.
void Record(const Transition& t, v1::InstanceRecord& r);

// The event a host's report of one instance stands for; nullopt when it moves nothing
// (preparing, unspecified). A FAILED report without a reason counts as a boot failure.
std::optional<Event> EventOf(const v1::ObservedInstance& observed);

// The timer events due for `r` at `now`: kLaunchTimedOut once it was launched (or started) more
// than `launch_timeout` ago, kRetentionExpired once terminated more than `retention` ago,
// kHostGone when its host is not registered. Whether one applies is Apply's to say (a running
// instance ignores kLaunchTimedOut); the reconcile applies the first that changes something.
struct Timeouts {
  absl::Duration launch_timeout;
  absl::Duration terminated_retention;
};
std::vector<Event> DueEvents(const v1::InstanceRecord& r, bool host_registered, absl::Time now,
                             const Timeouts& timeouts);

// States that hold host capacity (the domain exists or is about to).
bool HoldsCapacity(v1::InstanceStateCode s);
// What the host is told to do with an instance in state `s`.
v1::DesiredGoal GoalOf(v1::InstanceStateCode s);

// "User initiated (2026-11-23 16:35:21 GMT)": EC2's StateTransitionReason for a user's stop or
// terminate.
std::string UserInitiatedReason(absl::Time now);

}  // namespace minicloud::controller::lifecycle
