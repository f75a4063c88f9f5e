#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/string_view.h"

namespace minicloud::controller {

// One row of the instance-type catalog; sizes as AWS publishes them.
struct InstanceType {
  absl::string_view name;
  int vcpus;
  int64_t memory_mib;
  int instance_store_disks = 0;   // count of instance-store volumes
  int64_t instance_store_gb = 0;  // size of each
  bool burstable = false;
};

// The catalog, ordered by family then size.
const std::vector<InstanceType>& InstanceTypeCatalog();
std::optional<InstanceType> FindInstanceType(absl::string_view name);

}  // namespace minicloud::controller
