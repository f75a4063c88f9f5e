#pragma once

#include "agent/metadata/instance_metadata.h"
#include "minicloud/v1/host.pb.h"

namespace minicloud::agent {

// What the metadata service serves for a desired instance. Pure.
metadata::InstanceMetadata ToInstanceMetadata(const v1::DesiredInstance& want);

}  // namespace minicloud::agent
