#include "controller/service/instance_types.h"

#include "absl/strings/string_view.h"

namespace minicloud::controller {

// vCPU and memory per https://aws.amazon.com/ec2/instance-types/ (t3, m5, m5d, c5, c5d, r5, i3).
const std::vector<InstanceType>& InstanceTypeCatalog() {
  static const std::vector<InstanceType> kCatalog = {
      {"t3.nano", 2, 512, 0, 0, true},
      {"t3.micro", 2, 1024, 0, 0, true},
      {"t3.small", 2, 2048, 0, 0, true},
      {"t3.medium", 2, 4096, 0, 0, true},
      {"t3.large", 2, 8192, 0, 0, true},
      {"t3.xlarge", 4, 16384, 0, 0, true},
      {"t3.2xlarge", 8, 32768, 0, 0, true},
      {"m5.large", 2, 8192},
      {"m5.xlarge", 4, 16384},
      {"m5.2xlarge", 8, 32768},
      {"m5.4xlarge", 16, 65536},
      {"m5d.large", 2, 8192, 1, 75},
      {"m5d.xlarge", 4, 16384, 1, 150},
      {"c5.large", 2, 4096},
      {"c5.xlarge", 4, 8192},
      {"c5.2xlarge", 8, 16384},
      {"c5d.large", 2, 4096, 1, 50},
      {"r5.large", 2, 16384},
      {"r5.xlarge", 4, 32768},
      {"i3.large", 2, 15616, 1, 475},
  };
  return kCatalog;
}

std::optional<InstanceType> FindInstanceType(absl::string_view name) {
  for (const auto& t : InstanceTypeCatalog()) {
    if (t.name == name) return t;
  }
  return std::nullopt;
}

}  // namespace minicloud::controller
