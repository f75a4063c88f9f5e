#pragma once

// The CloudFormation stack lifecycle in one place: given a stack record, what the controller
// observed of the physical resources, and the time, which step comes next. Pure: no I/O, no
// clock, no locks. StackService (controller/service/stack_service.h) asks NextSteps, carries out
// the steps that need I/O (kCreate, kDelete: it calls the EC2 services, then reports the result
// with kCreateStarted or kResourceFailed / kDeleteStarted or kDeleteFailed) and records every
// step with Apply, which writes statuses, reasons and events into the record.
//
// Forward (CREATE_IN_PROGRESS, UPDATE_IN_PROGRESS): a resource starts once every resource it
// needs is complete; an in-progress resource completes when its physical resource is ready and
// (CreationPolicy.ResourceSignal, WaitCondition) enough SUCCESS signals came; it fails on a
// failed physical resource, a FAILURE signal, its signal timeout or the stack's
// TimeoutInMinutes. A failure cancels what is in progress, then the stack follows OnFailure:
// ROLLBACK_IN_PROGRESS, DELETE_IN_PROGRESS, or CREATE_FAILED (DO_NOTHING, DisableRollback);
// an update goes to UPDATE_ROLLBACK_IN_PROGRESS.
//
// Backward (ROLLBACK_IN_PROGRESS, DELETE_IN_PROGRESS, UPDATE_COMPLETE_CLEANUP_IN_PROGRESS,
// UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS): resources are deleted in reverse dependency
// order (a resource once nothing left needs it); DeletionPolicy Retain skips the deletion of a
// stack; cleanup deletes the resources an update removed and the old physical ids of replaced
// ones, only once every new one is in (UPDATE_COMPLETE_CLEANUP_IN_PROGRESS follows the forward
// phase's end). A failed update: UPDATE_ROLLBACK_IN_PROGRESS (the old resources are all still
// there: the record goes back to them) -> UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS (deletes
// what the failed update made: resources it added, replacements) -> UPDATE_ROLLBACK_COMPLETE.

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "minicloud/v1/stack_records.pb.h"

namespace minicloud::controller::lifecycle {

// What the controller sees of one physical resource (by physical id).
enum class Observed {
  kPending,  // being made or being deleted
  kReady,    // made (an instance running, a volume available, an attachment attached)
  kFailed,   // making or deleting it failed (reason)
  kGone,     // it no longer exists (deleted, or never made)
};
struct Observation {
  Observed state = Observed::kPending;
  std::string reason;
};
// Physical id -> what the controller sees. A physical id missing here counts as kPending.
using Observations = std::map<std::string, Observation>;

enum class StepKind {
  kCreate,            // I/O: make the resource (or, updating, its replacement)
  kCreateStarted,     // the resource is being made: physical_id
  kResourceComplete,  // CREATE_COMPLETE / UPDATE_COMPLETE
  kResourceFailed,    // CREATE_FAILED / UPDATE_FAILED with reason
  kDelete,            // I/O: delete physical_id
  kDeleteStarted,     // DELETE_IN_PROGRESS of physical_id
  kResourceDeleted,   // DELETE_COMPLETE of physical_id
  kDeleteFailed,      // DELETE_FAILED with reason
  kDeleteSkipped,     // DELETE_SKIPPED (DeletionPolicy: Retain)
  kStackStatus,       // the stack enters `status` with reason
};
absl::string_view StepKindName(StepKind kind);

struct Step {
  StepKind kind;
  std::string logical_id = "";   // "" for kStackStatus
  std::string physical_id = "";  // kDelete*, kCreateStarted, kResourceDeleted
  std::string status = "";       // kStackStatus
  std::string reason = "";
  bool operator==(const Step& o) const {
    return kind == o.kind && logical_id == o.logical_id && physical_id == o.physical_id &&
           status == o.status && reason == o.reason;
  }
};
std::string StepDebugString(const Step& s);

// True for the stack statuses in which nothing more happens without a new request.
bool IsStackSettled(absl::string_view status);
// True for a resource status that counts as made (CREATE_COMPLETE, UPDATE_COMPLETE).
bool IsResourceComplete(absl::string_view status);

// The steps due now. Resource steps come in template order; a kStackStatus step, when due, is
// the last one. Empty: nothing to do until something changes.
std::vector<Step> NextSteps(const v1::StackRecord& stack, const Observations& observed,
                            absl::Time now);

// Writes a step into the record (resource status, reason, physical id, times) and appends the
// event it makes. `new_uuid` names stack events (CloudFormation's stack EventIds are UUIDs;
// resource events are "<LogicalId>-<STATUS>-<time>"). kCreate and kDelete are not recorded.
void Apply(v1::StackRecord& stack, const Step& step, absl::Time now,
           const std::function<std::string()>& new_uuid);

// CloudFormation's resource EventId: "<LogicalId>-<STATUS>-<YYYY-MM-DDTHH:MM:SS.sssZ>".
std::string ResourceEventId(absl::string_view logical_id, absl::string_view status,
                            absl::Time time);

// Appends an event of resource `r` (its physical id and type) with a unique EventId.
void AddResourceEvent(v1::StackRecord& stack, const v1::StackResourceRecord& r,
                      absl::string_view status, absl::string_view reason, absl::Time now);

// UPDATE_IN_PROGRESS: the made resources (not being replaced themselves) that need a resource
// whose replacement is complete: their properties may refer to it (VolumeAttachment.InstanceId
// after the instance's replacement) and are to be evaluated again; a change replaces them too
// (MarkForReplacement), and so on down the graph. Empty in any other stack status.
std::vector<std::string> ResourcesToRecheck(const v1::StackRecord& stack);

// UpdateStack: keeps the values an update rollback restores (once per update).
void KeepPrevious(v1::StackResourceRecord& r);
// The resource gets a new physical resource (made by the forward phase once its needs are
// complete); the old physical id is deleted in UPDATE_COMPLETE_CLEANUP_IN_PROGRESS, or kept by
// an update rollback. Keeps the previous values.
void MarkForReplacement(v1::StackResourceRecord& r);

// The reason a resource's signals failed it, or "" when they do not (yet).
std::string SignalFailure(const v1::StackResourceRecord& r);
// Distinct SUCCESS signals (by UniqueId).
int SuccessSignals(const v1::StackResourceRecord& r);

}  // namespace minicloud::controller::lifecycle
