#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "common/boot_verdict.h"
#include "common/clock.h"
#include "common/ids.h"
#include "common/instance_limits.h"
#include "controller/agent_client/agent_client.h"
#include "controller/scheduler/scheduler.h"
#include "controller/service/cloud_state.h"
#include "controller/service/ebs_mapping.h"
#include "controller/service/identity.h"
#include "controller/service/instance_types.h"
#include "controller/service/metadata_options.h"
#include "controller/service/network_plan.h"
#include "controller/volumes/volume_fleet.h"
#include "minicloud/v1/compute.pb.h"

namespace minicloud::controller {

// One instance's user-data verdict (DescribeUserDataVerdict, user_data_verdict.cc).
struct UserDataVerdict {
  std::string instance_id;
  // "unknown" (no console yet: not booted, stopped or terminated), "running" (cloud-init has
  // not finished), "finished" (it finished and the user data, if any, succeeded), "failed".
  std::string status;
  bool has_user_data = false;
  BootVerdict boot;     // parsed from the same console GetConsoleOutput returns
  std::string message;  // the lines `minicloud run-instances --wait` prints (FormatBootVerdict)
};

// EC2's limits (user data size, hop limit, tags, ...) are in common/instance_limits.h.
using limits::kConsoleOutputBytes;
using limits::kMaxUserDataBytes;

// Instance lifecycle, instance types and host listing: the business rules behind the public
// API, independent of the transport. Thread-safe.
//
// RunInstances and DescribePlacement decide on the state's kept scheduler::Fleet
// (CloudState::index(), the same rules as SpreadScheduler over a snapshot); `scheduler` serves
// StartInstances' re-check of one host. Identity documents are built from the instance records
// and signed at delivery (FleetService; identity_document.h).
class ComputeService {
 public:
  ComputeService(CloudState& state, const Clock& clock, IdGenerator& ids,
                 const scheduler::Scheduler& scheduler, AgentClient& agents)
      : state_(state), clock_(clock), ids_(ids), scheduler_(scheduler), agents_(agents) {}

  absl::StatusOr<v1::Reservation> RunInstances(const v1::RunInstancesRequest& req);
  absl::StatusOr<v1::DescribeInstancesResponse> DescribeInstances(
      const v1::DescribeInstancesRequest& req);
  absl::StatusOr<v1::TerminateInstancesResponse> TerminateInstances(
      const v1::TerminateInstancesRequest& req);
  absl::StatusOr<v1::GetConsoleOutputResponse> GetConsoleOutput(
      const v1::GetConsoleOutputRequest& req);
  absl::StatusOr<v1::DescribeInstanceTypesResponse> DescribeInstanceTypes(
      const v1::DescribeInstanceTypesRequest& req);
  absl::StatusOr<v1::DescribeHostsResponse> DescribeHosts(const v1::DescribeHostsRequest& req);
  absl::StatusOr<v1::ModifyInstanceMetadataOptionsResponse> ModifyInstanceMetadataOptions(
      const v1::ModifyInstanceMetadataOptionsRequest& req);
  absl::StatusOr<v1::ModifyInstanceAttributeResponse> ModifyInstanceAttribute(
      const v1::ModifyInstanceAttributeRequest& req);
  absl::StatusOr<v1::DescribeInstanceAttributeResponse> DescribeInstanceAttribute(
      const v1::DescribeInstanceAttributeRequest& req);
  // Stop keeps the root disk, the private IP and the host; start boots the instance again on
  // that host after re-checking capacity and its placement group's rules.
  absl::StatusOr<v1::StopInstancesResponse> StopInstances(const v1::StopInstancesRequest& req);
  absl::StatusOr<v1::StartInstancesResponse> StartInstances(const v1::StartInstancesRequest& req);
  absl::StatusOr<v1::DescribeAvailabilityZonesResponse> DescribeAvailabilityZones(
      const v1::DescribeAvailabilityZonesRequest& req);

  // Where DescribeAvailabilityZones and DescribeHosts learn each zone's volume service state
  // (VolumeService::ZoneStates, called outside the state lock). Unset: no zone has one. Set once
  // at wiring, before serving.
  using VolumeStatesFn = std::function<std::map<std::string, VolumeServiceState>()>;
  void SetVolumeStates(VolumeStatesFn fn) { volume_states_ = std::move(fn); }
  // The EBS volumes RunInstances makes (an EBS-backed AMI's root, Ebs mappings; ebs_launch.cc):
  // which zones have a volume service, and what to call with the new volumes' ids once the
  // launch is durable (VolumeService::FinishLaunchVolumes: make, export). Unset: no zone has
  // one, and such launches are refused. Set once at wiring, before serving.
  struct EbsHooks {
    std::function<bool(const std::string& zone)> serves_zone;
    std::function<void(const std::vector<std::string>& volume_ids)> launched;
    // Whether a volume in `zone` may be made from `snap`, kept in another zone, by a full copy
    // (VolumeService::CheckZoneCopyLocked; called with the state lock held). Unset: never.
    std::function<absl::Status(const v1::SnapshotRecord& snap, const std::string& zone,
                               bool encrypt)>
        zone_copy;
  };
  void SetEbsHooks(EbsHooks hooks) { ebs_hooks_ = std::move(hooks); }
  // EC2 RebootInstances: each running instance reboots (state stays running; its agent reboots
  // the domain once); terminated and shutting-down ones are ignored; any other state is
  // IncorrectInstanceState (instance_status.cc).
  absl::StatusOr<v1::RebootInstancesResponse> RebootInstances(
      const v1::RebootInstancesRequest& req);
  // Instance and system status as the controller knows them (instance_status.cc).
  absl::StatusOr<v1::DescribeInstanceStatusResponse> DescribeInstanceStatus(
      const v1::DescribeInstanceStatusRequest& req);
  // The controller's own region and its endpoint.
  absl::StatusOr<v1::DescribeRegionsResponse> DescribeRegions(
      const v1::DescribeRegionsRequest& req);
  // What RunInstances would decide for `req`, host by host; places nothing.
  absl::StatusOr<v1::DescribePlacementResponse> DescribePlacement(
      const v1::RunInstancesRequest& req);
  // minicloud's own: the user-data verdict of each instance, from its console (the parser the
  // CLI's waiters use, common/boot_verdict.h). At least one id; an unknown id is
  // InvalidInstanceID.NotFound.
  absl::StatusOr<std::vector<UserDataVerdict>> DescribeUserDataVerdict(
      const std::vector<std::string>& instance_ids);

