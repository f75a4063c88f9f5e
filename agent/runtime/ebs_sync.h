#pragma once

// The EBS disks of one instance: what the controller wants (DesiredInstance.ebs_disks) against
// what the domain has (Hypervisor::ListEbsDisks). Pure: the agent (ebs_sync.cc's
// Agent::SyncEbsDisks) reads the domain, asks PlanEbsDisks what to change, calls
// Hypervisor::AttachDisk / DetachDisk / GrowDisk / SetDiskLimits, reads the domain again and
// reports what it found.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/hypervisor/hypervisor.h"
#include "common/volume_limits.h"
#include "minicloud/v1/host.pb.h"

namespace minicloud::agent {

struct EbsGrow {
  std::string target_dev;
  int64_t bytes = 0;
};
struct EbsLimits {
  std::string target_dev;
  volumes::IoTune iotune;
};
struct EbsPlan {
  std::vector<v1::DesiredEbsDisk> attach;  // wanted, not at their target yet
  std::vector<std::string> detach;         // targets holding a disk nobody wants there
  std::vector<EbsGrow> grow;               // in place, smaller in the guest than the volume
  std::vector<EbsLimits> limits;           // in place, not (known to be) at the volume's limits
};

// A disk is in place when the domain has its export at its target. The root (vda) is never
// attached: it is the domain's boot disk. Every other EBS disk of the
// domain is detached (also one at a wanted target with another export: it goes first, the wanted
// disk is attached on the next pass once the target is free). A disk in place (the root too)
// whose size in the guest is known and below the volume's size_gib is to be grown
// (modify-volume --size on an attached volume). A disk in place whose limits in `limits_set`
// (what the agent last set, by target) are missing or not the volume's (volumes::IoTuneOf:
// modify-volume changed its type, IOPS or size) gets the volume's limits.
EbsPlan PlanEbsDisks(const google::protobuf::RepeatedPtrField<v1::DesiredEbsDisk>& want,
                     const std::vector<hypervisor::AttachedEbsDisk>& have,
                     const std::map<std::string, volumes::IoTune>& limits_set = {});

// A desired disk's I/O limits: its volume type's, for its size, IOPS and throughput
// (volumes::IoTuneOf). InvalidArgument for an unknown type.
absl::StatusOr<volumes::IoTune> LimitsOf(const v1::DesiredEbsDisk& d);

// The hypervisor's disk for a desired one, its <iotune> from the volume's type and shape
// (volumes::IoTuneOf). InvalidArgument for an unknown type or a disk ValidateEbsDisk refuses.
// `boot`: the root volume of an EBS-backed instance (target vda, DesiredInstance.root_disk).
absl::StatusOr<hypervisor::EbsDisk> ToEbsDisk(const v1::DesiredEbsDisk& d, bool boot = false);

// The EBS disks the instance's domain should have: its data volumes and, for an EBS-backed
// instance whose root is exported, the root volume at vda.
google::protobuf::RepeatedPtrField<v1::DesiredEbsDisk> WantedEbsDisks(
    const v1::DesiredInstance& want);

// What to report for an instance: every wanted disk (attached or not, with its last error) and
// every other EBS disk the domain still has (attached, e.g. one whose unplug the guest has not
// finished).
std::vector<v1::ObservedEbsDisk> ObserveEbsDisks(
    const google::protobuf::RepeatedPtrField<v1::DesiredEbsDisk>& want,
    const std::vector<hypervisor::AttachedEbsDisk>& have,
    const std::map<std::string, std::string>& errors_by_volume);

}  // namespace minicloud::agent
