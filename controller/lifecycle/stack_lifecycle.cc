#include "controller/lifecycle/stack_lifecycle.h"

#include <algorithm>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace minicloud::controller::lifecycle {
namespace {

constexpr absl::string_view kCreateInProgress = "CREATE_IN_PROGRESS";
constexpr absl::string_view kUpdateInProgress = "UPDATE_IN_PROGRESS";
constexpr absl::string_view kRollbackInProgress = "ROLLBACK_IN_PROGRESS";
constexpr absl::string_view kDeleteInProgress = "DELETE_IN_PROGRESS";
constexpr absl::string_view kCleanup = "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS";
constexpr absl::string_view kUpdateRollback = "UPDATE_ROLLBACK_IN_PROGRESS";
constexpr absl::string_view kRollbackCleanup = "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS";
constexpr absl::string_view kStackType = "AWS::CloudFormation::Stack";
constexpr absl::string_view kWaitCondition = "AWS::CloudFormation::WaitCondition";

int64_t Ms(absl::Time t) { return absl::ToUnixMillis(t); }

bool Forward(absl::string_view status) {
  return status == kCreateInProgress || status == kUpdateInProgress;
}

bool InProgress(absl::string_view status) { return absl::EndsWith(status, "_IN_PROGRESS"); }
bool Failed(absl::string_view status) {
  return status == "CREATE_FAILED" || status == "UPDATE_FAILED";
}
bool DeleteDone(absl::string_view status) {
  return status == "DELETE_COMPLETE" || status == "DELETE_SKIPPED";
}

// The resource's replacement is being made (UpdateStack changed a property that replaces it).
bool Replacing(const v1::StackResourceRecord& r) { return !r.replaced_physical_id().empty(); }

Observation ObservedOf(const Observations& observed, const std::string& physical_id) {
  auto it = observed.find(physical_id);
  return it == observed.end() ? Observation{} : it->second;
}

// In the backward phases: what of `r` is deleted, if anything. Whole = the resource itself;
// otherwise one physical id of it (cleanup of a replaced one, rollback of a replacement).
struct Item {
  const v1::StackResourceRecord* r = nullptr;
  bool whole = true;
  std::string physical_id;
  std::string status;  // DELETE_* or another status (not started)
};

std::vector<Item> ItemsOf(const v1::StackRecord& s) {
  std::vector<Item> items;
  for (const auto& r : s.resources()) {
    if (s.status() == kRollbackInProgress || s.status() == kDeleteInProgress) {
      if (r.status().empty()) continue;
      items.push_back({&r, true, r.physical_id(), r.status()});
    } else if (s.status() == kCleanup) {
      if (r.removed()) {
        items.push_back({&r, true, r.physical_id(), r.status()});
      } else if (Replacing(r)) {
        items.push_back({&r, false, r.replaced_physical_id(), r.cleanup_status()});
      }
    } else if (s.status() == kRollbackCleanup) {
      if (r.created_by_update() && !r.status().empty()) {
        items.push_back({&r, true, r.physical_id(), r.status()});
      } else if (Replacing(r) && !r.physical_id().empty()) {
        items.push_back({&r, false, r.physical_id(), r.cleanup_status()});
      }
    }
  }
  return items;
}

std::string FailedList(const std::vector<std::string>& ids) {
  return absl::StrCat("[", absl::StrJoin(ids, ", "), "]");
}

void ForwardSteps(const v1::StackRecord& s, const Observations& observed, absl::Time now,
                  std::vector<Step>& steps) {
  const bool update = s.status() == kUpdateInProgress;
  const bool timed_out =
      s.timeout_in_minutes() > 0 &&
      now >= absl::FromUnixMillis(s.operation_start_ms()) + absl::Minutes(s.timeout_in_minutes());
  std::vector<std::string> failed;
  std::set<std::string> complete;
  bool any_in_progress = false, all_complete = true;
  for (const auto& r : s.resources()) {
    if (r.removed()) continue;
    if (IsResourceComplete(r.status())) {
      complete.insert(r.logical_id());
      continue;
    }
    all_complete = false;
    if (Failed(r.status())) {
      failed.push_back(r.logical_id());
      continue;
    }
    if (!InProgress(r.status())) continue;
    const Observation o = ObservedOf(observed, r.physical_id());
    // Signals count while the resource is being made (not during an in-place update).
    const bool waits_signals =
        r.signal_count() > 0 && (r.status() == kCreateInProgress || Replacing(r));
    std::string failure;
    if (o.state == Observed::kFailed || o.state == Observed::kGone) {
      failure = o.reason.empty() ? "The resource no longer exists" : o.reason;
    } else if (waits_signals && !SignalFailure(r).empty()) {
      failure = SignalFailure(r);
    } else if (o.state == Observed::kReady &&
               (!waits_signals || SuccessSignals(r) >= r.signal_count())) {
      steps.push_back({StepKind::kResourceComplete, r.logical_id()});
      complete.insert(r.logical_id());
      continue;
    } else if (waits_signals &&
               now >= absl::FromUnixMillis(r.status_time_ms() + r.signal_timeout_ms())) {
      failure = r.type() == kWaitCondition
                    ? absl::StrCat("WaitCondition timed out. Received ", SuccessSignals(r),
                                   " conditions when expecting ", r.signal_count())
                    : absl::StrCat("Failed to receive ", r.signal_count(),
                                   " resource signal(s) within the specified duration");
    }
    if (!failure.empty()) {
      steps.push_back({StepKind::kResourceFailed, r.logical_id(), "", "", failure});
      failed.push_back(r.logical_id());
      continue;
    }
    any_in_progress = true;
  }
  if (!failed.empty() || timed_out) {
    // Whatever is still in progress is cancelled.
    std::set<std::string> done(failed.begin(), failed.end());
    for (const auto& r : s.resources()) {
      if (r.removed() || !InProgress(r.status()) || done.count(r.logical_id()) ||
          complete.count(r.logical_id())) {
        continue;
      }
      steps.push_back({StepKind::kResourceFailed, r.logical_id(), "", "",
                       update && !Replacing(r) && !r.created_by_update()
                           ? "Resource update cancelled"
                           : "Resource creation cancelled"});
      failed.push_back(r.logical_id());
    }
    std::string reason =
        failed.empty() || timed_out
            ? std::string(update ? "Stack update time exceeded the specified timeout. "
                                 : "Stack creation time exceeded the specified timeout. ")
            : absl::StrCat("The following resource(s) failed to ", update ? "update" : "create",
                           ": ", FailedList(failed), ". ");
    std::string next;
    if (update) {
      next = s.disable_rollback() ? "UPDATE_FAILED" : std::string(kUpdateRollback);
    } else if (s.on_failure() == "DELETE") {
      next = std::string(kDeleteInProgress);
      absl::StrAppend(&reason, "Delete requested by user.");
    } else if (s.on_failure() == "DO_NOTHING" || s.disable_rollback()) {
      next = "CREATE_FAILED";
    } else {
      next = std::string(kRollbackInProgress);
      absl::StrAppend(&reason, "Rollback requested by user.");
    }
    while (!reason.empty() && reason.back() == ' ') reason.pop_back();
    steps.push_back({StepKind::kStackStatus, "", "", next, reason});
    return;
  }
  // Start every resource whose needs are all made.
  for (const auto& r : s.resources()) {
    if (r.removed() || !r.status().empty()) continue;
    bool ready = true;
    for (const auto& need : r.needs()) ready = ready && complete.count(need) > 0;
    if (ready) {
      steps.push_back({StepKind::kCreate, r.logical_id()});
      any_in_progress = true;
    }
  }
  if (!any_in_progress && steps.empty() && all_complete) {
    if (!update) {
      steps.push_back({StepKind::kStackStatus, "", "", "CREATE_COMPLETE", ""});
      return;
    }
    bool cleanup = false;
    for (const auto& r : s.resources()) cleanup = cleanup || r.removed() || Replacing(r);
    steps.push_back(
        {StepKind::kStackStatus, "", "", cleanup ? std::string(kCleanup) : "UPDATE_COMPLETE", ""});
  }
}

void BackwardSteps(const v1::StackRecord& s, const Observations& observed,
                   std::vector<Step>& steps) {
  std::vector<Item> items = ItemsOf(s);
  std::reverse(items.begin(), items.end());  // the last made goes first
  const bool retain_applies = s.status() == kDeleteInProgress;
  // Logical ids whose deletion is not finished (they block what they need).
  std::set<std::string> pending;
  for (const Item& i : items) {
    if (!DeleteDone(i.status)) pending.insert(i.r->logical_id());
  }
  std::vector<std::string> failed;
  bool busy = false;
  for (Item& i : items) {
    const auto& r = *i.r;
    if (DeleteDone(i.status)) continue;
    if (i.status == "DELETE_FAILED") {
      failed.push_back(r.logical_id());
      continue;
    }
    if (i.status == kDeleteInProgress) {
      const Observation o = ObservedOf(observed, i.physical_id);
      if (o.state == Observed::kGone) {
        steps.push_back({StepKind::kResourceDeleted, r.logical_id(), i.physical_id});
        pending.erase(r.logical_id());
      } else if (o.state == Observed::kFailed) {
        steps.push_back({StepKind::kDeleteFailed, r.logical_id(), i.physical_id, "", o.reason});
        failed.push_back(r.logical_id());
      } else {
        busy = true;
      }
      continue;
    }
    if (retain_applies && i.whole && r.deletion_policy() == "Retain") {
      steps.push_back({StepKind::kDeleteSkipped, r.logical_id(), i.physical_id});
      pending.erase(r.logical_id());
      continue;
    }
    // Not started: wait until nothing left needs it. A dependent whose deletion failed keeps
    // it (the stack's deletion fails).
    bool needed = false, blocked = false;
    for (const Item& other : items) {
      if (other.r == i.r) continue;
      bool needs = false;
      for (const auto& n : other.r->needs()) needs = needs || n == r.logical_id();
      if (!needs) continue;
      if (other.status == "DELETE_FAILED") blocked = true;
      if (pending.count(other.r->logical_id()) && other.status != "DELETE_FAILED") needed = true;
    }
    if (needed) {
      busy = true;
      continue;
    }
    if (blocked) continue;
    if (i.physical_id.empty()) {
      // Never made: nothing to delete.
      steps.push_back({StepKind::kResourceDeleted, r.logical_id(), ""});
      pending.erase(r.logical_id());
      continue;
    }
    steps.push_back({StepKind::kDelete, r.logical_id(), i.physical_id});
    busy = true;
  }
  if (busy) return;
  const std::string reason =
      failed.empty()
          ? ""
          : absl::StrCat("The following resource(s) failed to delete: ", FailedList(failed), ".");
  std::string next;
  if (s.status() == kRollbackInProgress) {
    next = failed.empty() ? "ROLLBACK_COMPLETE" : "ROLLBACK_FAILED";
  } else if (s.status() == kDeleteInProgress) {
    next = failed.empty() ? "DELETE_COMPLETE" : "DELETE_FAILED";
  } else if (s.status() == kCleanup) {
    next = "UPDATE_COMPLETE";
  } else {
    // As in UPDATE_COMPLETE_CLEANUP_IN_PROGRESS, a failed deletion is its resource's
    // DELETE_FAILED event; the stack is back where it was before the update either way.
    next = "UPDATE_ROLLBACK_COMPLETE";
  }
  steps.push_back({StepKind::kStackStatus, "", "", next, reason});
}

v1::StackResourceRecord* FindResource(v1::StackRecord& s, absl::string_view logical_id) {
  for (auto& r : *s.mutable_resources()) {
    if (r.logical_id() == logical_id) return &r;
  }
  return nullptr;
}

void AddEvent(v1::StackRecord& s, std::string id, absl::string_view logical_id,
              absl::string_view physical_id, absl::string_view type, absl::string_view status,
              absl::string_view reason, absl::Time now, absl::string_view properties = "") {
  // Two events of one resource and status in the same millisecond get distinct ids.
  const std::string base = id;
  for (int n = 2, i = s.events_size() - 1; i >= 0 && i >= s.events_size() - 32; --i) {
    if (s.events(i).event_id() == id) {
      id = absl::StrCat(base, "-", n++);
      i = s.events_size();  // look again from the newest
    }
  }
  auto* e = s.add_events();
  e->set_event_id(std::move(id));
  e->set_logical_id(std::string(logical_id));
  e->set_physical_id(std::string(physical_id));
  e->set_resource_type(std::string(type));
  e->set_time_ms(Ms(now));
  e->set_status(std::string(status));
  e->set_reason(std::string(reason));
  e->set_properties_json(std::string(properties));
  e->set_client_request_token(s.client_request_token());
}

void SetStatus(v1::StackRecord& s, v1::StackResourceRecord& r, absl::string_view status,
               absl::string_view reason, absl::string_view physical_id, absl::Time now) {
  r.set_status(std::string(status));
  r.set_reason(std::string(reason));
  r.set_status_time_ms(Ms(now));
  AddEvent(s, ResourceEventId(r.logical_id(), status, now), r.logical_id(), physical_id, r.type(),
           status, reason, now, r.properties_json());
}

// The update is over: forget what rollback would have needed.
void FinishUpdate(v1::StackRecord& s) {
  google::protobuf::RepeatedPtrField<v1::StackResourceRecord> kept;
  for (auto& r : *s.mutable_resources()) {
    if (r.removed()) continue;
    r.clear_replaced_physical_id();
    r.clear_created_by_update();
    r.clear_previous_metadata_json();
    r.clear_previous_properties_json();
    r.clear_previous_attributes_json();
    r.clear_cleanup_status();
    r.clear_updated();
    *kept.Add() = std::move(r);
  }
  s.mutable_resources()->Swap(&kept);
  s.clear_previous_template_body();
}

// The update rolled back: what it made is gone, what it changed is as before.
void RevertUpdate(v1::StackRecord& s) {
  google::protobuf::RepeatedPtrField<v1::StackResourceRecord> kept;
  for (auto& r : *s.mutable_resources()) {
    if (r.created_by_update()) continue;
    if (Replacing(r)) r.set_physical_id(r.replaced_physical_id());
    if (r.updated()) {
      r.set_metadata_json(r.previous_metadata_json());
      r.set_properties_json(r.previous_properties_json());
      r.set_attributes_json(r.previous_attributes_json());
    }
    r.set_removed(false);
    if (!r.status().empty() && !IsResourceComplete(r.status())) r.set_status("UPDATE_COMPLETE");
    *kept.Add() = std::move(r);
  }
  s.mutable_resources()->Swap(&kept);
  FinishUpdate(s);
}

}  // namespace

