// UpdateStack (what changed, resource by resource) and DeleteStack.
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/ec2_error.h"
#include "common/status_macros.h"
#include "controller/cloudformation/template_error.h"
#include "controller/service/stack_service.h"

namespace minicloud::controller {
namespace {

using cloudformation::Json;
using cloudformation::ValidationError;

bool SameParameters(const v1::StackRecord& a, const v1::StackRecord& b) {
  if (a.parameters_size() != b.parameters_size()) return false;
  for (int i = 0; i < a.parameters_size(); ++i) {
    if (a.parameters(i).key() != b.parameters(i).key() ||
        a.parameters(i).value() != b.parameters(i).value()) {
      return false;
    }
  }
  return true;
}

}  // namespace

absl::StatusOr<v1::UpdateStackResponse> StackService::UpdateStack(const v1::UpdateStackRequest& req,
                                                                  const StackCaller& caller) {
  MC_RETURN_IF_ERROR(CheckCaller(caller, Action::kWrite, nullptr));
  std::lock_guard<std::mutex> lock(mu_);
  MC_ASSIGN_OR_RETURN(v1::StackRecord old, FindStack(req.stack_name()));
  if (old.status() != "CREATE_COMPLETE" && old.status() != "UPDATE_COMPLETE" &&
      old.status() != "UPDATE_ROLLBACK_COMPLETE") {
    return ValidationError(absl::StrCat("Stack:", old.stack_id(), " is in ", old.status(),
                                        " state and can not be updated."));
  }
  if (req.use_previous_template() && !req.template_body().empty()) {
    return ValidationError("You cannot specify both usePreviousTemplate and Template Body");
  }
  const std::string body = req.use_previous_template() ? old.template_body() : req.template_body();
  if (body.empty()) {
    return ValidationError("Either Template URL or Template Body must be specified.");
  }
  MC_ASSIGN_OR_RETURN(cloudformation::Template t, cloudformation::ParseTemplate(body));
  MC_RETURN_IF_ERROR(CheckSupported(t));
  MC_ASSIGN_OR_RETURN(cloudformation::ParameterValues values,
                      ResolveParams(t, req.parameters(), &old));

  v1::StackRecord r = old;
  r.clear_parameters();
  for (const auto& [k, v] : values) {
    auto* p = r.add_parameters();
    p->set_key(k);
    p->set_value(v.is_string() ? v.get<std::string>() : v.dump());
    if (v.is_array()) {
      std::string joined;
      for (const auto& e : v) {
        absl::StrAppend(&joined, joined.empty() ? "" : ",",
                        e.is_string() ? e.get<std::string>() : e.dump());
      }
      p->set_value(joined);
    }
  }
  r.set_template_body(body);
  MC_ASSIGN_OR_RETURN(cloudformation::EvalContext ctx, ContextOf(r, t));

  std::map<std::string, v1::StackResourceRecord> before;
  for (const auto& res : old.resources()) before[res.logical_id()] = res;
  r.clear_resources();
  bool changed = false;
  const absl::Time now = clock_.Now();
  std::vector<std::string> metadata_changed;
  for (const auto& d : t.resources) {
    if (!cloudformation::ConditionHolds(ctx, d.condition)) continue;
    v1::StackResourceRecord fresh = ResourceOf(d, t);
    auto it = before.find(d.logical_id);
    if (it == before.end()) {
      fresh.set_created_by_update(true);
      *r.add_resources() = std::move(fresh);
      changed = true;
      continue;
    }
    v1::StackResourceRecord cur = it->second;
    before.erase(it);
    if (cur.type() != fresh.type()) {
      return ValidationError(
          absl::StrCat("Update of resource type is not permitted. The new "
                       "template modifies resource type of resource ",
                       d.logical_id));
    }
    *cur.mutable_needs() = fresh.needs();
    cur.set_signal_count(fresh.signal_count());
    cur.set_signal_timeout_ms(fresh.signal_timeout_ms());
    cur.set_deletion_policy(fresh.deletion_policy());
    // Properties that evaluate differently (or refer to what this update makes) replace it.
    auto props = cloudformation::EvaluateProperties(d, ctx);
    const bool replace = !props.ok() || props->dump() != cur.properties_json();
    std::string metadata = cur.metadata_json();
    if (!d.metadata.is_null()) {
      auto md =
          cloudformation::Evaluate(d.metadata, ctx, "Resources." + d.logical_id + ".Metadata");
      if (!md.ok()) return md.status();
      metadata = md->dump();
    } else {
      metadata.clear();
    }
    if (replace || metadata != cur.metadata_json()) {
      changed = true;
      lifecycle::KeepPrevious(cur);
    }
    if (replace) {
      lifecycle::MarkForReplacement(cur);
    } else if (metadata != cur.metadata_json()) {
      // In place, no interruption: cfn-hup in the guest sees the new metadata.
      cur.set_metadata_json(metadata);
      metadata_changed.push_back(cur.logical_id());
    }
    *r.add_resources() = std::move(cur);
  }
  for (auto& [id, res] : before) {  // not in the new template: deleted in cleanup
    res.set_removed(true);
    *r.add_resources() = std::move(res);
    changed = true;
  }
  if (!changed && body == old.template_body() && SameParameters(r, old)) {
    return ValidationError("No updates are to be performed.");
  }
  PruneNeeds(r);
  r.set_previous_template_body(old.template_body());
  *r.mutable_previous_parameters() = old.parameters();
  r.set_description(t.description);
  r.set_last_updated_time_ms(absl::ToUnixMillis(now));
  r.set_operation_start_ms(absl::ToUnixMillis(now));
  if (req.disable_rollback()) r.set_disable_rollback(true);
  r.set_client_request_token(req.client_request_token());
  if (req.tags_size() > 0) *r.mutable_tags() = req.tags();
  const auto uuid = [this] { return NewUuid(); };
  r.set_status("UPDATE_IN_PROGRESS");
  lifecycle::Apply(
      r, {lifecycle::StepKind::kStackStatus, "", "", "UPDATE_IN_PROGRESS", "User Initiated"}, now,
      uuid);
  for (auto& res : *r.mutable_resources()) {
    if (std::find(metadata_changed.begin(), metadata_changed.end(), res.logical_id()) ==
        metadata_changed.end()) {
      continue;
    }
    res.set_status("UPDATE_IN_PROGRESS");
    res.set_status_time_ms(absl::ToUnixMillis(now));
    lifecycle::AddResourceEvent(r, res, "UPDATE_IN_PROGRESS", "", now);
  }
  Save(r);
  v1::UpdateStackResponse resp;
  resp.set_stack_id(r.stack_id());
  return resp;
}

absl::StatusOr<v1::DeleteStackResponse> StackService::DeleteStack(const v1::DeleteStackRequest& req,
                                                                  const StackCaller& caller) {
  MC_RETURN_IF_ERROR(CheckCaller(caller, Action::kWrite, nullptr));
  std::lock_guard<std::mutex> lock(mu_);
  auto found = FindStack(req.stack_name());
  // CloudFormation answers a DeleteStack of a stack that does not exist with success.
  if (!found.ok()) return v1::DeleteStackResponse();
  v1::StackRecord r = *std::move(found);
  if (r.status() == "DELETE_COMPLETE" || r.status() == "DELETE_IN_PROGRESS") {
    return v1::DeleteStackResponse();
  }
  if (absl::StartsWith(r.status(), "UPDATE_") && !lifecycle::IsStackSettled(r.status())) {
    return ValidationError(absl::StrCat("Stack:", r.stack_id(), " is in ", r.status(),
                                        " state and can not be deleted."));
  }
  if (req.retain_resources_size() > 0 && r.status() != "DELETE_FAILED") {
    return ValidationError(
        "Invalid operation on stack: RetainResources is only allowed for stacks in "
        "DELETE_FAILED state");
  }
  std::set<std::string> retain(req.retain_resources().begin(), req.retain_resources().end());
  for (auto& res : *r.mutable_resources()) {
    if (retain.erase(res.logical_id())) res.set_deletion_policy("Retain");
    // A deletion that failed is tried again.
    if (res.status() == "DELETE_FAILED") res.set_status("CREATE_COMPLETE");
  }
  if (!retain.empty()) {
    return ValidationError(
        absl::StrCat("Resource ", *retain.begin(), " does not exist in stack ", r.name()));
  }
  const absl::Time now = clock_.Now();
  r.set_operation_start_ms(absl::ToUnixMillis(now));
  r.set_client_request_token(req.client_request_token());
  lifecycle::Apply(
      r, {lifecycle::StepKind::kStackStatus, "", "", "DELETE_IN_PROGRESS", "User Initiated"}, now,
      [this] { return NewUuid(); });
  Save(r);
  return v1::DeleteStackResponse();
}

}  // namespace minicloud::controller
