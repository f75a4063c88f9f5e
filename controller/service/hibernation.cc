#include "controller/service/hibernation.h"

#include <array>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/ec2_error.h"

namespace minicloud::controller {
namespace {

absl::Status Unsupported(absl::string_view why) {
  return Ec2Error(absl::StatusCode::kInvalidArgument, "UnsupportedHibernationConfiguration",
                  absl::StrCat("The instance could not be launched because one or more parameter "
                               "values do not meet the prerequisites for enabling hibernation: ",
                               why));
}

// EC2 User Guide, "Prerequisites for EC2 instance hibernation", supported instance families
// (Linux), as far as this catalog goes and a little beyond.
constexpr std::array<absl::string_view, 17> kFamilies = {"c3", "c4", "c5",  "c5d",  "i3",  "m3",
                                                         "m4", "m5", "m5a", "m5ad", "m5d", "r3",
                                                         "r4", "r5", "r5d", "t2",   "t3"};

}  // namespace

bool HibernationSupported(absl::string_view instance_type, int64_t memory_mib) {
  const size_t dot = instance_type.find('.');
  if (dot == absl::string_view::npos) return false;
  const absl::string_view family = instance_type.substr(0, dot);
  if (absl::EndsWith(instance_type, ".metal")) return false;
  bool listed = false;
  for (absl::string_view f : kFamilies) listed = listed || f == family;
  return listed && memory_mib < kMaxHibernationMemoryMib;
}

absl::Status CheckHibernationPrerequisites(const HibernationLaunch& l) {
  if (l.root_device_type != "ebs") {
    return Unsupported("the AMI's root device must be an EBS volume");
  }
  if (!HibernationSupported(l.instance_type, l.memory_mib)) {
    return Unsupported(absl::StrCat("instance type ", l.instance_type,
                                    " does not support hibernation (supported families with "
                                    "less than 150 GiB of RAM)"));
  }
  if (!l.root_encrypted) {
    return Unsupported("the root volume must be encrypted");
  }
  const int64_t ram_gib = (l.memory_mib + 1023) / 1024;
  if (l.root_size_gib < l.image_size_gib + ram_gib) {
    return Unsupported(absl::StrCat("the root volume (", l.root_size_gib,
                                    " GiB) must hold the AMI's ", l.image_size_gib,
                                    " GiB and the instance's RAM (", ram_gib, " GiB)"));
  }
  return absl::OkStatus();
}

int64_t HibernationVolumeGib(int64_t memory_mib) { return (memory_mib + 1023) / 1024 + 1; }

absl::Status CheckCanHibernate(const v1::InstanceRecord& r, bool force) {
  if (force) {
    return Ec2Error(absl::StatusCode::kInvalidArgument, "InvalidParameterCombination",
                    "The parameters Hibernate and Force cannot be used together");
  }
  if (!r.hibernation_configured()) {
    return Ec2Error(
        absl::StatusCode::kInvalidArgument, "UnsupportedOperation",
        absl::StrCat("The instance '", r.instance_id(), "' is not enabled for hibernation."));
  }
  return absl::OkStatus();
}

}  // namespace minicloud::controller
