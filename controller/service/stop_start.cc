// StopInstances and StartInstances: EC2's stop/start of EBS-backed instances. The private IP
// stays; a host-local root (AMIs without an Ebs root) keeps the instance on its host, an EBS root
// lets a start land on any host of the zone; a start re-checks capacity and the placement group's
// rules (see docs/design.md, "Flow of RunInstances"). Instance-store-backed instances cannot stop.
#include <set>

#include "absl/strings/str_cat.h"
#include "common/ec2_error.h"
#include "common/status_macros.h"
#include "controller/lifecycle/lifecycle.h"
#include "controller/service/compute_service.h"
#include "controller/service/ebs_mapping.h"
#include "controller/service/hibernation.h"
#include "controller/service/instance_common.h"
#include "controller/service/instance_state.h"
#include "controller/service/placement_group_service.h"

namespace minicloud::controller {

absl::StatusOr<v1::StopInstancesResponse> ComputeService::StopInstances(
    const v1::StopInstancesRequest& req) {
  if (req.instance_ids_size() == 0) {
    return MissingParameter("The request must contain the parameter InstanceId");
  }
  for (const auto& id : req.instance_ids()) MC_RETURN_IF_ERROR(CheckInstanceIdFormat(id));
  const absl::Time now = clock_.Now();
  const lifecycle::Event event{req.hibernate() ? lifecycle::EventKind::kHibernateRequested
                               : req.force()   ? lifecycle::EventKind::kStopForced
                                               : lifecycle::EventKind::kStopRequested,
                               ""};
  auto lock = state_.LockCommitted();
  std::vector<lifecycle::Transition> transitions;
  for (const auto& id : req.instance_ids()) {
    MC_ASSIGN_OR_RETURN(const v1::InstanceRecord* r, FindInstanceLocked(state_, id));
    if (r->root_device_type() == kRootDeviceTypeInstanceStore) {
      // EC2's answer for an instance-store-backed instance (its root lives on the host).
      return Ec2Error(absl::StatusCode::kFailedPrecondition, "UnsupportedOperation",
                      absl::StrCat("The instance '", id,
                                   "' does not have an 'ebs' root device type and cannot be "
                                   "stopped."));
    }
    if (req.hibernate()) MC_RETURN_IF_ERROR(CheckCanHibernate(*r, req.force()));
    MC_ASSIGN_OR_RETURN(transitions.emplace_back(),
                        lifecycle::Apply(lifecycle::InstanceLifecycle::Of(*r), event, now));
  }
  if (req.dry_run()) return DryRunOk();
  CloudState::Changes changes;
  v1::StopInstancesResponse resp;
  std::set<std::string> touched_hosts;
  for (int i = 0; i < req.instance_ids_size(); ++i) {
    const std::string& id = req.instance_ids(i);
    v1::InstanceRecord r = state_.instances().at(id);
    auto* change = resp.add_stopping_instances();
    change->set_instance_id(id);
    *change->mutable_previous_state() = ApiState(r.state());
    lifecycle::Record(transitions[i], r);
    if (transitions[i].notify_host) touched_hosts.insert(r.host_id());
    *change->mutable_current_state() = ApiState(r.state());
    changes.instances[id] = std::move(r);
  }
  MC_RETURN_IF_ERROR(Annotate(state_.CommitLocked(changes), "record stop"));
  for (const auto& h : touched_hosts) state_.BumpGenerationLocked(h);
  return resp;
}

absl::StatusOr<v1::StartInstancesResponse> ComputeService::StartInstances(
    const v1::StartInstancesRequest& req) {
  if (req.instance_ids_size() == 0) {
    return MissingParameter("The request must contain the parameter InstanceId");
  }
  for (const auto& id : req.instance_ids()) MC_RETURN_IF_ERROR(CheckInstanceIdFormat(id));
  const absl::Time now = clock_.Now();
  auto lock = state_.LockCommitted();
  const lifecycle::Event event{lifecycle::EventKind::kStartRequested, ""};
  for (const auto& id : req.instance_ids()) {
    MC_ASSIGN_OR_RETURN(const v1::InstanceRecord* r, FindInstanceLocked(state_, id));
    MC_RETURN_IF_ERROR(lifecycle::Apply(lifecycle::InstanceLifecycle::Of(*r), event, now).status());
  }
  // Each stopped instance is placed again, one after the other, on a snapshot that already holds
  // the ones started before it, so a call starting several members of one group cannot break
  // its rules; all of them start or none (the commit happens once, at the end).
  CloudState::Changes changes;
  std::vector<scheduler::HostSnapshot> snapshot = SnapshotLocked(now);
  v1::StartInstancesResponse resp;
  std::set<std::string> touched_hosts;
  for (const auto& id : req.instance_ids()) {
    auto pending = changes.instances.find(id);
    v1::InstanceRecord r =
        pending != changes.instances.end() ? pending->second : state_.instances().at(id);
    auto* change = resp.add_starting_instances();
    change->set_instance_id(id);
    *change->mutable_previous_state() = ApiState(r.state());
    MC_ASSIGN_OR_RETURN(lifecycle::Transition t,
                        lifecycle::Apply(lifecycle::InstanceLifecycle::Of(r), event, now));
    if (t.capacity == lifecycle::CapacityChange::kTake) {
      MC_ASSIGN_OR_RETURN(const std::string host, RecheckStartLocked(r, snapshot, changes));
      if (host != r.host_id()) {
        // An EBS-backed instance moves: the old host forgets it, the new one boots it from the
        // same volumes (their exports do not depend on the host).
        touched_hosts.insert(r.host_id());
        const v1::HostRecord& h = state_.hosts().at(host);
        r.set_host_id(host);
        *r.mutable_topology() = h.topology();
        r.set_accelerator(h.accelerator());
      }
    }
    lifecycle::Record(t, r);
    if (t.notify_host) touched_hosts.insert(r.host_id());
    *change->mutable_current_state() = ApiState(r.state());
    changes.instances[id] = std::move(r);
  }
  if (req.dry_run()) return DryRunOk();
  MC_RETURN_IF_ERROR(Annotate(state_.CommitLocked(changes), "record start"));
  for (const auto& h : touched_hosts) state_.BumpGenerationLocked(h);
  return resp;
}

absl::StatusOr<std::string> ComputeService::RecheckStartLocked(
    const v1::InstanceRecord& r, std::vector<scheduler::HostSnapshot>& snapshot,
    const CloudState::Changes& changes) {
  // A host-local root disk lives on the host the instance last ran on, so it restarts there or
  // not at all. An EBS root lives on the zone's volume service: any host of the zone may take
  // it (the scheduler prefers the last one). Either way the group's rules hold over every member.
  const bool anywhere_in_zone = !r.root_volume_id().empty();
  std::vector<scheduler::HostSnapshot> own;
  for (const auto& h : snapshot) {
    if (h.host_id == r.host_id() ||
        (anywhere_in_zone && h.availability_zone == r.topology().availability_zone())) {
      own.push_back(h);
    }
  }
  const auto type = FindInstanceType(r.instance_type());
  std::shared_ptr<const scheduler::PlacementGroup> group;
  scheduler::GroupMember self;
  self.instance_id = r.instance_id();
  self.host_id = r.host_id();
  self.availability_zone = r.topology().availability_zone();
  self.rack = r.topology().rack();
  self.partition_number = r.partition_number();
  self.active = false;
  if (!r.placement_group().empty()) {
    auto record = state_.placement_groups().find(r.placement_group());
    if (record != state_.placement_groups().end()) {
      auto g = std::make_shared<scheduler::PlacementGroup>(
          *SchedulerGroupLocked(state_, record->second));
      // Members started earlier in this call count as active.
      for (auto& m : g->members) {
        auto started = changes.instances.find(m.instance_id);
        if (started != changes.instances.end()) m.active = HoldsCapacity(started->second.state());
      }
      group = std::move(g);
    }
  }
  scheduler::PlacementRequest preq = scheduler::MakeRestartRequest(
      ids_.Next("r"), self, group, r.vcpus(), r.memory_mib(), type ? InstanceStoreGb(*type) : 0);
  if (group != nullptr) preq.region = state_.placement_groups().at(r.placement_group()).region();
  auto placed = scheduler_.Place(preq, own);
  if (!placed.ok()) return SchedulerError(placed.status(), r.instance_type());
  if (placed->host_ids.empty()) return absl::InternalError("start: the scheduler chose no host");
  const std::string chosen = placed->host_ids[0];
  for (auto& h : snapshot) {
    if (h.host_id != chosen) continue;
    h.used_vcpus += r.vcpus();
    h.used_memory_mib += r.memory_mib();
    h.used_instance_store_gb += preq.instance_store_gb;
  }
  return chosen;
}

}  // namespace minicloud::controller
