#include "controller/service/compute_service.h"

#include <openssl/sha.h>

#include <algorithm>
#include <chrono>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "common/ec2_error.h"
#include "common/ids.h"
#include "common/status_macros.h"
#include "common/tags.h"
#include "controller/lifecycle/lifecycle.h"
#include "controller/service/filters.h"
#include "controller/service/instance_common.h"
#include "controller/service/instance_profile_service.h"
#include "controller/service/instance_state.h"
#include "controller/service/instance_types.h"
#include "controller/service/metadata_options.h"
#include "controller/service/network_plan.h"
#include "controller/service/pagination.h"
#include "controller/service/placement_group_service.h"
#include "controller/service/tag_service.h"
#include "controller/service/timestamp.h"

namespace minicloud::controller {
namespace {

// Fingerprint of the parameters that must match when a ClientToken is reused.
std::string RequestFingerprint(const v1::RunInstancesRequest& req) {
  v1::RunInstancesRequest copy = req;
  copy.clear_client_token();
  copy.clear_dry_run();
  std::string bytes;
  google::protobuf::io::StringOutputStream out(&bytes);
  google::protobuf::io::CodedOutputStream coded(&out);
  coded.SetSerializationDeterministic(true);
  copy.SerializeToCodedStream(&coded);
  coded.Trim();
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), digest);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), sizeof(digest)));
}

// "ec2" followed by random hex in UUID layout; used as SMBIOS system UUID and serial so stock
// cloud-init recognises an EC2 platform.
std::string MakeSmbiosUuid(IdGenerator& ids) {
  std::string hex = ids.Next("x").substr(2) + ids.Next("x").substr(2);  // 34 hex digits
  std::string u = "ec2" + hex.substr(0, 29);
  return absl::StrFormat("%s-%s-%s-%s-%s", u.substr(0, 8), u.substr(8, 4), u.substr(12, 4),
                         u.substr(16, 4), u.substr(20, 12));
}

// Tag limits and characters per EC2 (tag_service.h): with InstanceMetadataTags=enabled the keys
// must also be servable as metadata paths.
absl::Status ValidateTags(const google::protobuf::RepeatedPtrField<v1::Tag>& tags,
                          v1::InstanceMetadataTags metadata_tags) {
  return ValidateTagSpecification(tags,
                                  metadata_tags == v1::INSTANCE_METADATA_TAGS_ENABLED
                                      ? TagUse::kInstanceMetadata
                                      : TagUse::kApiOnly,
                                  "instance");
}

// The tags of an existing instance, checked again when the metadata options change.
google::protobuf::RepeatedPtrField<v1::Tag> TagsOf(const v1::InstanceRecord& r) {
  google::protobuf::RepeatedPtrField<v1::Tag> out;
  for (const auto& [k, v] : r.tags()) {
    v1::Tag* t = out.Add();
    t->set_key(k);
    t->set_value(v);
  }
  return out;
}

thread_local RunInstancesTimings run_timings;

double MicrosBetween(std::chrono::steady_clock::time_point a,
                     std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double, std::micro>(b - a).count();
}

}  // namespace

const RunInstancesTimings& LastRunInstancesTimings() { return run_timings; }

