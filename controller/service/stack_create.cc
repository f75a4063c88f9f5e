// CreateStack: the checks a new stack passes (its name, the template through the engine, what
// minicloud carries out, the parameters), and the record it starts from.
#include <algorithm>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "common/ec2_error.h"
#include "common/status_macros.h"
#include "controller/cloudformation/parameters.h"
#include "controller/cloudformation/template_error.h"
#include "controller/service/stack_service.h"

namespace minicloud::controller {
namespace {

using cloudformation::Json;
using cloudformation::TemplateError;
using cloudformation::ValidationError;

// The properties each type's maker carries out (stack_resources.cc). The engine accepts more
// (resource_types.h); those are refused here by name rather than ignored.
const std::map<std::string, std::set<std::string>>& CarriedProperties() {
  static const auto* table = new std::map<std::string, std::set<std::string>>{
      {"AWS::EC2::Instance",
       {"ImageId", "InstanceType", "KeyName", "UserData", "AvailabilityZone", "PlacementGroupName",
        "Tags", "IamInstanceProfile"}},
      {"AWS::EC2::KeyPair", {"KeyName", "KeyType", "PublicKeyMaterial", "Tags"}},
      {"AWS::EC2::PlacementGroup", {"Strategy", "PartitionCount", "SpreadLevel", "Tags"}},
      {"AWS::EC2::Volume",
       {"AvailabilityZone", "Size", "SnapshotId", "VolumeType", "Iops", "Throughput", "Encrypted",
        "MultiAttachEnabled", "Tags"}},
      {"AWS::EC2::VolumeAttachment", {"InstanceId", "VolumeId", "Device"}},
      {"AWS::CloudFormation::WaitCondition", {"Handle", "Timeout", "Count"}},
      {"AWS::CloudFormation::WaitConditionHandle", {}},
  };
  return *table;
}

std::string ParamString(const Json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_array()) {
    std::vector<std::string> parts;
    for (const auto& e : v) parts.push_back(e.is_string() ? e.get<std::string>() : e.dump());
    return absl::StrJoin(parts, ",");
  }
  return v.dump();
}

}  // namespace

void PruneNeeds(v1::StackRecord& r) {
  std::set<std::string> present;
  for (const auto& res : r.resources()) present.insert(res.logical_id());
  for (auto& res : *r.mutable_resources()) {
    auto* needs = res.mutable_needs();
    needs->erase(std::remove_if(needs->begin(), needs->end(),
                                [&](const std::string& n) { return !present.count(n); }),
                 needs->end());
  }
}

