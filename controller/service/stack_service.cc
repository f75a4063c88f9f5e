// StackService: lookups, the Describe* calls, ValidateTemplate and the instance-caller rule.
#include "controller/service/stack_service.h"

#include <openssl/rand.h>

#include <set>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/ec2_error.h"
#include "common/status_macros.h"
#include "controller/cloudformation/template_error.h"
#include "controller/service/pagination.h"
#include "controller/service/timestamp.h"

namespace minicloud::controller {
namespace {

using cloudformation::Json;
using cloudformation::ValidationError;

std::string RandomToken() {
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) {
    // No entropy: refuse to make a guessable token (the handle then fails to create).
    return "";
  }
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(bytes), sizeof(bytes)));
}

v1::StackResource ResourceToApi(const v1::StackRecord& s, const v1::StackResourceRecord& r) {
  v1::StackResource out;
  out.set_stack_id(s.stack_id());
  out.set_stack_name(s.name());
  out.set_logical_resource_id(r.logical_id());
  out.set_physical_resource_id(r.physical_id());
  out.set_resource_type(r.type());
  *out.mutable_last_updated_timestamp() = ToTimestamp(r.status_time_ms());
  out.set_resource_status(r.status());
  out.set_resource_status_reason(r.reason());
  out.set_metadata(r.metadata_json());
  return out;
}

bool Deleted(const v1::StackRecord& s) { return s.status() == "DELETE_COMPLETE"; }

}  // namespace

absl::Status CheckStackName(const std::string& name) {
  bool ok = !name.empty() && name.size() <= 128 && absl::ascii_isalpha(name[0]);
  for (char c : name) ok = ok && (absl::ascii_isalnum(c) || c == '-');
  if (ok) return absl::OkStatus();
  // CloudFormation's wording (botocore: StackName pattern [a-zA-Z][-a-zA-Z0-9]*, max 128).
  return ValidationError(
      absl::StrCat("1 validation error detected: Value '", QuoteForMessage(name, 128),
                   "' at 'stackName' failed to satisfy constraint: Member must satisfy regular "
                   "expression pattern: [a-zA-Z][-a-zA-Z0-9]* and length at most 128"));
}

StackService::StackService(CloudState& state, const Clock& clock, IdGenerator& ids,
                           ComputeService& compute, KeyPairService& key_pairs,
                           PlacementGroupService& groups, VolumeService* volumes,
                           StackServiceOptions options)
    : state_(state),
      clock_(clock),
      ids_(ids),
      compute_(compute),
      key_pairs_(key_pairs),
      groups_(groups),
      volumes_(volumes),
      options_(std::move(options)) {
  if (!options_.new_handle_token) options_.new_handle_token = RandomToken;
}

std::string StackService::NewUuid() {
  // 32 hex digits from the injected generator, in the 8-4-4-4-12 form.
  std::string hex = ids_.Next("x").substr(2, 16) + ids_.Next("x").substr(2, 16);
  return absl::StrCat(hex.substr(0, 8), "-", hex.substr(8, 4), "-", hex.substr(12, 4), "-",
                      hex.substr(16, 4), "-", hex.substr(20, 12));
}

absl::StatusOr<v1::StackRecord> StackService::FindStack(const std::string& name_or_id) const {
  auto lock = state_.LockCommitted();
  const bool by_id = absl::StartsWith(name_or_id, "arn:");
  for (const auto& [id, s] : state_.stacks()) {
    if (by_id ? id == name_or_id : (s.name() == name_or_id && !Deleted(s))) return s;
  }
  return ValidationError(
      absl::StrCat("Stack with id ", QuoteForMessage(name_or_id, 300), " does not exist"));
}

void StackService::Save(v1::StackRecord& r) {
  CloudState::Changes c;
  for (auto& e : *r.mutable_events()) {
    r.set_event_sequence(r.event_sequence() + 1);
    c.stack_events[StackEventKey(r.stack_id(), r.event_sequence())] = std::move(e);
  }
  r.clear_events();
  c.stacks[r.stack_id()] = r;
  std::lock_guard<std::mutex> lock(state_.mu());
  (void)state_.CommitLocked(c);  // a failed durable write does not return
}