v1::Instance InstanceToApi(const v1::InstanceRecord& r) {
  v1::Instance i;
  i.set_instance_id(r.instance_id());
  i.set_image_id(r.image_id());
  i.set_instance_type(r.instance_type());
  *i.mutable_state() = ApiState(r.state());
  i.mutable_placement()->set_availability_zone(r.topology().availability_zone());
  i.mutable_placement()->set_host_id(r.host_id());
  i.mutable_placement()->set_group_name(r.placement_group());
  i.mutable_placement()->set_partition_number(r.partition_number());
  i.mutable_placement()->set_tenancy("default");
  *i.mutable_launch_time() = ToTimestamp(r.launch_time_ms());
  i.set_ami_launch_index(r.ami_launch_index());
  i.set_state_transition_reason(r.state_transition_reason());
  if (!r.state_reason_code().empty()) {
    i.mutable_state_reason()->set_code(r.state_reason_code());
    i.mutable_state_reason()->set_message(r.state_reason_message());
  }
  i.set_architecture(r.architecture());
  i.set_root_device_name(r.root_device_name());
  i.set_root_device_type("ebs");
  i.set_hypervisor(r.accelerator() == v1::ACCELERATOR_KVM ? "kvm" : "tcg");
  i.set_client_token(r.client_token());
  auto* steps = i.mutable_launch_steps();
  steps->set_requested_ms(r.launch_time_ms());
  steps->set_agent_received_ms(r.timeline().received_ms());
  steps->set_image_ready_ms(r.timeline().image_ready_ms());
  steps->set_disk_ready_ms(r.timeline().disk_ready_ms());
  steps->set_domain_started_ms(r.timeline().domain_started_ms());
  steps->set_running_ms(r.running_time_ms());
  i.set_key_name(r.key_name());
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
  return i;
}

v1::Instance ComputeService::ToApi(const v1::InstanceRecord& r) const { return InstanceToApi(r); }

absl::Status ComputeService::ValidateRun(const v1::RunInstancesRequest& req) const {
  if (req.image_id().empty())
    return MissingParameter("The request must contain the parameter ImageId");
  if (!IsValidId(req.image_id(), "ami")) {
    return Ec2Error(absl::StatusCode::kInvalidArgument, "InvalidAMIID.Malformed",
                    absl::StrCat("Invalid id: \"", req.image_id(), "\" (expecting \"ami-...\")"));
  }
  if (!FindInstanceType(req.instance_type())) {
    return InvalidParameterValue(
        absl::StrCat("Invalid value '", req.instance_type(), "' for InstanceType."));
  }
  if (req.min_count() < 1) {
    return InvalidParameterValue(
        absl::StrCat("Value (", req.min_count(),
                     ") for parameter minCount is invalid. Expected a positive integer."));
  }
  if (req.max_count() < 1) {
    return InvalidParameterValue(
        absl::StrCat("Value (", req.max_count(),
                     ") for parameter maxCount is invalid. Expected a positive integer."));
  }
  if (req.max_count() < req.min_count()) {
    return InvalidParameterValue(absl::StrCat(
        "maxCount (", req.max_count(), ") must not be less than minCount (", req.min_count(), ")"));
  }
  if (req.min_count() > state_.config().max_instances_per_call) {
    return Ec2Error(absl::StatusCode::kResourceExhausted, "InstanceLimitExceeded",
                    absl::StrCat("You have requested more instances (", req.min_count(),
                                 ") than your current instance limit of ",
                                 state_.config().max_instances_per_call,
                                 " per request allows. Launch fewer instances per request."));
  }
  if (req.user_data().size() > kMaxUserDataBytes) {
    return InvalidParameterValue(absl::StrCat("User data is limited to ", kMaxUserDataBytes,
                                              " bytes; got ", req.user_data().size()));
  }
  if (req.client_token().size() > limits::kMaxClientTokenLength ||
      !std::all_of(req.client_token().begin(), req.client_token().end(),
                   [](char c) { return c >= 0x20 && c < 0x7f; })) {
    return InvalidParameterValue("ClientToken must be at most 64 printable ASCII characters");
  }
  MC_ASSIGN_OR_RETURN(const v1::InstanceMetadataOptions options,
                      ResolveMetadataOptions(req.metadata_options(), DefaultMetadataOptions()));
  return ValidateTags(req.tags(), options.instance_metadata_tags());
}

absl::StatusOr<v1::RunInstancesRequest> ComputeService::NormalizedRun(
    const v1::RunInstancesRequest& in) const {
  v1::RunInstancesRequest req = in;
  if (req.max_count() == 0 && req.min_count() > 0) req.set_max_count(req.min_count());
  MC_RETURN_IF_ERROR(ValidateRun(req));
  // Above the per-call limit, MaxCount launches as many as the limit allows (MinCount is
  // checked against it in ValidateRun).
  req.set_max_count(std::min(req.max_count(), state_.config().max_instances_per_call));
  return req;
}