absl::Status StackService::CheckSupported(const cloudformation::Template& t) const {
  for (const auto& r : t.resources) {
    const std::string path = absl::StrCat("Resources.", r.logical_id);
    auto it = CarriedProperties().find(std::string(r.spec->type));
    if (it == CarriedProperties().end()) {
      return TemplateError(path + ".Type",
                           absl::StrCat("minicloud does not create ", r.spec->type, " yet"));
    }
    if (r.properties.is_object()) {
      for (auto p = r.properties.begin(); p != r.properties.end(); ++p) {
        if (!it->second.count(p.key())) {
          return TemplateError(absl::StrCat(path, ".Properties.", p.key()),
                               absl::StrCat("minicloud does not carry out property ", p.key(),
                                            " of ", r.spec->type, " yet"));
        }
      }
    }
    if (r.deletion_policy == "Snapshot") {
      return TemplateError(path + ".DeletionPolicy",
                           "minicloud does not carry out DeletionPolicy Snapshot yet");
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<cloudformation::ParameterValues> StackService::ResolveParams(
    const cloudformation::Template& t,
    const google::protobuf::RepeatedPtrField<v1::StackParameter>& in,
    const v1::StackRecord* previous) {
  std::vector<cloudformation::ParameterInput> given;
  for (const auto& p : in) given.push_back({p.key(), p.value(), p.use_previous_value()});
  cloudformation::ParameterValues prev;
  if (previous != nullptr) {
    for (const auto& p : previous->parameters()) {
      const auto* decl = t.FindParameter(p.key());
      if (decl != nullptr) prev[p.key()] = cloudformation::ParameterValueAsJson(*decl, p.value());
    }
  }
  MC_ASSIGN_OR_RETURN(cloudformation::ParameterValues values,
                      cloudformation::ResolveParameters(t, given, previous ? &prev : nullptr));
  // What only the controller can check: the named things exist.
  const std::vector<std::string> zones = ZoneNames();
  auto lock = state_.LockCommitted();
  for (const auto& decl : t.parameters) {
    auto it = values.find(decl.name);
    if (it == values.end()) continue;
    std::vector<std::string> items;
    if (it->second.is_array()) {
      for (const auto& e : it->second) items.push_back(ParamString(e));
    } else {
      items.push_back(ParamString(it->second));
    }
    const std::string base = absl::StrReplaceAll(decl.type, {{"List<", ""}, {">", ""}});
    for (const auto& v : items) {
      bool exists = true;
      if (base == "AWS::EC2::KeyPair::KeyName") exists = state_.key_pairs().count(v) > 0;
      if (base == "AWS::EC2::Image::Id") exists = state_.images().count(v) > 0;
      if (base == "AWS::EC2::Instance::Id") exists = state_.instances().count(v) > 0;
      if (base == "AWS::EC2::Volume::Id") exists = state_.volumes().count(v) > 0;
      if (base == "AWS::EC2::AvailabilityZone::Name") {
        exists = std::find(zones.begin(), zones.end(), v) != zones.end();
      }
      if (!exists) {
        return ValidationError(absl::StrCat(
            "Parameter validation failed: parameter value ", QuoteForMessage(v, 255),
            " for parameter name ", decl.name, " does not exist. Rollback requested by user."));
      }
    }
  }
  return values;
}

v1::StackResourceRecord StackService::ResourceOf(const cloudformation::ResourceDecl& d,
                                                 const cloudformation::Template& t) const {
  v1::StackResourceRecord r;
  r.set_logical_id(d.logical_id);
  r.set_type(std::string(d.spec->type));
  auto deps = t.dependencies.find(d.logical_id);
  if (deps != t.dependencies.end()) {
    for (const auto& n : deps->second) r.add_needs(n);
  }
  if (d.signal) {
    r.set_signal_count(static_cast<int32_t>(d.signal->count));
    r.set_signal_timeout_ms(absl::ToInt64Milliseconds(d.signal->timeout));
  }
  r.set_deletion_policy(d.deletion_policy);
  return r;
}

absl::StatusOr<v1::CreateStackResponse> StackService::CreateStack(const v1::CreateStackRequest& req,
                                                                  const StackCaller& caller) {
  MC_RETURN_IF_ERROR(CheckCaller(caller, Action::kWrite, nullptr));
  MC_RETURN_IF_ERROR(CheckStackName(req.stack_name()));
  if (req.template_body().empty()) {
    return ValidationError("Either Template URL or Template Body must be specified.");
  }
  if (!req.on_failure().empty() && req.disable_rollback()) {
    return ValidationError("You cannot specify both DisableRollback and OnFailure.");
  }
  if (!req.on_failure().empty() && req.on_failure() != "ROLLBACK" && req.on_failure() != "DELETE" &&
      req.on_failure() != "DO_NOTHING") {
    return ValidationError(absl::StrCat(
        "1 validation error detected: Value '", QuoteForMessage(req.on_failure(), 40),
        "' at 'onFailure' failed to satisfy constraint: Member must satisfy enum value set: "
        "[DO_NOTHING, ROLLBACK, DELETE]"));
  }
  if (req.timeout_in_minutes() < 0) {
    return ValidationError("TimeoutInMinutes must be at least 1");
  }
  MC_ASSIGN_OR_RETURN(cloudformation::Template t,
                      cloudformation::ParseTemplate(req.template_body()));
  MC_RETURN_IF_ERROR(CheckSupported(t));

  std::lock_guard<std::mutex> lock(mu_);
  {
    auto l = state_.LockCommitted();
    for (const auto& [id, s] : state_.stacks()) {
      if (s.name() != req.stack_name() || s.status() == "DELETE_COMPLETE") continue;
      if (!req.client_request_token().empty() &&
          s.client_request_token() == req.client_request_token()) {
        v1::CreateStackResponse resp;  // the same request again
        resp.set_stack_id(id);
        return resp;
      }
      return Ec2Error(absl::StatusCode::kAlreadyExists, "AlreadyExistsException",
                      absl::StrCat("Stack [", req.stack_name(), "] already exists"));
    }
  }
  MC_ASSIGN_OR_RETURN(cloudformation::ParameterValues values,
                      ResolveParams(t, req.parameters(), nullptr));
  const absl::Time now = clock_.Now();
  v1::StackRecord r;
  r.set_stack_id(absl::StrCat("arn:aws:cloudformation:", state_.config().region, ":",
                              state_.config().owner_id, ":stack/", req.stack_name(), "/",
                              NewUuid()));
  r.set_name(req.stack_name());
  r.set_template_body(req.template_body());
  for (const auto& [k, v] : values) {
    auto* p = r.add_parameters();
    p->set_key(k);
    p->set_value(ParamString(v));
  }
  // Conditions must evaluate (a Fn::Equals over a bad parameter is the caller's error now).
  MC_ASSIGN_OR_RETURN(cloudformation::EvalContext ctx, ContextOf(r, t));
  for (const auto& d : t.resources) {
    if (!cloudformation::ConditionHolds(ctx, d.condition)) continue;
    *r.add_resources() = ResourceOf(d, t);
  }
  PruneNeeds(r);
  if (r.resources_size() == 0) {
    return ValidationError("Template format error: At least one Resources member must be defined.");
  }
  r.set_status("CREATE_IN_PROGRESS");
  r.set_reason("User Initiated");
  r.set_creation_time_ms(absl::ToUnixMillis(now));
  r.set_operation_start_ms(absl::ToUnixMillis(now));
  r.set_disable_rollback(req.disable_rollback());
  r.set_on_failure(req.on_failure().empty() ? (req.disable_rollback() ? "DO_NOTHING" : "ROLLBACK")
                                            : req.on_failure());
  r.set_timeout_in_minutes(req.timeout_in_minutes());
  for (const auto& c : req.capabilities()) r.add_capabilities(c);
  for (const auto& tag : req.tags()) *r.add_tags() = tag;
  r.set_description(t.description);
  r.set_client_request_token(req.client_request_token());
  lifecycle::Apply(
      r, {lifecycle::StepKind::kStackStatus, "", "", "CREATE_IN_PROGRESS", "User Initiated"}, now,
      [this] { return NewUuid(); });
  Save(r);
  v1::CreateStackResponse resp;
  resp.set_stack_id(r.stack_id());
  return resp;
}

}  // namespace minicloud::controller
