#pragma once

#include "absl/status/statusor.h"
#include "agent/metadata/instance_metadata.h"
#include "minicloud/v1/host.pb.h"

namespace minicloud::agent {

// What the metadata service serves for a desired instance: the controller's GuestMetadata
// (built by controller/service/guest_view.h) and GuestNetwork converted field by field. No
// defaults or policy here: an option the controller left UNSPECIFIED (or a value this build does
// not know) is InvalidArgument naming the field, and the record is not served. Pure.
absl::StatusOr<metadata::InstanceMetadata> ToInstanceMetadata(const v1::DesiredInstance& want);

}  // namespace minicloud::agent
