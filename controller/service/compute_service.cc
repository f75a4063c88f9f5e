// ComputeService: the instance records as the API shows them (InstanceToApi), DescribeInstances,
// TerminateInstances and GetConsoleOutput. The other verbs live in files by topic:
// run_instances.cc (RunInstances, DescribePlacement), stop_start.cc, instance_status.cc
// (RebootInstances, DescribeInstanceStatus, DescribeRegions), instance_attributes.cc,
// hosts_and_zones.cc (DescribeInstanceTypes, DescribeHosts, DescribeAvailabilityZones) and
// user_data_verdict.cc.

#include "controller/service/compute_service.h"

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "common/ec2_error.h"
#include "common/ec2_names.h"
#include "common/status_macros.h"
#include "controller/lifecycle/lifecycle.h"
#include "controller/service/filters.h"
#include "controller/service/instance_common.h"
#include "controller/service/pagination.h"
#include "controller/service/timestamp.h"

namespace minicloud::controller {

v1::Instance InstanceToApi(const v1::InstanceRecord& r) {
  v1::Instance i;
  i.set_instance_id(r.instance_id());
  i.set_image_id(r.image_id());
  i.set_instance_type(r.instance_type());
  *i.mutable_state() = ApiState(r.state());
  i.mutable_placement()->set_availability_zone(r.topology().availability_zone());
  i.mutable_placement()->set_host_id(r.host_id());
  // Empty strings are left unset (proto3: the same answer; setting one allocates it).
  if (!r.placement_group().empty()) i.mutable_placement()->set_group_name(r.placement_group());
  i.mutable_placement()->set_partition_number(r.partition_number());
  i.mutable_placement()->set_tenancy("default");
  *i.mutable_launch_time() = ToTimestamp(r.launch_time_ms());
  i.set_ami_launch_index(r.ami_launch_index());
  if (!r.state_transition_reason().empty()) {
    i.set_state_transition_reason(r.state_transition_reason());
  }
  if (!r.state_reason_code().empty()) {
    i.mutable_state_reason()->set_code(r.state_reason_code());
    i.mutable_state_reason()->set_message(r.state_reason_message());
  }
  i.set_architecture(r.architecture());
  i.set_root_device_name(r.root_device_name());
  i.set_root_device_type(r.root_device_type().empty() ? "ebs" : r.root_device_type());
  i.set_hypervisor(r.accelerator() == v1::ACCELERATOR_KVM ? "kvm" : "tcg");
  if (!r.client_token().empty()) i.set_client_token(r.client_token());
  auto* steps = i.mutable_launch_steps();
  steps->set_requested_ms(r.launch_time_ms());
  steps->set_agent_received_ms(r.timeline().received_ms());
  steps->set_image_ready_ms(r.timeline().image_ready_ms());
  steps->set_disk_ready_ms(r.timeline().disk_ready_ms());
  steps->set_domain_started_ms(r.timeline().domain_started_ms());
  steps->set_running_ms(r.running_time_ms());
  if (!r.key_name().empty()) i.set_key_name(r.key_name());
  *i.mutable_metadata_options() = r.metadata_options();
  *i.mutable_tags() = TagList(r.tags());
  i.set_private_ip_address(r.network().private_ip());
  i.set_private_dns_name(r.network().private_dns_name());
  i.set_subnet_id(r.network().subnet_id());
  i.set_vpc_id(r.network().vpc_id());
  i.set_mac_address(r.network().mac());
  i.set_network_interface_id(r.network().interface_id());
  if (!r.iam_instance_profile_arn().empty()) {
    i.mutable_iam_instance_profile()->set_arn(r.iam_instance_profile_arn());
    i.mutable_iam_instance_profile()->set_id(r.iam_instance_profile_id());
  }
  i.mutable_hibernation_options()->set_configured(r.hibernation_configured());
  return i;
}

v1::Instance ComputeService::ToApi(const v1::InstanceRecord& r) const {
  v1::Instance i = InstanceToApi(r);
  // EC2's BlockDeviceMappings: the instance's EBS volumes, root first (botocore
  // InstanceBlockDeviceMapping; instance store is not listed there).
  std::vector<std::pair<std::string, v1::InstanceBlockDeviceMapping>> found;
  for (const auto& [id, v] : state_.volumes()) {
    if (!v.hibernation_state_of().empty()) continue;  // the saved RAM, not a guest disk
    for (const auto& a : v.attachments()) {
      if (a.instance_id() != r.instance_id() || a.state() == v1::ATTACHMENT_STATE_DETACHED) {
        continue;
      }
      v1::InstanceBlockDeviceMapping m;
      m.set_device_name(a.device());
      m.mutable_ebs()->set_volume_id(id);
      m.mutable_ebs()->set_status(std::string(AttachmentStateName(a.state())));
      *m.mutable_ebs()->mutable_attach_time() = ToTimestamp(a.attach_time_ms());
      m.mutable_ebs()->set_delete_on_termination(a.delete_on_termination());
      found.emplace_back(id == r.root_volume_id() ? std::string() : a.device(), std::move(m));
    }
  }
  std::sort(found.begin(), found.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto& [key, m] : found) *i.add_block_device_mappings() = std::move(m);
  return i;
}

absl::StatusOr<v1::DescribeInstancesResponse> ComputeService::DescribeInstances(
    const v1::DescribeInstancesRequest& req) {
  for (const auto& id : req.instance_ids()) MC_RETURN_IF_ERROR(CheckInstanceIdFormat(id));
  MC_RETURN_IF_ERROR(ValidateInstanceFilters(req.filters()));
  MC_ASSIGN_OR_RETURN(const PageStart start,
                      StartPage(kDescribeInstancesPages, {req.max_results(), req.next_token()},
                                req.instance_ids_size() > 0));

  auto lock = state_.LockCommitted();
  // The matching instances in id order (the order pages follow).
  std::vector<const v1::InstanceRecord*> matching;
  if (req.instance_ids_size() > 0) {
    std::set<std::string> ids;
    for (const auto& id : req.instance_ids()) {
      auto it = state_.instances().find(id);
      if (it == state_.instances().end()) return InstanceNotFound(id);
      ids.insert(id);
    }
    for (const auto& id : ids) {
      const v1::InstanceRecord& r = state_.instances().at(id);
      if (InstanceMatches(r, req.filters())) matching.push_back(&r);
    }
  } else {
    for (const auto& [id, r] : state_.instances()) {
      if (InstanceMatches(r, req.filters())) matching.push_back(&r);
    }
  }
  std::vector<std::string> keys;
  keys.reserve(matching.size());
  for (const auto* r : matching) keys.push_back(r->instance_id());
  const Page page = TakePage(kDescribeInstancesPages, start, keys);
  std::vector<const v1::InstanceRecord*> selected(matching.begin() + page.begin,
                                                  matching.begin() + page.end);
  // Group by reservation, ordered by launch time then launch index.
  std::sort(selected.begin(), selected.end(), [](const auto* a, const auto* b) {
    return std::make_tuple(a->launch_time_ms(), a->reservation_id(), a->ami_launch_index()) <
           std::make_tuple(b->launch_time_ms(), b->reservation_id(), b->ami_launch_index());
  });
  v1::DescribeInstancesResponse resp;
  std::map<std::string, v1::Reservation*> by_reservation;
  for (const auto* r : selected) {
    auto& res = by_reservation[r->reservation_id()];
    if (res == nullptr) {
      res = resp.add_reservations();
      res->set_reservation_id(r->reservation_id());
      res->set_owner_id(r->owner_id());
    }
    *res->add_instances() = ToApi(*r);
  }
  resp.set_next_token(page.next_token);
  return resp;
}

absl::StatusOr<v1::TerminateInstancesResponse> ComputeService::TerminateInstances(
    const v1::TerminateInstancesRequest& req) {
  if (req.instance_ids_size() == 0) {
    return MissingParameter("The request must contain the parameter InstanceId");
  }
  for (const auto& id : req.instance_ids()) MC_RETURN_IF_ERROR(CheckInstanceIdFormat(id));
  const absl::Time now = clock_.Now();

  const lifecycle::Event event{lifecycle::EventKind::kTerminateRequested, ""};
  auto lock = state_.LockCommitted();
  std::vector<lifecycle::Transition> transitions;
  for (const auto& id : req.instance_ids()) {
    auto it = state_.instances().find(id);
    if (it == state_.instances().end()) return InstanceNotFound(id);
    MC_ASSIGN_OR_RETURN(transitions.emplace_back(),
                        lifecycle::Apply(lifecycle::InstanceLifecycle::Of(it->second), event, now));
  }
  if (req.dry_run()) return DryRunOk();
  CloudState::Changes changes;
  v1::TerminateInstancesResponse resp;
  std::set<std::string> touched_hosts;
  for (int i = 0; i < req.instance_ids_size(); ++i) {
    const std::string& id = req.instance_ids(i);
    v1::InstanceRecord r = state_.instances().at(id);
    auto* change = resp.add_terminating_instances();
    change->set_instance_id(id);
    *change->mutable_previous_state() = ApiState(r.state());
    lifecycle::Record(transitions[i], r);
    if (transitions[i].notify_host) touched_hosts.insert(r.host_id());
    *change->mutable_current_state() = ApiState(r.state());
    changes.instances[id] = std::move(r);
  }
  MC_RETURN_IF_ERROR(Annotate(state_.CommitLocked(changes), "record termination"));
  for (const auto& h : touched_hosts) state_.BumpGenerationLocked(h);
  return resp;
}

absl::StatusOr<v1::GetConsoleOutputResponse> ComputeService::GetConsoleOutput(
    const v1::GetConsoleOutputRequest& req) {
  if (req.instance_id().empty()) {
    return MissingParameter("The request must contain the parameter InstanceId");
  }
  MC_RETURN_IF_ERROR(CheckInstanceIdFormat(req.instance_id()));
  AgentAddress agent;
  v1::InstanceStateCode state;
  {
    auto lock = state_.LockCommitted();
    auto it = state_.instances().find(req.instance_id());
    if (it == state_.instances().end()) return InstanceNotFound(req.instance_id());
    state = it->second.state();
    auto host = state_.hosts().find(it->second.host_id());
    if (host != state_.hosts().end()) agent = {host->first, host->second.endpoint()};
  }
  v1::GetConsoleOutputResponse resp;
  resp.set_instance_id(req.instance_id());
  *resp.mutable_timestamp() = ToTimestamp(absl::ToUnixMillis(clock_.Now()));
  // A terminated instance's console is gone with its host-side files, as on EC2.
  if (state == v1::INSTANCE_STATE_CODE_TERMINATED || agent.endpoint.empty()) return resp;
  auto output = agents_.GetConsoleOutput(agent, req.instance_id(), kConsoleOutputBytes);
  if (!output.ok()) {
    if (output.status().code() == absl::StatusCode::kNotFound) return resp;  // not booted yet
    return Ec2Error(absl::StatusCode::kUnavailable, "Unavailable", output.status().message());
  }
  resp.set_output(std::move(*output));
  return resp;
}

}  // namespace minicloud::controller