absl::Status ComputeService::AssignNetworkLocked(v1::InstanceRecord& r,
                                                 CloudState::Changes& changes,
                                                 AddressCursors& next_free) {
  const std::string& az = r.topology().availability_zone();
  v1::SubnetRecord subnet;
  if (auto it = changes.subnets.find(az); it != changes.subnets.end()) {
    subnet = it->second;
  } else if (auto it2 = state_.subnets().find(az); it2 != state_.subnets().end()) {
    subnet = it2->second;
  } else {
    const int index = static_cast<int>(state_.subnets().size() + changes.subnets.size());
    MC_ASSIGN_OR_RETURN(
        network::SubnetPlan plan,
        DefaultSubnet(index, state_.config().vpc_cidr, state_.config().subnet_prefix_length));
    std::string vpc_id;
    for (const auto& [k, v] : state_.subnets()) vpc_id = v.vpc_id();
    if (vpc_id.empty()) vpc_id = ids_.Next("vpc");
    subnet.set_subnet_id(ids_.Next("subnet"));
    subnet.set_vpc_id(vpc_id);
    subnet.set_availability_zone(az);
    subnet.set_cidr(plan.subnet.ToString());
    changes.subnets[az] = subnet;
  }
  MC_ASSIGN_OR_RETURN(network::SubnetPlan plan, network::SubnetPlan::FromCidr(subnet.cidr()));
  // The lowest address no instance of the subnet holds, above the ones this request gave out
  // already: each of those was the lowest free one when it was given, so the next is the lowest
  // free one after the last (the index does not change until the request stages its records).
  uint32_t& from = next_free[subnet.subnet_id()];
  MC_ASSIGN_OR_RETURN(network::Ipv4Address address,
                      state_.index().FirstFreeAddress(subnet.subnet_id(), plan, from));
  from = address.value + 1;
  const std::string ip = address.ToString();
  auto* n = r.mutable_network();
  n->set_private_ip(ip);
  n->set_mac(network::InstanceMac(r.instance_id()).ToString());
  n->set_subnet_cidr(subnet.cidr());
  n->set_gateway(plan.gateway.ToString());
  n->set_subnet_id(subnet.subnet_id());
  n->set_vpc_id(subnet.vpc_id());
  n->set_interface_id(ids_.Next("eni"));
  n->set_private_dns_name(PrivateDnsName(ip, r.topology().region()));
  return absl::OkStatus();
}

std::vector<scheduler::HostSnapshot> ComputeService::SnapshotLocked(absl::Time now) const {
  return state_.index().Snapshot(now);
}