void StackService::PurgeDeletedStacks() {
  const int64_t cutoff = absl::ToUnixMillis(clock_.Now() - kDeletedStackRetention);
  std::lock_guard<std::mutex> lock(state_.mu());
  CloudState::Changes c;
  for (const auto& [id, s] : state_.stacks()) {
    if (!Deleted(s) || s.deletion_time_ms() == 0 || s.deletion_time_ms() > cutoff) continue;
    c.deleted_stacks.push_back(id);
    for (int64_t seq = 1; seq <= s.event_sequence(); ++seq) {
      c.deleted_stack_events.push_back(StackEventKey(id, seq));
    }
  }
  if (!c.deleted_stacks.empty()) (void)state_.CommitLocked(c);
}

std::vector<std::string> StackService::ZoneNames() {
  // The zones of the region's hosts, from the records (Fn::GetAZs, AvailabilityZone
  // parameters): no call to the volume services, which DescribeAvailabilityZones makes.
  std::set<std::string> zones;
  auto lock = state_.LockCommitted();
  for (const auto& [id, h] : state_.hosts()) {
    if (h.topology().region() == state_.config().region) {
      zones.insert(h.topology().availability_zone());
    }
  }
  return {zones.begin(), zones.end()};
}

absl::StatusOr<cloudformation::EvalContext> StackService::ContextOf(
    const v1::StackRecord& r, const cloudformation::Template& t) {
  cloudformation::EvalContext ctx;
  ctx.tmpl = &t;
  ctx.pseudo.stack_name = r.name();
  ctx.pseudo.stack_id = r.stack_id();
  ctx.pseudo.region = state_.config().region;
  ctx.pseudo.account_id = state_.config().owner_id;
  for (const auto& p : r.parameters()) {
    const cloudformation::ParameterDecl* decl = t.FindParameter(p.key());
    if (decl != nullptr)
      ctx.parameters[p.key()] = cloudformation::ParameterValueAsJson(*decl, p.value());
  }
  ctx.availability_zones = ZoneNames();
  MC_ASSIGN_OR_RETURN(ctx.conditions, cloudformation::EvaluateConditions(ctx));
  for (const auto& res : r.resources()) {
    if (res.physical_id().empty() || res.removed()) continue;
    cloudformation::CreatedResource c;
    c.physical_id = res.physical_id();
    if (!res.attributes_json().empty()) {
      Json attrs = Json::parse(res.attributes_json(), nullptr, false);
      if (attrs.is_object()) {
        for (auto it = attrs.begin(); it != attrs.end(); ++it) c.attributes[it.key()] = it.value();
      }
    }
    ctx.resources[res.logical_id()] = std::move(c);
  }
  return ctx;
}

absl::Status StackService::CheckCaller(const StackCaller& caller, Action action,
                                       const v1::StackRecord* stack) const {
  if (!caller.instance_id) return absl::OkStatus();
  const std::string& instance = *caller.instance_id;
  auto denied = [&] {
    return Ec2Error(absl::StatusCode::kPermissionDenied, "AccessDenied",
                    absl::StrCat("Instance ", QuoteForMessage(instance, 40),
                                 " is not authorized to perform this action on this stack"));
  };
  if (action == Action::kWrite || action == Action::kRead || stack == nullptr) return denied();
  for (const auto& r : stack->resources()) {
    if (r.type() == "AWS::EC2::Instance" &&
        (r.physical_id() == instance || r.replaced_physical_id() == instance)) {
      return absl::OkStatus();
    }
  }
  return denied();
}

