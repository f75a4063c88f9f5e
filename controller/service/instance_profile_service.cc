#include "controller/service/instance_profile_service.h"

#include <openssl/rand.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/ec2_error.h"
#include "common/ids.h"
#include "common/status_macros.h"
#include "controller/iam/policy.h"

namespace minicloud::controller {
namespace {

constexpr size_t kMaxNameLength = 128;  // IAM's limit for instance profile and role names

absl::Status ValidateName(absl::string_view name, absl::string_view what) {
  bool ok = !name.empty() && name.size() <= kMaxNameLength;
  for (char c : name) {
    ok = ok && (absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
                absl::string_view("+=,.@_-").find(c) != absl::string_view::npos);
  }
  if (ok) return absl::OkStatus();
  // IAM's ValidationError, answered as EC2 would answer a bad parameter.
  return Ec2Error(absl::StatusCode::kInvalidArgument, "ValidationError",
                  absl::StrCat("The ", what, " '", name.substr(0, kMaxNameLength),
                               "' must be 1 to 128 characters of letters, digits and +=,.@_-"));
}

absl::Status NoSuchEntity(absl::string_view name) {
  return Ec2Error(
      absl::StatusCode::kNotFound, "NoSuchEntity",
      absl::StrCat("Instance Profile ", name.substr(0, kMaxNameLength), " cannot be found."));
}

// IAM's unique ids: a 4-letter kind prefix and 17 upper-case letters and digits (random).
absl::StatusOr<std::string> UniqueId(absl::string_view prefix) {
  static constexpr absl::string_view kChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  unsigned char bytes[17];
  if (RAND_bytes(bytes, sizeof bytes) != 1) return absl::InternalError("RAND_bytes failed");
  std::string out(prefix);
  for (unsigned char b : bytes) out.push_back(kChars[b % kChars.size()]);
  return out;
}

// Terminated, or on its way there: its credentials end with TerminateInstances.
bool Terminated(const v1::InstanceRecord& r) {
  return r.state() == v1::INSTANCE_STATE_CODE_TERMINATED ||
         r.state() == v1::INSTANCE_STATE_CODE_SHUTTING_DOWN;
}

}  // namespace

std::string InstanceProfileArn(absl::string_view account_id, absl::string_view name) {
  return absl::StrCat("arn:aws:iam::", account_id, ":instance-profile/", name);
}

absl::StatusOr<const v1::InstanceProfile*> FindProfileLocked(
    CloudState& state, const v1::IamInstanceProfileSpecification& spec) {
  const v1::InstanceProfile* by_name = nullptr;
  if (!spec.name().empty()) {
    auto it = state.instance_profiles().find(spec.name());
    if (it == state.instance_profiles().end()) {
      // EC2's answer to an unknown profile name (RunInstances).
      return InvalidParameterValue(
          absl::StrCat("Value (", spec.name().substr(0, kMaxNameLength),
                       ") for parameter iamInstanceProfile.name is invalid. Invalid IAM "
                       "Instance Profile name"));
    }
    by_name = &it->second.profile();
  }
  if (spec.arn().empty()) {
    if (by_name == nullptr) {
      return MissingParameter("IamInstanceProfile needs a Name or an Arn");
    }
    return by_name;
  }
  const v1::InstanceProfile* by_arn = nullptr;
  for (const auto& [name, r] : state.instance_profiles()) {
    if (r.profile().arn() == spec.arn()) by_arn = &r.profile();
  }
  if (by_arn == nullptr || (by_name != nullptr && by_name != by_arn)) {
    return InvalidParameterValue(
        absl::StrCat("Value (", spec.arn().substr(0, 256),
                     ") for parameter iamInstanceProfile.arn is invalid. Invalid IAM Instance "
                     "Profile ARN"));
  }
  return by_arn;
}

absl::StatusOr<v1::CreateInstanceProfileResponse> InstanceProfileService::CreateInstanceProfile(
    const v1::CreateInstanceProfileRequest& req) {
  MC_RETURN_IF_ERROR(ValidateName(req.instance_profile_name(), "instance profile name"));
  const std::string role = req.role_name().empty() ? req.instance_profile_name() : req.role_name();
  MC_RETURN_IF_ERROR(ValidateName(role, "role name"));
  const std::vector<std::string> actions(req.allowed_actions().begin(),
                                         req.allowed_actions().end());
  MC_RETURN_IF_ERROR(iam::ValidateActionPatterns(actions));

  std::lock_guard<std::mutex> lock(state_.mu());
  if (state_.instance_profiles().contains(req.instance_profile_name())) {
    return Ec2Error(
        absl::StatusCode::kAlreadyExists, "EntityAlreadyExists",
        absl::StrCat("Instance Profile ", req.instance_profile_name(), " already exists."));
  }
  v1::InstanceProfileRecord r;
  v1::InstanceProfile& p = *r.mutable_profile();
  p.set_instance_profile_name(req.instance_profile_name());
  MC_ASSIGN_OR_RETURN(std::string id, UniqueId("AIPA"));
  p.set_instance_profile_id(std::move(id));
  p.set_arn(InstanceProfileArn(state_.config().owner_id, req.instance_profile_name()));
  p.set_path("/");
  p.set_role_name(role);
  *p.mutable_allowed_actions() = req.allowed_actions();
  p.set_create_time_ms(absl::ToUnixMillis(clock_.Now()));
  CloudState::Changes changes;
  changes.instance_profiles[p.instance_profile_name()] = r;
  MC_RETURN_IF_ERROR(Annotate(state_.CommitLocked(changes), "record instance profile"));
  v1::CreateInstanceProfileResponse resp;
  *resp.mutable_instance_profile() = p;
  return resp;
}

absl::StatusOr<v1::GetInstanceProfileResponse> InstanceProfileService::GetInstanceProfile(
    const v1::GetInstanceProfileRequest& req) {
  if (req.instance_profile_name().empty()) {
    return MissingParameter("The request must contain the parameter InstanceProfileName");
  }
  auto lock = state_.LockCommitted();
  auto it = state_.instance_profiles().find(req.instance_profile_name());
  if (it == state_.instance_profiles().end()) return NoSuchEntity(req.instance_profile_name());
  v1::GetInstanceProfileResponse resp;
  *resp.mutable_instance_profile() = it->second.profile();
  return resp;
}

absl::StatusOr<v1::ListInstanceProfilesResponse> InstanceProfileService::ListInstanceProfiles(
    const v1::ListInstanceProfilesRequest&) {
  auto lock = state_.LockCommitted();
  v1::ListInstanceProfilesResponse resp;
  for (const auto& [name, r] : state_.instance_profiles()) {
    *resp.add_instance_profiles() = r.profile();
  }
  return resp;
}

absl::StatusOr<v1::DeleteInstanceProfileResponse> InstanceProfileService::DeleteInstanceProfile(
    const v1::DeleteInstanceProfileRequest& req) {
  if (req.instance_profile_name().empty()) {
    return MissingParameter("The request must contain the parameter InstanceProfileName");
  }
  std::lock_guard<std::mutex> lock(state_.mu());
  auto it = state_.instance_profiles().find(req.instance_profile_name());
  if (it == state_.instance_profiles().end()) return NoSuchEntity(req.instance_profile_name());
  for (const auto& [id, inst] : state_.instances()) {
    if (!Terminated(inst) &&
        inst.iam_instance_profile_id() == it->second.profile().instance_profile_id()) {
      return Ec2Error(absl::StatusCode::kFailedPrecondition, "DeleteConflict",
                      absl::StrCat("Cannot delete instance profile ", req.instance_profile_name(),
                                   ": instance ", id, " uses it."));
    }
  }
  CloudState::Changes changes;
  changes.deleted_instance_profiles.push_back(req.instance_profile_name());
  MC_RETURN_IF_ERROR(Annotate(state_.CommitLocked(changes), "delete instance profile"));
  return v1::DeleteInstanceProfileResponse();
}

absl::StatusOr<v1::InstanceCredentials> InstanceProfileService::IssueCredentials(
    const v1::GetInstanceCredentialsRequest& req) {
  MC_RETURN_IF_ERROR(CheckId(IdKind::kInstance, req.instance_id()));
  v1::SessionTokenPayload claims;
  {
    auto lock = state_.LockCommitted();
    auto it = state_.instances().find(req.instance_id());
    // Another host's instance is answered like an unknown one: a host learns nothing of others.
    if (it == state_.instances().end() || it->second.host_id() != req.host_id() ||
        req.host_id().empty() || Terminated(it->second)) {
      return Ec2Error(
          absl::StatusCode::kNotFound, "InvalidInstanceID.NotFound",
          absl::StrCat("The instance ID '", req.instance_id(), "' does not exist on host ",
                       QuoteForMessage(req.host_id(), 64)));
    }
    const v1::InstanceRecord& inst = it->second;
    auto p = state_.instance_profiles().find(inst.iam_instance_profile_name());
    if (inst.iam_instance_profile_name().empty() || p == state_.instance_profiles().end() ||
        p->second.profile().instance_profile_id() != inst.iam_instance_profile_id()) {
      return Ec2Error(absl::StatusCode::kFailedPrecondition, "NoSuchEntity",
                      absl::StrCat("Instance ", inst.instance_id(),
                                   " has no instance profile (or its profile was deleted)"));
    }
    const v1::InstanceProfile& profile = p->second.profile();
    claims.set_instance_id(inst.instance_id());
    claims.set_instance_profile_name(profile.instance_profile_name());
    claims.set_instance_profile_arn(profile.arn());
    claims.set_instance_profile_id(profile.instance_profile_id());
    claims.set_role_name(profile.role_name());
    *claims.mutable_allowed_actions() = profile.allowed_actions();
  }
  MC_ASSIGN_OR_RETURN(iam::SessionSealer::Issued issued, sealer_.Issue(claims, clock_.Now()));
  v1::InstanceCredentials c;
  c.set_code("Success");
  c.set_last_updated_ms(issued.payload.issued_ms());
  c.set_type("AWS-HMAC");
  c.set_access_key_id(issued.payload.access_key_id());
  c.set_secret_access_key(issued.payload.secret_access_key());
  c.set_token(issued.token);
  c.set_expiration_ms(issued.payload.expiration_ms());
  c.set_role_name(issued.payload.role_name());
  c.set_instance_profile_arn(issued.payload.instance_profile_arn());
  c.set_instance_profile_id(issued.payload.instance_profile_id());
  return c;
}

absl::Status InstanceProfileService::StillValid(const v1::SessionTokenPayload& session) {
  std::lock_guard<std::mutex> lock(state_.mu());
  auto it = state_.instances().find(session.instance_id());
  if (it == state_.instances().end() || Terminated(it->second)) {
    return absl::PermissionDeniedError("the session's instance is terminated");
  }
  auto p = state_.instance_profiles().find(session.instance_profile_name());
  if (p == state_.instance_profiles().end() ||
      p->second.profile().instance_profile_id() != session.instance_profile_id()) {
    return absl::PermissionDeniedError("the session's instance profile was deleted");
  }
  return absl::OkStatus();
}

}  // namespace minicloud::controller
