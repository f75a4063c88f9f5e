// The background driver: every unfinished stack, from its record, through the lifecycle's steps.
// A restart loses nothing: the record says what is made (physical ids are saved as soon as a
// resource is started) and what is still to do.
#include "absl/strings/str_cat.h"
#include "common/ec2_error.h"
#include "common/logging.h"
#include "controller/service/stack_service.h"

namespace minicloud::controller {
namespace {

using cloudformation::Json;
using lifecycle::Step;
using lifecycle::StepKind;

v1::StackResourceRecord* Find(v1::StackRecord& r, const std::string& logical_id) {
  for (auto& res : *r.mutable_resources()) {
    if (res.logical_id() == logical_id) return &res;
  }
  return nullptr;
}

// CloudFormation shows an EC2 error as the message with the service and code after it.
std::string ReasonOf(const absl::Status& s) {
  return absl::StrCat(s.message(), " (Service: AmazonEC2; Error Code: ", Ec2CodeOf(s), ")");
}

bool InProgress(const std::string& status) {
  return status.size() > 12 && status.compare(status.size() - 12, 12, "_IN_PROGRESS") == 0;
}

}  // namespace

void StackService::Advance() {
  std::vector<std::string> ids;
  {
    auto lock = state_.LockCommitted();
    for (const auto& [id, s] : state_.stacks()) {
      if (!lifecycle::IsStackSettled(s.status())) ids.push_back(id);
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& id : ids) AdvanceStack(id);
  PurgeDeletedStacks();
}

lifecycle::Observations StackService::Observe(v1::StackRecord& r) {
  lifecycle::Observations obs;
  // Signals sent to a handle count for the wait conditions that use it.
  std::map<std::string, const v1::StackResourceRecord*> handles;  // URL -> handle
  for (const auto& res : r.resources()) {
    if (res.type() == "AWS::CloudFormation::WaitConditionHandle" && !res.physical_id().empty()) {
      handles[res.physical_id()] = &res;
    }
  }
  for (auto& res : *r.mutable_resources()) {
    if (res.type() == "AWS::CloudFormation::WaitCondition" && InProgress(res.status())) {
      Json props = Json::parse(res.properties_json(), nullptr, false);
      if (props.is_object() && props.contains("Handle") && props["Handle"].is_string()) {
        auto h = handles.find(props["Handle"].get<std::string>());
        if (h != handles.end()) *res.mutable_signals() = h->second->signals();
      }
    }
  }
  for (auto& res : *r.mutable_resources()) {
    const bool forward = InProgress(res.status()) && res.status() != "DELETE_IN_PROGRESS";
    for (const std::string* pid : {&res.physical_id(), &res.replaced_physical_id()}) {
      if (pid->empty() || obs.count(*pid)) continue;
      Json attrs = Json::object();
      obs[*pid] = ObserveResource(r, res, *pid, &attrs);
      if (forward && pid == &res.physical_id() && obs[*pid].state == lifecycle::Observed::kReady) {
        res.set_attributes_json(attrs.dump());
      }
    }
  }
  return obs;
}

void StackService::RecheckDependents(v1::StackRecord& r, const cloudformation::Template& t) {
  const std::vector<std::string> ids = lifecycle::ResourcesToRecheck(r);
  if (ids.empty()) return;
  auto ctx = ContextOf(r, t);
  for (const auto& id : ids) {
    v1::StackResourceRecord* res = Find(r, id);
    const cloudformation::ResourceDecl* decl = t.FindResource(id);
    if (res == nullptr || decl == nullptr) continue;
    absl::StatusOr<Json> props =
        ctx.ok() ? cloudformation::EvaluateProperties(*decl, *ctx) : ctx.status();
    if (props.ok() && props->dump() == res->properties_json()) continue;
    lifecycle::MarkForReplacement(*res);
  }
}

Step StackService::StartCreate(v1::StackRecord& r, const std::string& logical_id,
                               const cloudformation::Template& t) {
  v1::StackResourceRecord* res = Find(r, logical_id);
  const cloudformation::ResourceDecl* decl = t.FindResource(logical_id);
  if (res == nullptr || decl == nullptr) {
    return {StepKind::kResourceFailed, logical_id, "", "", "The resource is not in the template"};
  }
  auto ctx = ContextOf(r, t);
  absl::StatusOr<Json> props =
      ctx.ok() ? cloudformation::EvaluateProperties(*decl, *ctx) : ctx.status();
  if (!props.ok()) {
    return {StepKind::kResourceFailed, logical_id, "", "", std::string(props.status().message())};
  }
  if (!decl->metadata.is_null()) {
    auto md =
        cloudformation::Evaluate(decl->metadata, *ctx, "Resources." + logical_id + ".Metadata");
    if (!md.ok()) {
      return {StepKind::kResourceFailed, logical_id, "", "", std::string(md.status().message())};
    }
    res->set_metadata_json(md->dump());
  }
  res->set_properties_json(props->dump());
  res->clear_attributes_json();
  auto made = MakeResource(r, *res, *props);
  if (!made.ok()) return {StepKind::kResourceFailed, logical_id, "", "", ReasonOf(made.status())};
  res->set_handle_token(made->handle_token);
  return {StepKind::kCreateStarted, logical_id, made->physical_id};
}

Step StackService::StartDelete(v1::StackRecord& r, const Step& step) {
  v1::StackResourceRecord* res = Find(r, step.logical_id);
  if (res == nullptr) return {StepKind::kDeleteFailed, step.logical_id, step.physical_id, "", "?"};
  absl::Status s = DeleteResource(*res, step.physical_id);
  if (!s.ok()) {
    return {StepKind::kDeleteFailed, step.logical_id, step.physical_id, "", ReasonOf(s)};
  }
  return {StepKind::kDeleteStarted, step.logical_id, step.physical_id};
}

void StackService::AdvanceStack(const std::string& stack_id) {
  auto found = FindStack(stack_id);
  if (!found.ok()) return;
  v1::StackRecord r = *std::move(found);
  auto t = cloudformation::ParseTemplate(r.template_body());
  if (!t.ok()) {
    // A stored template the engine refuses now (a rule added since): nothing can be evaluated.
    spdlog::error("stack {}: stored template: {}", r.stack_id(), t.status().message());
    return;
  }
  const auto uuid = [this] { return NewUuid(); };
  bool changed = false;
  // Each round sees what the last one did (a key pair made now lets its instance start).
  for (int round = 0; round < 64; ++round) {
    const lifecycle::Observations obs = Observe(r);
    RecheckDependents(r, *t);
    const std::vector<Step> steps = lifecycle::NextSteps(r, obs, clock_.Now());
    if (steps.empty()) break;
    changed = true;
    for (const Step& step : steps) {
      const absl::Time now = clock_.Now();
      switch (step.kind) {
        case StepKind::kCreate:
          lifecycle::Apply(r, StartCreate(r, step.logical_id, *t), now, uuid);
          Save(r);  // the physical id is durable before anything else happens
          break;
        case StepKind::kDelete:
          lifecycle::Apply(r, StartDelete(r, step), now, uuid);
          Save(r);
          break;
        case StepKind::kStackStatus:
          if (step.status == "UPDATE_ROLLBACK_COMPLETE" && !r.previous_template_body().empty()) {
            // Back to the template and parameters before the update.
            r.set_template_body(r.previous_template_body());
            *r.mutable_parameters() = r.previous_parameters();
          }
          if (step.status == "UPDATE_COMPLETE") r.clear_previous_parameters();
          lifecycle::Apply(r, step, now, uuid);
          if (r.status() == "UPDATE_ROLLBACK_COMPLETE") {
            t = cloudformation::ParseTemplate(r.template_body());
            if (!t.ok()) return;
          }
          break;
        default:
          lifecycle::Apply(r, step, now, uuid);
      }
    }
  }
  if (changed) Save(r);
}

}  // namespace minicloud::controller