absl::StatusOr<v1::DescribeStacksResponse> StackService::DescribeStacks(
    const v1::DescribeStacksRequest& req, const StackCaller& caller) {
  MC_RETURN_IF_ERROR(CheckCaller(caller, Action::kRead, nullptr));
  MC_ASSIGN_OR_RETURN(PageStart start,
                      StartPage(kDescribeStacksPages, {0, req.next_token()}, false));
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<v1::StackRecord> found;
  v1::DescribeStacksResponse resp;
  if (!req.stack_name().empty()) {
    MC_ASSIGN_OR_RETURN(v1::StackRecord s, FindStack(req.stack_name()));
    // One stack is one page: a token can only be one this call issued, past it.
    if (start.after.empty()) found.push_back(std::move(s));
  } else {
    // Every stack not deleted, in stack id order, one page of them.
    std::vector<std::string> ids;
    {
      auto l = state_.LockCommitted();
      for (const auto& [id, s] : state_.stacks()) {
        if (!Deleted(s)) ids.push_back(id);
      }
      const Page page = TakePage(kDescribeStacksPages, start, ids);
      for (size_t i = page.begin; i < page.end; ++i) found.push_back(state_.stacks().at(ids[i]));
      resp.set_next_token(page.next_token);
    }
  }
  for (const auto& s : found) {
    v1::Stack* out = resp.add_stacks();
    out->set_stack_id(s.stack_id());
    out->set_stack_name(s.name());
    out->set_description(s.description());
    out->set_stack_status(s.status());
    out->set_stack_status_reason(s.reason());
    *out->mutable_creation_time() = ToTimestamp(s.creation_time_ms());
    if (s.last_updated_time_ms() != 0) {
      *out->mutable_last_updated_time() = ToTimestamp(s.last_updated_time_ms());
    }
    if (s.deletion_time_ms() != 0) {
      *out->mutable_deletion_time() = ToTimestamp(s.deletion_time_ms());
    }
    out->set_disable_rollback(s.disable_rollback());
    out->set_timeout_in_minutes(s.timeout_in_minutes());
    for (const auto& c : s.capabilities()) out->add_capabilities(c);
    for (const auto& t : s.tags()) *out->add_tags() = t;
    auto tmpl = cloudformation::ParseTemplate(s.template_body());
    for (const auto& p : s.parameters()) {
      auto* sp = out->add_parameters();
      sp->set_key(p.key());
      const auto* decl = tmpl.ok() ? tmpl->FindParameter(p.key()) : nullptr;
      sp->set_value(decl != nullptr && decl->no_echo ? "****" : p.value());
    }
    // Outputs once the stack's resources are made (what can be evaluated).
    if (!tmpl.ok() || !(s.status() == "CREATE_COMPLETE" || s.status() == "UPDATE_COMPLETE" ||
                        s.status() == "UPDATE_ROLLBACK_COMPLETE")) {
      continue;
    }
    auto ctx = ContextOf(s, *tmpl);
    if (!ctx.ok()) continue;
    for (const auto& o : tmpl->outputs) {
      if (!cloudformation::ConditionHolds(*ctx, o.condition)) continue;
      auto v = cloudformation::Evaluate(o.value, *ctx, "Outputs." + o.name + ".Value");
      if (!v.ok()) continue;
      auto* so = out->add_outputs();
      so->set_key(o.name);
      so->set_value(v->is_string() ? v->get<std::string>() : v->dump());
      so->set_description(o.description);
    }
  }
  return resp;
}

absl::StatusOr<v1::DescribeStackEventsResponse> StackService::DescribeStackEvents(
    const v1::DescribeStackEventsRequest& req, const StackCaller& caller) {
  MC_RETURN_IF_ERROR(CheckCaller(caller, Action::kRead, nullptr));
  MC_ASSIGN_OR_RETURN(PageStart start,
                      StartPage(kDescribeStackEventsPages, {0, req.next_token()}, false));
  std::lock_guard<std::mutex> lock(mu_);
  MC_ASSIGN_OR_RETURN(v1::StackRecord s, FindStack(req.stack_name()));
  // A token names the last event of its page: one of this stack's (a token of another stack's
  // events is not one this call issued for this stack).
  if (!start.after.empty() && !(start.after > StackEventsBegin(s.stack_id()) &&
                                start.after < StackEventsEnd(s.stack_id()))) {
    return BadPageToken(kDescribeStackEventsPages);
  }
  std::vector<std::pair<std::string, v1::StackEventRecord>> events;
  {
    auto l = state_.LockCommitted();
    // One more than a page: whether another page follows.
    MC_ASSIGN_OR_RETURN(events, state_.StackEventsLocked(s.stack_id(), start.after,
                                                         static_cast<size_t>(start.limit) + 1));
  }
  v1::DescribeStackEventsResponse resp;
  if (events.size() > static_cast<size_t>(start.limit)) {
    events.resize(start.limit);
    resp.set_next_token(NextPageToken(kDescribeStackEventsPages, events.back().first));
  }
  for (const auto& [key, ev] : events) {
    const v1::StackEventRecord* it = &ev;
    v1::StackEvent* e = resp.add_stack_events();
    e->set_stack_id(s.stack_id());
    e->set_event_id(it->event_id());
    e->set_stack_name(s.name());
    e->set_logical_resource_id(it->logical_id());
    e->set_physical_resource_id(it->physical_id());
    e->set_resource_type(it->resource_type());
    *e->mutable_timestamp() = ToTimestamp(it->time_ms());
    e->set_resource_status(it->status());
    e->set_resource_status_reason(it->reason());
    e->set_resource_properties(it->properties_json());
    e->set_client_request_token(it->client_request_token());
  }
  return resp;
}

