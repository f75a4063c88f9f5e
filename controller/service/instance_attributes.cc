// ComputeService's instance attributes: ModifyInstanceMetadataOptions, ModifyInstanceAttribute
// and DescribeInstanceAttribute (user data, changed only while the instance is stopped).

#include "absl/strings/str_cat.h"
#include "common/ec2_error.h"
#include "common/status_macros.h"
#include "controller/service/compute_service.h"
#include "controller/service/instance_common.h"
#include "controller/service/metadata_options.h"

namespace minicloud::controller {
namespace {

// The tags of an existing instance, checked again when the metadata options change.
google::protobuf::RepeatedPtrField<v1::Tag> TagsOf(const v1::InstanceRecord& r) {
  google::protobuf::RepeatedPtrField<v1::Tag> out;
  for (const auto& [k, v] : r.tags()) {
    v1::Tag* t = out.Add();
    t->set_key(k);
    t->set_value(v);
  }
  return out;
}

}  // namespace

absl::StatusOr<v1::ModifyInstanceMetadataOptionsResponse>
ComputeService::ModifyInstanceMetadataOptions(const v1::ModifyInstanceMetadataOptionsRequest& req) {
  auto lock = state_.LockCommitted();
  MC_ASSIGN_OR_RETURN(const v1::InstanceRecord* current,
                      FindInstanceLocked(state_, req.instance_id()));
  if (current->state() == v1::INSTANCE_STATE_CODE_TERMINATED ||
      current->state() == v1::INSTANCE_STATE_CODE_SHUTTING_DOWN) {
    return Ec2Error(absl::StatusCode::kFailedPrecondition, "IncorrectInstanceState",
                    absl::StrCat("The instance '", req.instance_id(),
                                 "' is not in a state "
                                 "from which its metadata options can be modified."));
  }
  MC_ASSIGN_OR_RETURN(auto options,
                      ResolveMetadataOptions(req.options(), current->metadata_options()));
  // Enabling tags in metadata is refused while a tag key could not be served there.
  if (options.instance_metadata_tags() == v1::INSTANCE_METADATA_TAGS_ENABLED) {
    MC_RETURN_IF_ERROR(ValidateInstanceTags(TagsOf(*current), options.instance_metadata_tags()));
  }
  if (req.dry_run()) return DryRunOk();
  v1::InstanceRecord r = *current;
  *r.mutable_metadata_options() = options;
  CloudState::Changes changes;
  changes.instances[r.instance_id()] = r;
  MC_RETURN_IF_ERROR(Annotate(state_.CommitLocked(changes), "record metadata options"));
  state_.BumpGenerationLocked(r.host_id());
  v1::ModifyInstanceMetadataOptionsResponse resp;
  resp.set_instance_id(r.instance_id());
  *resp.mutable_instance_metadata_options() = options;
  return resp;
}

absl::StatusOr<v1::ModifyInstanceAttributeResponse> ComputeService::ModifyInstanceAttribute(
    const v1::ModifyInstanceAttributeRequest& req) {
  if (!req.set_user_data()) return MissingParameter("No attribute to modify was given");
  if (req.user_data().size() > kMaxUserDataBytes) {
    return InvalidParameterValue(absl::StrCat("User data is limited to ", kMaxUserDataBytes,
                                              " bytes; got ", req.user_data().size()));
  }
  auto lock = state_.LockCommitted();
  MC_ASSIGN_OR_RETURN(const v1::InstanceRecord* current,
                      FindInstanceLocked(state_, req.instance_id()));
  // User data can change only while the instance is stopped (EC2 ModifyInstanceAttribute).
  if (current->state() != v1::INSTANCE_STATE_CODE_STOPPED) {
    return Ec2Error(absl::StatusCode::kFailedPrecondition, "IncorrectInstanceState",
                    absl::StrCat("The instance '", req.instance_id(),
                                 "' is not in the 'stopped' "
                                 "state."));
  }
  if (req.dry_run()) return DryRunOk();
  v1::InstanceRecord r = *current;
  r.set_user_data(req.user_data());
  r.set_has_user_data(!req.user_data().empty());
  CloudState::Changes changes;
  changes.instances[r.instance_id()] = r;
  MC_RETURN_IF_ERROR(Annotate(state_.CommitLocked(changes), "record user data"));
  state_.BumpGenerationLocked(r.host_id());
  return v1::ModifyInstanceAttributeResponse();
}

absl::StatusOr<v1::DescribeInstanceAttributeResponse> ComputeService::DescribeInstanceAttribute(
    const v1::DescribeInstanceAttributeRequest& req) {
  if (req.attribute() != "userData") {
    return InvalidParameterValue(
        absl::StrCat("Value (", req.attribute(), ") for parameter attribute is invalid."));
  }
  auto lock = state_.LockCommitted();
  MC_ASSIGN_OR_RETURN(const v1::InstanceRecord* r, FindInstanceLocked(state_, req.instance_id()));
  v1::DescribeInstanceAttributeResponse resp;
  resp.set_instance_id(r->instance_id());
  resp.set_has_user_data(r->has_user_data());
  resp.set_user_data(r->user_data());
  return resp;
}

}  // namespace minicloud::controller