absl::string_view StepKindName(StepKind kind) {
  switch (kind) {
    case StepKind::kCreate:
      return "create";
    case StepKind::kCreateStarted:
      return "create-started";
    case StepKind::kResourceComplete:
      return "complete";
    case StepKind::kResourceFailed:
      return "failed";
    case StepKind::kDelete:
      return "delete";
    case StepKind::kDeleteStarted:
      return "delete-started";
    case StepKind::kResourceDeleted:
      return "deleted";
    case StepKind::kDeleteFailed:
      return "delete-failed";
    case StepKind::kDeleteSkipped:
      return "delete-skipped";
    case StepKind::kStackStatus:
      return "stack";
  }
  return "?";
}

std::string StepDebugString(const Step& s) {
  return absl::StrCat(StepKindName(s.kind), " ", s.logical_id, " ", s.physical_id, " ", s.status,
                      " ", s.reason);
}

bool IsStackSettled(absl::string_view status) { return !InProgress(status); }

bool IsResourceComplete(absl::string_view status) {
  return status == "CREATE_COMPLETE" || status == "UPDATE_COMPLETE";
}

int SuccessSignals(const v1::StackResourceRecord& r) {
  std::set<std::string> ids;
  for (const auto& sig : r.signals()) {
    if (sig.status() == "SUCCESS") ids.insert(sig.unique_id());
  }
  return static_cast<int>(ids.size());
}

