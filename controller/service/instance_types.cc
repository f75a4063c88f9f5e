#include "controller/service/instance_types.h"

#include "absl/strings/string_view.h"

namespace minicloud::controller {

// vCPU and memory per https://aws.amazon.com/ec2/instance-types/ (t3, m5, m5d, c5, c5d, r5, r5d,
// i3). Instance store (count x size in GB, all NVMe SSD, NvmeSupport "required") per the Amazon
// EC2 User Guide, "Instance store volume limits for EC2 instances"
// (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instance-store-volumes.html):
//   m5d.large 1x75, .xlarge 1x150, .2xlarge 1x300, .4xlarge 2x300
//   c5d.large 1x50, .xlarge 1x100, .2xlarge 1x200, .4xlarge 1x400
//   r5d.large 1x75, .xlarge 1x150, .2xlarge 1x300, .4xlarge 2x300
//   i3.large 1x475, .xlarge 1x950, .2xlarge 1x1900
// i3 memory: 15.25, 30.5 and 61 GiB.
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
      {"m5d.2xlarge", 8, 32768, 1, 300},
      {"m5d.4xlarge", 16, 65536, 2, 300},
      {"c5.large", 2, 4096},
      {"c5.xlarge", 4, 8192},
      {"c5.2xlarge", 8, 16384},
      {"c5d.large", 2, 4096, 1, 50},
      {"c5d.xlarge", 4, 8192, 1, 100},
      {"c5d.2xlarge", 8, 16384, 1, 200},
      {"c5d.4xlarge", 16, 32768, 1, 400},
      {"r5.large", 2, 16384},
      {"r5.xlarge", 4, 32768},
      {"r5d.large", 2, 16384, 1, 75},
      {"r5d.xlarge", 4, 32768, 1, 150},
      {"r5d.2xlarge", 8, 65536, 1, 300},
      {"r5d.4xlarge", 16, 131072, 2, 300},
      {"i3.large", 2, 15616, 1, 475},
      {"i3.xlarge", 4, 31232, 1, 950},
      {"i3.2xlarge", 8, 62464, 1, 1900},
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
