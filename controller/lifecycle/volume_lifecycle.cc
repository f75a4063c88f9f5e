#include "controller/lifecycle/volume_lifecycle.h"

#include "absl/strings/str_cat.h"
#include "common/ec2_error.h"
#include "common/volume_limits.h"

namespace minicloud::controller::lifecycle {
namespace {

VolumeTransition To(v1::VolumeState s) { return VolumeTransition{true, s, false}; }
VolumeTransition Same(const VolumeView& v) { return VolumeTransition{false, v.state, false}; }

absl::Status IncorrectState(const VolumeView& v) {
  return Ec2Error(
      absl::StatusCode::kFailedPrecondition, "IncorrectState",
      absl::StrCat("The volume '", v.volume_id, "' is '", VolumeStateName(v.state), "'."));
}

absl::Status Internal(absl::string_view what, absl::string_view state) {
  return absl::InternalError(absl::StrCat(what, " cannot happen to a ", state, " volume"));
}

}  // namespace

absl::string_view VolumeEventName(VolumeEvent e) {
  switch (e) {
    case VolumeEvent::kCreateAccepted:
      return "create accepted";
    case VolumeEvent::kServiceCreated:
      return "service created";
    case VolumeEvent::kServiceFailed:
      return "service failed";
    case VolumeEvent::kDeleteRequested:
      return "delete requested";
    case VolumeEvent::kServiceDeleted:
      return "service deleted";
    case VolumeEvent::kAttachRequested:
      return "attach requested";
    case VolumeEvent::kLastDetached:
      return "last detached";
    case VolumeEvent::kModifyRequested:
      return "modify requested";
  }
  return "?";
}

absl::string_view AttachmentEventName(AttachmentEvent e) {
  switch (e) {
    case AttachmentEvent::kAttachRequested:
      return "attach requested";
    case AttachmentEvent::kHostAttached:
      return "host attached";
    case AttachmentEvent::kDetachRequested:
      return "detach requested";
    case AttachmentEvent::kHostDetached:
      return "host detached";
  }
  return "?";
}

absl::StatusOr<VolumeTransition> Apply(const VolumeView& v, VolumeEvent e) {
  const absl::string_view state = VolumeStateName(v.state);
  if (v.state == v1::VOLUME_STATE_UNSPECIFIED) {
    if (e == VolumeEvent::kCreateAccepted) return To(v1::VOLUME_STATE_CREATING);
    return Internal(VolumeEventName(e), "missing");
  }
  switch (e) {
    case VolumeEvent::kCreateAccepted:
      return Internal(VolumeEventName(e), state);
    case VolumeEvent::kServiceCreated:
      // A volume RunInstances made for an instance (its root, an Ebs mapping) is attached from
      // the start: it is in use once made.
      if (v.state == v1::VOLUME_STATE_CREATING) {
        return To(v.attachments > 0 ? v1::VOLUME_STATE_IN_USE : v1::VOLUME_STATE_AVAILABLE);
      }
      return Same(v);  // a late or repeated answer of the volume service
    case VolumeEvent::kServiceFailed:
      if (v.state == v1::VOLUME_STATE_CREATING) return To(v1::VOLUME_STATE_ERROR);
      return Same(v);
    case VolumeEvent::kDeleteRequested:
      switch (v.state) {
        case v1::VOLUME_STATE_AVAILABLE:
        case v1::VOLUME_STATE_ERROR:
          return To(v1::VOLUME_STATE_DELETING);
        case v1::VOLUME_STATE_DELETING:
          return Same(v);
        case v1::VOLUME_STATE_IN_USE:
          return Ec2Error(absl::StatusCode::kFailedPrecondition, "VolumeInUse",
                          absl::StrCat("Volume ", v.volume_id, " is currently attached to ",
                                       v.attached_to.empty() ? "an instance" : v.attached_to));
        default:
          return IncorrectState(v);
      }
    case VolumeEvent::kServiceDeleted:
      if (v.state == v1::VOLUME_STATE_DELETING) {
        return VolumeTransition{true, v1::VOLUME_STATE_DELETED, true};
      }
      return Internal(VolumeEventName(e), state);
    case VolumeEvent::kAttachRequested:
      if (v.state == v1::VOLUME_STATE_AVAILABLE) return To(v1::VOLUME_STATE_IN_USE);
      if (v.state != v1::VOLUME_STATE_IN_USE) return IncorrectState(v);
      if (!v.multi_attach) {
        return Ec2Error(absl::StatusCode::kFailedPrecondition, "VolumeInUse",
                        absl::StrCat(v.volume_id, " is already attached to an instance"));
      }
      if (v.attachments >= volumes::kMaxMultiAttachInstances) {
        return Ec2Error(
            absl::StatusCode::kFailedPrecondition, "AttachmentLimitExceeded",
            absl::StrCat("Volume ", v.volume_id, " is attached to ",
                         volumes::kMaxMultiAttachInstances, " instances, the Multi-Attach limit."));
      }
      return Same(v);
    case VolumeEvent::kLastDetached:
      if (v.state == v1::VOLUME_STATE_IN_USE) return To(v1::VOLUME_STATE_AVAILABLE);
      return Internal(VolumeEventName(e), state);
    case VolumeEvent::kModifyRequested:
      if (v.state == v1::VOLUME_STATE_AVAILABLE || v.state == v1::VOLUME_STATE_IN_USE) {
        return Same(v);
      }
      return IncorrectState(v);
  }
  return Internal(VolumeEventName(e), state);
}

absl::StatusOr<v1::AttachmentState> Apply(const std::string& volume_id, v1::AttachmentState current,
                                          AttachmentEvent e) {
  auto incorrect = [&] {
    return Ec2Error(
        absl::StatusCode::kFailedPrecondition, "IncorrectState",
        absl::StrCat(
            "The attachment of volume '", volume_id, "' is '",
            current == v1::ATTACHMENT_STATE_UNSPECIFIED ? "absent" : AttachmentStateName(current),
            "'."));
  };
  switch (e) {
    case AttachmentEvent::kAttachRequested:
      if (current == v1::ATTACHMENT_STATE_UNSPECIFIED) return v1::ATTACHMENT_STATE_ATTACHING;
      return Ec2Error(absl::StatusCode::kFailedPrecondition, "VolumeInUse",
                      absl::StrCat(volume_id, " is already attached to the instance"));
    case AttachmentEvent::kHostAttached:
      if (current == v1::ATTACHMENT_STATE_ATTACHING || current == v1::ATTACHMENT_STATE_ATTACHED) {
        return v1::ATTACHMENT_STATE_ATTACHED;
      }
      return incorrect();
    case AttachmentEvent::kDetachRequested:
      if (current == v1::ATTACHMENT_STATE_ATTACHING || current == v1::ATTACHMENT_STATE_ATTACHED ||
          current == v1::ATTACHMENT_STATE_DETACHING) {
        return v1::ATTACHMENT_STATE_DETACHING;
      }
      return Ec2Error(absl::StatusCode::kFailedPrecondition, "IncorrectState",
                      absl::StrCat("Volume '", volume_id, "' is not attached."));
    case AttachmentEvent::kHostDetached:
      if (current == v1::ATTACHMENT_STATE_DETACHING) return v1::ATTACHMENT_STATE_DETACHED;
      return incorrect();
  }
  return incorrect();
}

}  // namespace minicloud::controller::lifecycle