std::string SignalFailure(const v1::StackResourceRecord& r) {
  for (const auto& sig : r.signals()) {
    if (sig.status() != "FAILURE") continue;
    if (r.type() == kWaitCondition) {
      return absl::StrCat("WaitCondition received failed message: '", sig.reason(),
                          "' for uniqueId: ", sig.unique_id());
    }
    std::string msg = absl::StrCat("Received FAILURE signal with UniqueId ", sig.unique_id());
    if (!sig.reason().empty()) absl::StrAppend(&msg, ". Reason: ", sig.reason());
    return msg;
  }
  return "";
}

std::vector<std::string> ResourcesToRecheck(const v1::StackRecord& s) {
  std::vector<std::string> out;
  if (s.status() != kUpdateInProgress) return out;
  std::set<std::string> replaced;
  for (const auto& r : s.resources()) {
    if (Replacing(r) && IsResourceComplete(r.status())) replaced.insert(r.logical_id());
  }
  if (replaced.empty()) return out;
  for (const auto& r : s.resources()) {
    if (r.removed() || Replacing(r) || r.created_by_update() || !IsResourceComplete(r.status())) {
      continue;
    }
    for (const auto& n : r.needs()) {
      if (replaced.count(n)) {
        out.push_back(r.logical_id());
        break;
      }
    }
  }
  return out;
}

