#pragma once

// The EBS volume lifecycle in one place, beside the instance lifecycle (lifecycle.h): every state
// a volume and an attachment can be in, every event, and what each (state, event) pair does.
// Pure: no I/O, no clock, no locks. VolumeService loads a record, asks Apply*() what the event
// does, and stores the answer.
//
//   (none) --create accepted--> creating --service: created--> available
//                                        --service: failed-->  error
//   available|error --delete--> deleting --service: deleted--> deleted (record removed)
//   available --attach--> in-use;  in-use (Multi-Attach, < 16 attachments) --attach--> in-use
//   in-use --last attachment detached--> available
//
//   attachment: (none) --attach--> attaching --host: attached--> attached
//               attaching|attached --detach--> detaching --host: detached--> detached (removed)
//
// EC2's refusals: VolumeInUse (delete or a second attach of an attached volume without
// Multi-Attach), IncorrectState (a volume that is creating, deleting, deleted or in error),
// AttachmentLimitExceeded (a 17th Multi-Attach attachment); the API verbs that find a volume
// already where they lead (delete of deleting) leave it unchanged, as EC2 does.

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/ec2_names.h"
#include "minicloud/v1/volumes.pb.h"

namespace minicloud::controller::lifecycle {

// What can happen to a volume. Add one here and volume_lifecycle_test.cc fails until its table
// lists the event in every state.
enum class VolumeEvent {
  kCreateAccepted,   // CreateVolume recorded a new volume (there is no record yet)
  kServiceCreated,   // the AZ's volume service made its storage
  kServiceFailed,    // the AZ's volume service refused or failed to make it
  kDeleteRequested,  // DeleteVolume
  kServiceDeleted,   // the AZ's volume service removed its storage
  kAttachRequested,  // AttachVolume (the caller checked zone and instance)
  kLastDetached,     // the volume's last attachment ended
  kModifyRequested,  // ModifyVolume
};
inline constexpr int kVolumeEventCount = static_cast<int>(VolumeEvent::kModifyRequested) + 1;
absl::string_view VolumeEventName(VolumeEvent e);

enum class AttachmentEvent {
  kAttachRequested,  // AttachVolume: a new attachment
  kHostAttached,     // the host hot-plugged the disk
  kDetachRequested,  // DetachVolume
  kHostDetached,     // the host unplugged the disk
};
inline constexpr int kAttachmentEventCount = static_cast<int>(AttachmentEvent::kHostDetached) + 1;
absl::string_view AttachmentEventName(AttachmentEvent e);

// The part of a volume record the lifecycle decides on.
struct VolumeView {
  std::string volume_id;
  v1::VolumeState state = v1::VOLUME_STATE_UNSPECIFIED;  // UNSPECIFIED: no record yet
  int attachments = 0;                                   // attachments that are not detached
  bool multi_attach = false;
  std::string attached_to;  // an instance it is attached to, for VolumeInUse's message
};

struct VolumeTransition {
  bool changed = false;
  v1::VolumeState state = v1::VOLUME_STATE_UNSPECIFIED;
  bool purge = false;  // deleted: the record is forgotten
};

// The one transition function of volumes: the new state, or EC2's refusal.
absl::StatusOr<VolumeTransition> Apply(const VolumeView& v, VolumeEvent e);

// The one transition function of attachments (UNSPECIFIED: no attachment yet). The result
// DETACHED means the attachment ends (the caller removes it and, when it was the last, applies
// kLastDetached to the volume).
absl::StatusOr<v1::AttachmentState> Apply(const std::string& volume_id, v1::AttachmentState current,
                                          AttachmentEvent e);

// EC2's names ("in-use", "attaching", ...) are common/ec2_names.h's, shared with the CLI.
using ::minicloud::AttachmentStateName;
using ::minicloud::ModificationStateName;
using ::minicloud::VolumeStateName;

}  // namespace minicloud::controller::lifecycle
