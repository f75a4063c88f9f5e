#include "controller/service/instance_common.h"

#include "absl/strings/str_cat.h"
#include "common/ec2_error.h"
#include "common/ids.h"
#include "common/status_macros.h"
#include "controller/service/instance_state.h"
#include "controller/service/tag_service.h"

namespace minicloud::controller {

absl::Status InstanceNotFound(absl::string_view id) {
  return Ec2Error(absl::StatusCode::kNotFound, "InvalidInstanceID.NotFound",
                  absl::StrCat("The instance ID '", id, "' does not exist"));
}

absl::Status CheckInstanceIdFormat(absl::string_view id) {
  if (IsValidId(id, "i")) return absl::OkStatus();
  return Ec2Error(absl::StatusCode::kInvalidArgument, "InvalidInstanceID.Malformed",
                  absl::StrCat("Invalid id: ", QuoteForMessage(id)));
}

v1::InstanceState ApiState(v1::InstanceStateCode s) {
  v1::InstanceState out;
  out.set_code(Ec2StateCode(s));
  out.set_name(std::string(Ec2StateName(s)));
  return out;
}

absl::StatusOr<const v1::InstanceRecord*> FindInstanceLocked(CloudState& state,
                                                             absl::string_view id) {
  MC_RETURN_IF_ERROR(CheckInstanceIdFormat(id));
  auto it = state.instances().find(std::string(id));
  if (it == state.instances().end()) return InstanceNotFound(id);
  return &it->second;
}

int64_t InstanceStoreGb(const InstanceType& type) {
  return static_cast<int64_t>(type.instance_store_disks) * type.instance_store_gb;
}

absl::Status SchedulerError(const absl::Status& s, absl::string_view instance_type) {
  if (s.code() == absl::StatusCode::kResourceExhausted) {
    return Ec2Error(absl::StatusCode::kResourceExhausted, "InsufficientInstanceCapacity",
                    absl::StrCat("We currently do not have sufficient ", instance_type,
                                 " capacity: ", s.message()));
  }
  if (s.code() == absl::StatusCode::kInvalidArgument) return InvalidParameterValue(s.message());
  return s;
}

absl::Status DryRunOk() {
  return Ec2Error(absl::StatusCode::kFailedPrecondition, "DryRunOperation",
                  "Request would have succeeded, but DryRun flag is set.");
}

absl::Status ValidateInstanceTags(const google::protobuf::RepeatedPtrField<v1::Tag>& tags,
                                  v1::InstanceMetadataTags metadata_tags) {
  return ValidateTagSpecification(tags,
                                  metadata_tags == v1::INSTANCE_METADATA_TAGS_ENABLED
                                      ? TagUse::kInstanceMetadata
                                      : TagUse::kApiOnly,
                                  "instance");
}

}  // namespace minicloud::controller