void KeepPrevious(v1::StackResourceRecord& r) {
  if (r.updated()) return;
  r.set_updated(true);
  r.set_previous_metadata_json(r.metadata_json());
  r.set_previous_properties_json(r.properties_json());
  r.set_previous_attributes_json(r.attributes_json());
}

void MarkForReplacement(v1::StackResourceRecord& r) {
  KeepPrevious(r);
  r.set_replaced_physical_id(r.physical_id());
  r.clear_physical_id();
  r.clear_status();
  r.clear_signals();
}

void AddResourceEvent(v1::StackRecord& stack, const v1::StackResourceRecord& r,
                      absl::string_view status, absl::string_view reason, absl::Time now) {
  AddEvent(stack, ResourceEventId(r.logical_id(), status, now), r.logical_id(), r.physical_id(),
           r.type(), status, reason, now);
}

std::vector<Step> NextSteps(const v1::StackRecord& stack, const Observations& observed,
                            absl::Time now) {
  std::vector<Step> steps;
  if (Forward(stack.status())) {
    ForwardSteps(stack, observed, now, steps);
  } else if (stack.status() == kUpdateRollback) {
    // The resources as they were before the update are all still there (nothing old is deleted
    // before UPDATE_COMPLETE_CLEANUP_IN_PROGRESS) and the forward phase cancelled whatever was
    // in progress: the stack is rolled back, what the update made goes in the cleanup.
    steps.push_back({StepKind::kStackStatus, "", "", std::string(kRollbackCleanup), ""});
  } else if (stack.status() == kRollbackInProgress || stack.status() == kDeleteInProgress ||
             stack.status() == kCleanup || stack.status() == kRollbackCleanup) {
    BackwardSteps(stack, observed, steps);
  }
  return steps;
}