absl::StatusOr<v1::Reservation> ComputeService::RunInstances(const v1::RunInstancesRequest& in) {
  MC_ASSIGN_OR_RETURN(const v1::RunInstancesRequest req, NormalizedRun(in));
  const InstanceType type = *FindInstanceType(req.instance_type());
  const absl::Time now = clock_.Now();

  using Steady = std::chrono::steady_clock;
  run_timings = {};
  const Steady::time_point asked = Steady::now();
  std::unique_lock<std::mutex> lock(state_.mu());
  const Steady::time_point locked = Steady::now();
  run_timings.lock_wait_us = MicrosBetween(asked, locked);
  // A retried call with the same ClientToken returns the first call's reservation.
  if (!req.client_token().empty()) {
    auto it = state_.client_tokens().find(req.client_token());
    if (it != state_.client_tokens().end()) {
      if (it->second.request_fingerprint() != RequestFingerprint(req)) {
        return Ec2Error(absl::StatusCode::kInvalidArgument, "IdempotentParameterMismatch",
                        "The client token was used with different parameters");
      }
      // The first call may still be waiting for its commit: answer only from durable state.
      state_.SyncLocked();
      v1::Reservation r;
      r.set_reservation_id(it->second.reservation_id());
      r.set_owner_id(state_.config().owner_id);
      for (const auto& id : it->second.instance_ids()) {
        auto inst = state_.instances().find(id);
        if (inst != state_.instances().end()) *r.add_instances() = ToApi(inst->second);
      }
      return r;
    }
  }

  auto image_it = state_.images().find(req.image_id());
  if (image_it == state_.images().end()) {
    return Ec2Error(absl::StatusCode::kNotFound, "InvalidAMIID.NotFound",
                    absl::StrCat("The image id '[", req.image_id(), "]' does not exist"));
  }
  const v1::ImageRecord& image = image_it->second;
  const v1::KeyPairRecord* key = nullptr;
  if (!req.key_name().empty()) {
    auto k = state_.key_pairs().find(req.key_name());
    if (k == state_.key_pairs().end()) {
      return Ec2Error(absl::StatusCode::kNotFound, "InvalidKeyPair.NotFound",
                      absl::StrCat("The key pair '", req.key_name(), "' does not exist"));
    }
    key = &k->second;
  }
  const v1::InstanceProfile* profile = nullptr;
  if (req.has_iam_instance_profile()) {
    MC_ASSIGN_OR_RETURN(profile, FindProfileLocked(state_, req.iam_instance_profile()));
  }
  const v1::InstanceMetadataOptions options =
      *ResolveMetadataOptions(req.metadata_options(), DefaultMetadataOptions());

  MC_ASSIGN_OR_RETURN(scheduler::PlacementRequest preq, PlacementRequestLocked(req, type));
  // The decision runs on the state's kept fleet (state_index.h): no snapshot, no index build.
  // Same decision as scheduler_.Place(preq, SnapshotLocked(now)); rejections are listed only
  // for a failure's message, which names every rejected host's reason either way.
  const scheduler::Fleet& fleet = state_.index().FleetAt(now);
  auto placement = fleet.Place(preq, {.rejections_on_success = false, .max_rejections = 20});
  if (!placement.ok()) return SchedulerError(placement.status(), req.instance_type());
  if (req.dry_run()) return DryRunOk();
  // --explain: the same decision again with every host's verdict (before anything is staged).
  std::string explanation;
  if (req.explain()) explanation = scheduler::FormatExplanation(preq, fleet.Explain(preq));

  MC_ASSIGN_OR_RETURN(const lifecycle::Transition accepted,
                      lifecycle::Apply({}, {lifecycle::EventKind::kRunAccepted, ""}, now));
  CloudState::Changes changes;
  v1::Reservation reservation;
  reservation.set_reservation_id(ids_.Next("r"));
  reservation.set_owner_id(state_.config().owner_id);
  v1::ClientTokenRecord token;
  std::set<std::string> touched_hosts;
  AddressCursors next_free;
  for (size_t i = 0; i < placement->host_ids.size(); ++i) {
    const std::string& host_id = placement->host_ids[i];
    const v1::HostRecord& host = state_.hosts().at(host_id);
    v1::InstanceRecord r;
    r.set_instance_id(ids_.Next("i"));
    r.set_reservation_id(reservation.reservation_id());
    r.set_owner_id(state_.config().owner_id);
    r.set_image_id(image.image_id());
    r.set_instance_type(req.instance_type());
    r.set_vcpus(type.vcpus);
    r.set_memory_mib(type.memory_mib);
    r.set_host_id(host_id);
    *r.mutable_topology() = host.topology();
    lifecycle::Record(accepted, r);  // pending, goal running, boot 1, LaunchTime now
    r.set_user_data(req.user_data());
    r.set_has_user_data(!req.user_data().empty());
    r.set_ami_launch_index(static_cast<int32_t>(i));
    r.set_client_token(req.client_token());
    r.set_smbios_uuid(MakeSmbiosUuid(ids_));
    *r.mutable_image() = image.boot();
    r.set_architecture(image.architecture());
    r.set_root_device_name(image.root_device_name());
    r.set_accelerator(host.accelerator());
    if (preq.group != nullptr) {
      r.set_placement_group(preq.group->name);
      r.set_partition_number(placement->placements[i].partition_number);
    }
    *r.mutable_metadata_options() = options;
    for (const auto& t : req.tags()) (*r.mutable_tags())[t.key()] = t.value();
    if (key != nullptr) {
      r.set_key_name(key->key_name());
      r.set_public_key(key->public_key());
    }
    if (profile != nullptr) {
      r.set_iam_instance_profile_name(profile->instance_profile_name());
      r.set_iam_instance_profile_arn(profile->arn());
      r.set_iam_instance_profile_id(profile->instance_profile_id());
      r.set_iam_role_name(profile->role_name());
    }
    MC_RETURN_IF_ERROR(AssignNetworkLocked(r, changes, next_free));
    // The document only: it is signed when the record is delivered to its host
    // (FleetService::WatchDesired, outside the state lock); see IdentitySigner.
    r.set_identity_document(signer_.Document(r));
    token.add_instance_ids(r.instance_id());
    touched_hosts.insert(host_id);
    changes.instances[r.instance_id()] = std::move(r);
  }
  if (preq.group != nullptr && !placement->cluster_locked_az.empty() &&
      preq.group->locked_az.empty()) {
    // The first launch into a cluster group locks its AZ, in the same commit as the instances.
    v1::PlacementGroupRecord g = state_.placement_groups().at(preq.group->name);
    g.set_locked_availability_zone(placement->cluster_locked_az);
    changes.placement_groups[g.group_name()] = g;
  }
  if (req.explain()) reservation.set_placement_explanation(std::move(explanation));
  if (!req.client_token().empty()) {
    token.set_client_token(req.client_token());
    token.set_reservation_id(reservation.reservation_id());
    token.set_request_fingerprint(RequestFingerprint(req));
    changes.client_tokens[req.client_token()] = token;
  }
  // The reservation is in the mirror now (the next decision sees it); the lock is released
  // while the commit syncs, and the hosts' agents hear of the instances once they are durable.
  const Steady::time_point staged = Steady::now();
  state_.CommitPipelined(lock, changes, touched_hosts);
  lock.unlock();
  run_timings.locked_us = MicrosBetween(locked, staged);
  run_timings.durable_wait_us = MicrosBetween(staged, Steady::now());
  // The answer is built from this request's own copies of the records, outside the lock.
  const int64_t committed_ms = absl::ToUnixMillis(clock_.Now());
  for (const std::string& id : token.instance_ids()) {
    v1::Instance* i = reservation.add_instances();
    *i = ToApi(changes.instances.at(id));
    i->mutable_launch_steps()->set_committed_ms(committed_ms);
  }
  return reservation;
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

absl::StatusOr<v1::DescribeInstanceTypesResponse> ComputeService::DescribeInstanceTypes(
    const v1::DescribeInstanceTypesRequest& req) {
  v1::DescribeInstanceTypesResponse resp;
  auto add = [&](const InstanceType& t) {
    auto* o = resp.add_instance_types();
    o->set_instance_type(std::string(t.name));
    o->set_default_vcpus(t.vcpus);
    o->set_memory_mib(t.memory_mib);
    o->set_instance_storage_supported(t.instance_store_disks > 0);
    o->set_instance_storage_gb(t.instance_store_disks * t.instance_store_gb);
    o->set_burstable(t.burstable ? "true" : "false");
  };
  if (req.instance_types_size() == 0) {
    for (const auto& t : InstanceTypeCatalog()) add(t);
    return resp;
  }
  for (const auto& name : req.instance_types()) {
    auto t = FindInstanceType(name);
    if (!t) {
      return Ec2Error(
          absl::StatusCode::kInvalidArgument, "InvalidInstanceType",
          absl::StrCat("The following supplied instance types do not exist: [", name, "]"));
    }
    add(*t);
  }
  return resp;
}

absl::StatusOr<v1::DescribeHostsResponse> ComputeService::DescribeHosts(
    const v1::DescribeHostsRequest& req) {
  const absl::Time now = clock_.Now();
  auto lock = state_.LockCommitted();
  for (const auto& id : req.host_ids()) {
    if (!state_.hosts().contains(id)) {
      return Ec2Error(absl::StatusCode::kNotFound, "InvalidHostID.NotFound",
                      absl::StrCat("The host ID '", id, "' does not exist"));
    }
  }
  std::set<std::string> wanted(req.host_ids().begin(), req.host_ids().end());
  v1::DescribeHostsResponse resp;
  for (const auto& snap : SnapshotLocked(now)) {
    if (!wanted.empty() && !wanted.contains(snap.host_id)) continue;
    const v1::HostRecord& rec = state_.hosts().at(snap.host_id);
    auto* h = resp.add_hosts();
    h->set_host_id(snap.host_id);
    h->set_hostname(rec.hostname());
    *h->mutable_topology() = rec.topology();
    *h->mutable_capacity() = rec.capacity();
    h->mutable_allocatable()->set_vcpus(snap.allocatable_vcpus);
    h->mutable_allocatable()->set_memory_mib(snap.allocatable_memory_mib);
    h->mutable_allocatable()->set_instance_store_gb(snap.instance_store_gb);
    h->mutable_used()->set_vcpus(snap.used_vcpus);
    h->mutable_used()->set_memory_mib(snap.used_memory_mib);
    h->mutable_used()->set_instance_store_gb(snap.used_instance_store_gb);
    h->set_state(snap.up ? "available" : "unreachable");
    h->set_accelerator(rec.accelerator());
    h->set_accelerator_reason(rec.accelerator_reason());
    auto rt = state_.host_runtime().find(snap.host_id);
    if (rt != state_.host_runtime().end() && rt->second.last_report != absl::InfinitePast()) {
      *h->mutable_last_heartbeat() = ToTimestamp(absl::ToUnixMillis(rt->second.last_report));
    }
    h->set_instance_count(state_.index().OccupyingCount(snap.host_id));
    h->set_endpoint(rec.endpoint());
  }
  return resp;
}

absl::StatusOr<v1::ModifyInstanceMetadataOptionsResponse>
ComputeService::ModifyInstanceMetadataOptions(const v1::ModifyInstanceMetadataOptionsRequest& req) {
  auto lock = state_.LockCommitted();
  MC_ASSIGN_OR_RETURN(const v1::InstanceRecord* current,
                      FindInstanceLocked(state_, req.instance_id()));
  if (current->state() == v1::INSTANCE_STATE_CODE_TERMINATED ||
      current->state() == v1::INSTANCE_STATE_CODE_SHUTTING_DOWN) {
    return Ec2Error(absl::StatusCode::kFailedPrecondition, "IncorrectInstanceState",
                    absl::StrCat("The instance '", req.instance_id(),
                                 "' is not in a state "
                                 "from which its metadata options can be modified."));
  }
  MC_ASSIGN_OR_RETURN(auto options,
                      ResolveMetadataOptions(req.options(), current->metadata_options()));
  // Enabling tags in metadata is refused while a tag key could not be served there.
  if (options.instance_metadata_tags() == v1::INSTANCE_METADATA_TAGS_ENABLED) {
    MC_RETURN_IF_ERROR(ValidateTags(TagsOf(*current), options.instance_metadata_tags()));
  }
  if (req.dry_run()) return DryRunOk();
  v1::InstanceRecord r = *current;
  *r.mutable_metadata_options() = options;
  CloudState::Changes changes;
  changes.instances[r.instance_id()] = r;
  MC_RETURN_IF_ERROR(Annotate(state_.CommitLocked(changes), "record metadata options"));
  state_.BumpGenerationLocked(r.host_id());
  v1::ModifyInstanceMetadataOptionsResponse resp;
  resp.set_instance_id(r.instance_id());
  *resp.mutable_instance_metadata_options() = options;
  return resp;
}

absl::StatusOr<v1::ModifyInstanceAttributeResponse> ComputeService::ModifyInstanceAttribute(
    const v1::ModifyInstanceAttributeRequest& req) {
  if (!req.set_user_data()) return MissingParameter("No attribute to modify was given");
  if (req.user_data().size() > kMaxUserDataBytes) {
    return InvalidParameterValue(absl::StrCat("User data is limited to ", kMaxUserDataBytes,
                                              " bytes; got ", req.user_data().size()));
  }
  auto lock = state_.LockCommitted();
  MC_ASSIGN_OR_RETURN(const v1::InstanceRecord* current,
                      FindInstanceLocked(state_, req.instance_id()));
  // User data can change only while the instance is stopped (EC2 ModifyInstanceAttribute).
  if (current->state() != v1::INSTANCE_STATE_CODE_STOPPED) {
    return Ec2Error(absl::StatusCode::kFailedPrecondition, "IncorrectInstanceState",
                    absl::StrCat("The instance '", req.instance_id(),
                                 "' is not in the 'stopped' "
                                 "state."));
  }
  if (req.dry_run()) return DryRunOk();
  v1::InstanceRecord r = *current;
  r.set_user_data(req.user_data());
  r.set_has_user_data(!req.user_data().empty());
  CloudState::Changes changes;
  changes.instances[r.instance_id()] = r;
  MC_RETURN_IF_ERROR(Annotate(state_.CommitLocked(changes), "record user data"));
  state_.BumpGenerationLocked(r.host_id());
  return v1::ModifyInstanceAttributeResponse();
}

absl::StatusOr<v1::DescribeInstanceAttributeResponse> ComputeService::DescribeInstanceAttribute(
    const v1::DescribeInstanceAttributeRequest& req) {
  if (req.attribute() != "userData") {
    return InvalidParameterValue(
        absl::StrCat("Value (", req.attribute(), ") for parameter attribute is invalid."));
  }
  auto lock = state_.LockCommitted();
  MC_ASSIGN_OR_RETURN(const v1::InstanceRecord* r, FindInstanceLocked(state_, req.instance_id()));
  v1::DescribeInstanceAttributeResponse resp;
  resp.set_instance_id(r->instance_id());
  resp.set_has_user_data(r->has_user_data());
  resp.set_user_data(r->user_data());
  return resp;
}

absl::StatusOr<scheduler::PlacementRequest> ComputeService::PlacementRequestLocked(
    const v1::RunInstancesRequest& req, const InstanceType& type) {
  scheduler::PlacementRequest preq;
  preq.request_id = req.client_token().empty() ? ids_.Next("r") : req.client_token();
  preq.vcpus = type.vcpus;
  preq.memory_mib = type.memory_mib;
  preq.instance_store_gb = InstanceStoreGb(type);
  preq.min_count = req.min_count();
  preq.max_count = req.max_count();
  preq.availability_zone = req.placement().availability_zone();
  const auto& p = req.placement();
  if (p.group_name().empty()) {
    if (p.partition_number() != 0) {
      return InvalidParameterValue("Placement.PartitionNumber needs Placement.GroupName");
    }
    return preq;
  }
  MC_ASSIGN_OR_RETURN(const v1::PlacementGroupRecord* group,
                      FindPlacementGroupLocked(state_, p.group_name()));
  const bool partition_group = group->strategy() == v1::PLACEMENT_STRATEGY_PARTITION;
  if (p.partition_number() != 0 && (!partition_group || p.partition_number() < 1 ||
                                    p.partition_number() > group->partition_count())) {
    return InvalidParameterValue(
        !partition_group
            ? absl::StrCat("Placement group '", group->group_name(),
                           "' is not a partition group; PartitionNumber is not allowed")
            : absl::StrCat("Value (", p.partition_number(),
                           ") for parameter PartitionNumber is invalid. Expected 1-",
                           group->partition_count(), "."));
  }
  if (group->strategy() == v1::PLACEMENT_STRATEGY_CLUSTER &&
      !group->locked_availability_zone().empty() && !preq.availability_zone.empty() &&
      preq.availability_zone != group->locked_availability_zone()) {
    return InvalidParameterValue(absl::StrCat("Cluster placement group '", group->group_name(),
                                              "' is in ", group->locked_availability_zone(),
                                              "; it cannot span availability zones"));
  }
  preq.region = group->region();
  preq.group = SchedulerGroupLocked(state_, *group);
  preq.partition_number = p.partition_number();
  return preq;
}

absl::StatusOr<v1::DescribePlacementResponse> ComputeService::DescribePlacement(
    const v1::RunInstancesRequest& in) {
  MC_ASSIGN_OR_RETURN(const v1::RunInstancesRequest req, NormalizedRun(in));
  const InstanceType type = *FindInstanceType(req.instance_type());
  auto lock = state_.LockCommitted();
  MC_ASSIGN_OR_RETURN(scheduler::PlacementRequest preq, PlacementRequestLocked(req, type));
  const scheduler::PlacementExplanation e = state_.index().FleetAt(clock_.Now()).Explain(preq);
  v1::DescribePlacementResponse resp;
  resp.set_would_succeed(e.status.ok());
  if (!e.status.ok()) {
    resp.set_error_code(Ec2CodeOf(SchedulerError(e.status, req.instance_type())));
  }
  resp.set_explanation(scheduler::FormatExplanation(preq, e));
  return resp;
}

absl::StatusOr<v1::DescribeAvailabilityZonesResponse> ComputeService::DescribeAvailabilityZones(
    const v1::DescribeAvailabilityZonesRequest& req) {
  static const std::set<std::string> kFilters = {"region-name", "zone-name", "state", "zone-id"};
  for (const auto& f : req.filters()) {
    if (!kFilters.contains(f.name())) {
      return InvalidParameterValue(absl::StrCat("The filter '", f.name(), "' is invalid"));
    }
  }
  const absl::Time now = clock_.Now();
  auto lock = state_.LockCommitted();
  std::map<std::string, v1::AvailabilityZone> zones;
  std::map<std::string, std::set<std::string>> racks;
  for (const auto& [id, h] : state_.hosts()) {
    const auto& t = h.topology();
    v1::AvailabilityZone& z = zones[t.availability_zone()];
    z.set_zone_name(t.availability_zone());
    z.set_region_name(t.region());
    z.set_host_count(z.host_count() + 1);
    z.set_hosts_up(z.hosts_up() + (state_.HostUpLocked(id, now) ? 1 : 0));
    racks[t.availability_zone()].insert(t.rack());
  }
  for (const auto& name : req.zone_names()) {
    if (!zones.contains(name)) {
      return InvalidParameterValue(
          absl::StrCat("The zone '", name, "' does not exist in any region of this cloud"));
    }
  }
  std::set<std::string> wanted(req.zone_names().begin(), req.zone_names().end());
  v1::DescribeAvailabilityZonesResponse resp;
  int index = 0;
  for (auto& [name, z] : zones) {
    // Zone ids follow AWS's "<region abbreviation>-az<N>" shape, numbered in name order.
    z.set_zone_id(absl::StrCat(z.region_name(), "-az", ++index));
    z.set_state(z.hosts_up() > 0 ? "available" : "unavailable");
    z.set_zone_type("availability-zone");
    z.set_opt_in_status("opt-in-not-required");
    for (const auto& rack : racks[name]) z.add_racks(rack);
    if (!wanted.empty() && !wanted.contains(name)) continue;
    bool match = true;
    for (const auto& f : req.filters()) {
      const std::string actual = f.name() == "region-name" ? z.region_name()
                                 : f.name() == "zone-name" ? z.zone_name()
                                 : f.name() == "zone-id"   ? z.zone_id()
                                                           : z.state();
      bool any = false;
      for (const auto& v : f.values()) any = any || GlobMatch(v, actual);
      match = match && any;
    }
    if (match) *resp.add_availability_zones() = z;
  }
  return resp;
}

}  // namespace minicloud::controller
