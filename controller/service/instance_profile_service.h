#pragma once

// Instance profiles: IAM-like profiles each naming one role and the EC2 actions its instances'
// credentials may call (controller/iam/policy.h), and the short-lived credentials an instance's
// agent fetches for it (controller/iam/session_credentials.h). Thread-safe.
//
// Rules, in one place:
//  - names (profile and role): 1..128 characters of [A-Za-z0-9+=,.@_-] (IAM's); a role name
//    defaults to the profile's name; at least one allowed action, each valid.
//  - a name is unique: EntityAlreadyExists; an unknown name: NoSuchEntity (IAM's codes).
//  - a profile used by an instance that is not terminated cannot be deleted: DeleteConflict.
//  - RunInstances names a profile by Name or Arn (FindProfileLocked); an unknown one is EC2's
//    InvalidParameterValue "Invalid IAM Instance Profile name/arn".
//  - credentials are issued only to the host the instance is placed on, for an instance that is
//    not terminated and whose profile still exists (same id); a session's requests are refused
//    once that no longer holds (StillValid).

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "controller/iam/session_credentials.h"
#include "controller/service/cloud_state.h"
#include "minicloud/v1/compute.pb.h"
#include "minicloud/v1/iam.pb.h"

namespace minicloud::controller {

class InstanceProfileService {
 public:
  InstanceProfileService(CloudState& state, const Clock& clock, const iam::SessionSealer& sealer)
      : state_(state), clock_(clock), sealer_(sealer) {}

  absl::StatusOr<v1::CreateInstanceProfileResponse> CreateInstanceProfile(
      const v1::CreateInstanceProfileRequest& req);
  absl::StatusOr<v1::GetInstanceProfileResponse> GetInstanceProfile(
      const v1::GetInstanceProfileRequest& req);
  absl::StatusOr<v1::ListInstanceProfilesResponse> ListInstanceProfiles(
      const v1::ListInstanceProfilesRequest& req);
  absl::StatusOr<v1::DeleteInstanceProfileResponse> DeleteInstanceProfile(
      const v1::DeleteInstanceProfileRequest& req);

  // HostService.GetInstanceCredentials.
  absl::StatusOr<v1::InstanceCredentials> IssueCredentials(
      const v1::GetInstanceCredentialsRequest& req);

  // The verifier's check of a session (iam::SessionCheck).
  absl::Status StillValid(const v1::SessionTokenPayload& session);

 private:
  CloudState& state_;
  const Clock& clock_;
  const iam::SessionSealer& sealer_;
};

// The profile RunInstances names (by name, by ARN, or both, which must agree). Requires
// state.mu() held. The pointer stays valid while the lock is held.
absl::StatusOr<const v1::InstanceProfile*> FindProfileLocked(
    CloudState& state, const v1::IamInstanceProfileSpecification& spec);

// arn:aws:iam::<account>:instance-profile/<name>
std::string InstanceProfileArn(absl::string_view account_id, absl::string_view name);

}  // namespace minicloud::controller