std::string ResourceEventId(absl::string_view logical_id, absl::string_view status,
                            absl::Time time) {
  return absl::StrCat(logical_id, "-", status, "-",
                      absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", time, absl::UTCTimeZone()));
}

void Apply(v1::StackRecord& s, const Step& step, absl::Time now,
           const std::function<std::string()>& new_uuid) {
  if (step.kind == StepKind::kStackStatus) {
    s.set_status(step.status);
    s.set_reason(step.reason);
    if (step.status == "DELETE_COMPLETE") s.set_deletion_time_ms(Ms(now));
    if (step.status == "UPDATE_COMPLETE") FinishUpdate(s);
    if (step.status == "UPDATE_ROLLBACK_COMPLETE") RevertUpdate(s);
    AddEvent(s, new_uuid(), s.name(), s.stack_id(), kStackType, step.status, step.reason, now);
    return;
  }
  v1::StackResourceRecord* r = FindResource(s, step.logical_id);
  if (r == nullptr) return;
  const bool updating = s.status() == kUpdateInProgress;
  switch (step.kind) {
    case StepKind::kCreate:
    case StepKind::kDelete:
    case StepKind::kStackStatus:
      return;
    case StepKind::kCreateStarted: {
      r->clear_signals();
      const bool replacing = Replacing(*r);
      const std::string status(replacing ? kUpdateInProgress : kCreateInProgress);
      SetStatus(s, *r, status,
                replacing ? "Requested update requires the creation of a new physical resource; "
                            "hence creating one."
                          : "",
                "", now);
      r->set_physical_id(step.physical_id);
      SetStatus(s, *r, status, "Resource creation Initiated", step.physical_id, now);
      return;
    }
    case StepKind::kResourceComplete: {
      const bool update_status =
          r->status() == kUpdateInProgress || (updating && !r->created_by_update());
      SetStatus(s, *r, update_status ? "UPDATE_COMPLETE" : "CREATE_COMPLETE", "", r->physical_id(),
                now);
      return;
    }
    case StepKind::kResourceFailed:
      SetStatus(s, *r,
                r->status() == kUpdateInProgress || (updating && Replacing(*r)) ? "UPDATE_FAILED"
                                                                                : "CREATE_FAILED",
                step.reason, r->physical_id(), now);
      return;
    case StepKind::kDeleteStarted:
    case StepKind::kResourceDeleted:
    case StepKind::kDeleteFailed:
    case StepKind::kDeleteSkipped: {
      const std::string status = step.kind == StepKind::kDeleteStarted     ? "DELETE_IN_PROGRESS"
                                 : step.kind == StepKind::kResourceDeleted ? "DELETE_COMPLETE"
                                 : step.kind == StepKind::kDeleteFailed    ? "DELETE_FAILED"
                                                                           : "DELETE_SKIPPED";
      bool whole = true;
      for (const Item& i : ItemsOf(s)) {
        if (i.r == r) whole = i.whole;
      }
      if (whole) {
        SetStatus(s, *r, status, step.reason, step.physical_id, now);
      } else {
        r->set_cleanup_status(status);
        AddEvent(s, ResourceEventId(r->logical_id(), status, now), r->logical_id(),
                 step.physical_id, r->type(), status, step.reason, now);
      }
      return;
    }
  }
}

}  // namespace minicloud::controller::lifecycle