absl::StatusOr<v1::DescribeStackResourceResponse> StackService::DescribeStackResource(
    const v1::DescribeStackResourceRequest& req, const StackCaller& caller) {
  std::lock_guard<std::mutex> lock(mu_);
  auto s = FindStack(req.stack_name());
  MC_RETURN_IF_ERROR(CheckCaller(caller, Action::kReadResource, s.ok() ? &*s : nullptr));
  if (!s.ok()) return s.status();
  for (const auto& r : s->resources()) {
    if (r.logical_id() != req.logical_resource_id() || r.removed()) continue;
    v1::DescribeStackResourceResponse resp;
    *resp.mutable_stack_resource_detail() = ResourceToApi(*s, r);
    return resp;
  }
  return ValidationError(absl::StrCat("Resource ", QuoteForMessage(req.logical_resource_id(), 255),
                                      " does not exist for stack ", s->name()));
}

absl::StatusOr<v1::DescribeStackResourcesResponse> StackService::DescribeStackResources(
    const v1::DescribeStackResourcesRequest& req, const StackCaller& caller) {
  std::lock_guard<std::mutex> lock(mu_);
  std::optional<v1::StackRecord> s;
  if (!req.stack_name().empty()) {
    auto found = FindStack(req.stack_name());
    MC_RETURN_IF_ERROR(CheckCaller(caller, Action::kReadResource, found.ok() ? &*found : nullptr));
    if (!found.ok()) return found.status();
    s = *std::move(found);
  } else if (!req.physical_resource_id().empty()) {
    // CloudFormation: the stack that holds this physical resource.
    auto l = state_.LockCommitted();
    for (const auto& [id, st] : state_.stacks()) {
      if (Deleted(st)) continue;
      for (const auto& r : st.resources()) {
        if (r.physical_id() == req.physical_resource_id()) s = st;
      }
    }
    l.unlock();
    MC_RETURN_IF_ERROR(CheckCaller(caller, Action::kReadResource, s ? &*s : nullptr));
    if (!s) {
      return ValidationError(absl::StrCat(
          "Stack for ", QuoteForMessage(req.physical_resource_id(), 255), " does not exist"));
    }
  } else {
    MC_RETURN_IF_ERROR(CheckCaller(caller, Action::kReadResource, nullptr));
    return ValidationError("Either StackName or PhysicalResourceId must be specified");
  }
  v1::DescribeStackResourcesResponse resp;
  for (const auto& r : s->resources()) {
    if (r.removed() || r.status().empty()) continue;
    if (!req.logical_resource_id().empty() && r.logical_id() != req.logical_resource_id()) {
      continue;
    }
    *resp.add_stack_resources() = ResourceToApi(*s, r);
  }
  return resp;
}

absl::StatusOr<v1::ValidateTemplateResponse> StackService::ValidateTemplate(
    const v1::ValidateTemplateRequest& req) {
  if (req.template_body().empty()) {
    return ValidationError("Either Template URL or Template Body must be specified.");
  }
  MC_ASSIGN_OR_RETURN(cloudformation::Template t,
                      cloudformation::ParseTemplate(req.template_body()));
  MC_RETURN_IF_ERROR(CheckSupported(t));
  v1::ValidateTemplateResponse resp;
  resp.set_description(t.description);
  for (const auto& p : t.parameters) {
    auto* out = resp.add_parameters();
    out->set_parameter_key(p.name);
    // CloudFormation hides a NoEcho parameter's default as it hides its value.
    if (p.default_value) out->set_default_value(p.no_echo ? "****" : *p.default_value);
    out->set_no_echo(p.no_echo);
    out->set_description(p.description);
  }
  return resp;
}

}  // namespace minicloud::controller
