#pragma once

// EC2's hibernation rules, in one place (the Query API, gRPC and the CLI only translate).
//
// Prerequisites of RunInstances with HibernationOptions.Configured=true, per the Amazon EC2 User
// Guide ("Prerequisites for EC2 instance hibernation": supported instance families, instance RAM
// size, root volume type, size and encryption) and EC2's error code for them
// (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html,
// UnsupportedHibernationConfiguration: "The instance could not be launched because one or more
// parameter values do not meet the prerequisites for enabling hibernation"):
//   - an EBS root (instance-store roots cannot stop, let alone hibernate);
//   - an encrypted root volume ("the root volume must be an encrypted EBS volume");
//   - a root volume large enough for the RAM contents besides what the AMI holds;
//   - an instance family EC2 hibernates (C3-C5, I3, M3-M5, R3-R5, T2, T3 and their variants)
//     with less than 150 GiB of RAM (EC2 User Guide, hibernation limitations).
// StopInstances with Hibernate=true on an instance launched without it is UnsupportedOperation
// (the instance "is not enabled for hibernation"); with Force as well, InvalidParameterCombination.
//
// Where the RAM goes: minicloud saves the guest's memory from the hypervisor (libvirt save), not
// from inside the guest, so it keeps it on a volume of its own on the zone's volume service (the
// "hibernation volume", HibernationVolumeGib big, encrypted like the root), made with the root
// and deleted with the instance; docs/design.md, "Hibernation".

#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "minicloud/v1/records.pb.h"

namespace minicloud::controller {

inline constexpr int64_t kMaxHibernationMemoryMib = 150 * 1024;

// What RunInstances knows of one launch when it checks the prerequisites.
struct HibernationLaunch {
  absl::string_view instance_type;
  int64_t memory_mib = 0;
  absl::string_view root_device_type;  // the AMI's: "ebs", "instance-store", "" (host-local)
  bool root_encrypted = false;
  int64_t root_size_gib = 0;   // the root volume as it will be made
  int64_t image_size_gib = 0;  // what the AMI's root holds (its snapshot's size)
};

// OK, or UnsupportedHibernationConfiguration naming the first unmet prerequisite.
absl::Status CheckHibernationPrerequisites(const HibernationLaunch& launch);

// Whether EC2 hibernates this instance type (its family and RAM); DescribeInstanceTypes'
// HibernationSupported.
bool HibernationSupported(absl::string_view instance_type, int64_t memory_mib);

// The hibernation volume's size for `memory_mib` of RAM: the RAM rounded up to GiB plus one GiB
// for the device state and libvirt's header.
int64_t HibernationVolumeGib(int64_t memory_mib);

// StopInstances' own check before the lifecycle: Hibernate only for a configured instance, never
// with Force.
absl::Status CheckCanHibernate(const v1::InstanceRecord& r, bool force);

}  // namespace minicloud::controller