 private:
  absl::Status ValidateRun(const v1::RunInstancesRequest& req) const;
  // The request as it is decided: MaxCount defaults to MinCount and is held to the per-call
  // limit; validated. That is `in` itself when its counts need neither (no copy: clients send
  // both counts), else a normalized copy made in `copy`; valid as long as both are.
  absl::StatusOr<const v1::RunInstancesRequest*> NormalizedRun(
      const v1::RunInstancesRequest& in, std::optional<v1::RunInstancesRequest>& copy) const;
  // Snapshot of every host for the scheduler. Requires the state lock.
  std::vector<scheduler::HostSnapshot> SnapshotLocked(absl::Time now) const;
  v1::Instance ToApi(const v1::InstanceRecord& r) const;
  // Per availability zone, for the instances of one request: the zone's subnet, its CIDR
  // parsed once, and where the search for the next free address starts.
  struct AddressCursor {
    const v1::SubnetRecord* subnet = nullptr;
    network::SubnetPlan plan;
    uint32_t next_free = 0;
  };
  using AddressCursors = absl::flat_hash_map<std::string, AddressCursor>;
  // Gives `r` its subnet and address in the host's AZ; new subnets land in `changes`. Called
  // for the instances of one request in turn, with the same `next_free`: O(log n) each.
  absl::Status AssignNetworkLocked(v1::InstanceRecord& r, CloudState::Changes& changes,
                                   AddressCursors& cursors);
  // The scheduler's request for RunInstances, with the placement group resolved.
  absl::StatusOr<scheduler::PlacementRequest> PlacementRequestLocked(
      const v1::RunInstancesRequest& req, const InstanceType& type);
  // The zones a launch of `plans` without a requested zone may use (ebs_launch.cc): those with
  // a volume service that hold every snapshot it clones (SnapshotZones); when there are none,
  // those needing the fewest copies of snapshots from other zones (ZonesWithFewestCopies). EC2's
  // error when no zone can take it.
  absl::StatusOr<std::vector<std::string>> EbsLaunchZonesLocked(
      const v1::ImageRecord& image, const std::vector<EbsVolumePlan>& plans);
  // The snapshot a volume of `plan` is copied from when its zone keeps none (ebs_launch.cc):
  // the AMI's snapshot of the first zone holding one (baked, copied or registered AMIs; an
  // uploaded AMI is imported into every zone instead), or the data volume's snapshot. Null when
  // there is none to copy. Requires the state lock.
  const v1::SnapshotRecord* CopySourceLocked(const v1::ImageRecord& image,
                                             const EbsVolumePlan& plan) const;
  // Whether `plan`'s volume may be copied into `zone` from CopySourceLocked: OK, or why not.
  absl::Status ZoneCopyAllowedLocked(const v1::ImageRecord& image, const EbsVolumePlan& plan,
                                     const std::string& zone) const;
  // The EBS volumes of one instance of a launch (ebs_launch.cc): records `creating`, attached
  // (`attaching`) at their device names, staged in `changes`; the root's id goes on `r`.
  absl::Status StageLaunchVolumesLocked(const std::vector<EbsVolumePlan>& plans,
                                        const v1::ImageRecord& image, v1::InstanceRecord& r,
                                        CloudState::Changes& changes,
                                        std::vector<std::string>& volume_ids);
  // Where may stopped instance `r` boot again: its host (host-local root), or any host of its
  // zone for an EBS root. Returns the chosen host; `snapshot` counts it as used there.
  absl::StatusOr<std::string> RecheckStartLocked(const v1::InstanceRecord& r,
                                                 std::vector<scheduler::HostSnapshot>& snapshot,
                                                 const CloudState::Changes& changes);

  CloudState& state_;
  const Clock& clock_;
  IdGenerator& ids_;
  const scheduler::Scheduler& scheduler_;
  AgentClient& agents_;
  VolumeStatesFn volume_states_;
  EbsHooks ebs_hooks_;
};

// Where the calling thread's last RunInstances call spent its time (steady clock): waiting for
// the state lock, holding it (validation against the state, the decision, the records, staging),
// and waiting for its changes to be durable (lock released). Read by the placement bench.
struct RunInstancesTimings {
  double lock_wait_us = 0;
  double locked_us = 0;
  double durable_wait_us = 0;
};
const RunInstancesTimings& LastRunInstancesTimings();

// The API view of an instance record (shared with tests and other services).
v1::Instance InstanceToApi(const v1::InstanceRecord& r);

}  // namespace minicloud::controller
