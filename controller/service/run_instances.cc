// ComputeService's launch path: RunInstances (validation, the decision on the state's kept
// fleet, the instance records with their addresses and identity documents, the pipelined
// durable commit) and DescribePlacement, which explains the same decision without placing.
// docs/design.md, "Flow of RunInstances", walks through it.

#include <openssl/sha.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <optional>
#include <set>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "common/ec2_error.h"
#include "common/ids.h"
#include "common/status_macros.h"
#include "controller/lifecycle/lifecycle.h"
#include "controller/service/block_device_mapping.h"
#include "controller/service/compute_service.h"
#include "controller/service/guest_view.h"
#include "controller/service/hibernation.h"
#include "controller/service/instance_common.h"
#include "controller/service/instance_network.h"
#include "controller/service/instance_profile_service.h"
#include "controller/service/instance_types.h"
#include "controller/service/metadata_options.h"
#include "controller/service/network_plan.h"
#include "controller/service/placement_group_service.h"
#include "controller/service/volume_service.h"

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
  char a[17], b[17];  // two ids' worth of hex digits
  ids.NextDigits(a);
  ids.NextDigits(b);
  // "ec2" and the first 29 of their 34 digits, grouped 8-4-4-4-12.
  char digits[32];
  std::memcpy(digits, "ec2", 3);
  std::memcpy(digits + 3, a, 17);
  std::memcpy(digits + 20, b, 12);
  std::string u;
  u.reserve(36);
  for (size_t i = 0; i < 32; ++i) {
    if (i == 8 || i == 12 || i == 16 || i == 20) u.push_back('-');
    u.push_back(digits[i]);
  }
  return u;
}

thread_local RunInstancesTimings run_timings;

double MicrosBetween(std::chrono::steady_clock::time_point a,
                     std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double, std::micro>(b - a).count();
}

}  // namespace

const RunInstancesTimings& LastRunInstancesTimings() { return run_timings; }

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
  // The mapping's shape (the image's root name is checked again once the image is known).
  MC_RETURN_IF_ERROR(ResolveInstanceStore(*FindInstanceType(req.instance_type()),
                                          req.block_device_mappings(), kDefaultRootDeviceName)
                         .status());
  MC_ASSIGN_OR_RETURN(const v1::InstanceMetadataOptions options,
                      ResolveMetadataOptions(req.metadata_options(), DefaultMetadataOptions()));
  return ValidateInstanceTags(req.tags(), options.instance_metadata_tags());
}

absl::StatusOr<const v1::RunInstancesRequest*> ComputeService::NormalizedRun(
    const v1::RunInstancesRequest& in, std::optional<v1::RunInstancesRequest>& copy) const {
  const v1::RunInstancesRequest* req = &in;
  auto set_max_count = [&](int32_t n) {
    if (!copy.has_value()) req = &copy.emplace(in);
    copy->set_max_count(n);
  };
  if (in.max_count() == 0 && in.min_count() > 0) set_max_count(in.min_count());
  MC_RETURN_IF_ERROR(ValidateRun(*req));
  // Above the per-call limit, MaxCount launches as many as the limit allows (MinCount is
  // checked against it in ValidateRun).
  if (req->max_count() > state_.config().max_instances_per_call) {
    set_max_count(state_.config().max_instances_per_call);
  }
  return req;
}

absl::Status ComputeService::AssignNetworkLocked(v1::InstanceRecord& r,
                                                 CloudState::Changes& changes,
                                                 AddressCursors& cursors) {
  const std::string& az = r.topology().availability_zone();
  AddressCursor& cursor = cursors[az];
  if (cursor.subnet == nullptr) {
    // The subnet record is read in place (no copy per instance); a new one goes into `changes`.
    // Either map keeps its nodes in place until the request stages (after its last instance).
    const v1::SubnetRecord* found = nullptr;
    if (auto it = changes.subnets.find(az); it != changes.subnets.end()) {
      found = &it->second;
    } else if (auto it2 = state_.subnets().find(az); it2 != state_.subnets().end()) {
      found = &it2->second;
    } else {
      const int index = static_cast<int>(state_.subnets().size() + changes.subnets.size());
      MC_ASSIGN_OR_RETURN(
          network::SubnetPlan plan,
          DefaultSubnet(index, state_.config().vpc_cidr, state_.config().subnet_prefix_length));
      std::string vpc_id;
      for (const auto& [k, v] : state_.subnets()) vpc_id = v.vpc_id();
      if (vpc_id.empty()) vpc_id = ids_.Next("vpc");
      v1::SubnetRecord& created = changes.subnets[az];
      created.set_subnet_id(ids_.Next("subnet"));
      created.set_vpc_id(vpc_id);
      created.set_availability_zone(az);
      created.set_cidr(plan.subnet.ToString());
      found = &created;
    }
    MC_ASSIGN_OR_RETURN(cursor.plan, network::SubnetPlan::FromCidr(found->cidr()));
    cursor.subnet = found;
  }
  const v1::SubnetRecord& subnet = *cursor.subnet;
  // The lowest address no instance of the subnet holds, above the ones this request gave out
  // already: each of those was the lowest free one when it was given, so the next is the lowest
  // free one after the last (the index does not change until the request stages its records).
  MC_ASSIGN_OR_RETURN(
      network::Ipv4Address address,
      state_.index().FirstFreeAddress(subnet.subnet_id(), cursor.plan, cursor.next_free));
  cursor.next_free = address.value + 1;
  auto* n = r.mutable_network();
  n->set_private_ip(address.ToString());
  n->set_subnet_id(subnet.subnet_id());
  n->set_interface_id(ids_.Next("eni"));
  // MAC, subnet CIDR, gateway, VPC and DNS name follow from these (instance_network.h).
  return FillDerivedNetwork(subnet, cursor.plan, address, r);
}

absl::StatusOr<v1::Reservation> ComputeService::RunInstances(const v1::RunInstancesRequest& in) {
  std::optional<v1::RunInstancesRequest> normalized;
  MC_ASSIGN_OR_RETURN(const v1::RunInstancesRequest* const normalized_req,
                      NormalizedRun(in, normalized));
  const v1::RunInstancesRequest& req = *normalized_req;
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
  if (!image.state().empty()) {
    // A baked or copied AMI whose snapshots are not all completed (or failed): EC2's code for
    // an AMI that cannot launch yet.
    return Ec2Error(absl::StatusCode::kFailedPrecondition, "InvalidAMIID.Unavailable",
                    absl::StrCat("The image '", image.image_id(), "' is ", image.state(),
                                 ": it can launch once it is available"));
  }
  MC_ASSIGN_OR_RETURN(
      const std::vector<v1::DesiredInstanceStoreDisk> instance_store,
      ResolveInstanceStore(
          type, req.block_device_mappings(),
          image.root_device_name().empty() ? kDefaultRootDeviceName : image.root_device_name()));
  // EBS volumes (the root of an EBS-backed AMI, Ebs mappings): controller/service/ebs_mapping.h.
  for (const v1::BlockDeviceMapping& m : req.block_device_mappings()) {
    if (m.has_ebs() && !m.no_device() && !m.ebs().snapshot_id().empty()) {
      MC_ASSIGN_OR_RETURN(const v1::SnapshotRecord* snap,
                          FindSnapshotLocked(state_, m.ebs().snapshot_id()));
      if (snap->state() != v1::SNAPSHOT_STATE_COMPLETED) {
        return Ec2Error(absl::StatusCode::kFailedPrecondition, "IncorrectState",
                        absl::StrCat("Snapshot '", snap->snapshot_id(), "' is not completed"));
      }
    }
  }
  MC_ASSIGN_OR_RETURN(
      const std::vector<EbsVolumePlan> ebs_volumes,
      ResolveEbsVolumes(image, req.block_device_mappings(), [&](const std::string& id) {
        auto it = state_.snapshots().find(id);
        return it == state_.snapshots().end() ? int64_t{0} : it->second.volume_size_gib();
      }));
  if (req.hibernation_options().configured()) {
    // EC2's prerequisites (hibernation.h). The root is encrypted when asked to be or when the
    // AMI's snapshots are (a clone of an encrypted snapshot is encrypted).
    const bool ebs_root = !ebs_volumes.empty() && ebs_volumes.front().root;
    bool encrypted = ebs_root && ebs_volumes.front().encrypted;
    bool all_snapshots_encrypted = image.zone_snapshots_size() > 0;
    for (const auto& [zone, snapshot_id] : image.zone_snapshots()) {
      auto s = state_.snapshots().find(snapshot_id);
      all_snapshots_encrypted =
          all_snapshots_encrypted && s != state_.snapshots().end() && s->second.encrypted();
    }
    encrypted = encrypted || (ebs_root && all_snapshots_encrypted);
    MC_RETURN_IF_ERROR(CheckHibernationPrerequisites(
        {.instance_type = req.instance_type(),
         .memory_mib = type.memory_mib,
         .root_device_type = ebs_root ? absl::string_view(image.root_device_type())
                                      : absl::string_view("instance-store"),
         .root_encrypted = encrypted,
         .root_size_gib = ebs_root ? ebs_volumes.front().size_gib : 0,
         .image_size_gib = (image.virtual_size_bytes() + (int64_t{1} << 30) - 1) >> 30}));
  }
  if (!ebs_volumes.empty() && !ebs_hooks_.serves_zone) {
    return Ec2Error(absl::StatusCode::kFailedPrecondition, "UnsupportedOperation",
                    "EBS volumes need a volume service; this cloud has none");
  }
  std::vector<std::string> launch_volumes;
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
  if (!ebs_volumes.empty() && preq.availability_zone.empty()) {
    MC_ASSIGN_OR_RETURN(preq.allowed_zones, EbsLaunchZonesLocked(image, ebs_volumes));
  }
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
  changes.instances_network_derived = true;  // AssignNetworkLocked fills them (and fails if not)
  v1::Reservation reservation;
  reservation.set_reservation_id(ids_.Next("r"));
  reservation.set_owner_id(state_.config().owner_id);
  v1::ClientTokenRecord token;
  std::set<std::string> touched_hosts;
  AddressCursors cursors;
  for (size_t i = 0; i < placement->host_ids.size(); ++i) {
    const std::string& host_id = placement->host_ids[i];
    const v1::HostRecord* found_host = state_.FindHost(host_id);
    if (found_host == nullptr) {
      return absl::InternalError(absl::StrCat("the scheduler chose unknown host ", host_id));
    }
    const v1::HostRecord& host = *found_host;
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
    // Empty strings are left unset (proto3: the same value; setting one allocates it).
    if (!req.user_data().empty()) r.set_user_data(req.user_data());
    r.set_has_user_data(!req.user_data().empty());
    r.set_ami_launch_index(static_cast<int32_t>(i));
    if (!req.client_token().empty()) r.set_client_token(req.client_token());
    r.set_smbios_uuid(MakeSmbiosUuid(ids_));
    // No copy of the AMI's boot files: CloudState::BootImageOf finds them through image_id
    // (DeregisterImage copies them into the records that still need them).
    r.set_architecture(image.architecture());
    r.set_root_device_name(image.root_device_name());
    if (!image.root_device_type().empty()) r.set_root_device_type(image.root_device_type());
    for (const auto& d : instance_store) *r.add_instance_store() = d;
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
    r.set_hibernation_configured(req.hibernation_options().configured());
    MC_RETURN_IF_ERROR(AssignNetworkLocked(r, changes, cursors));
    MC_RETURN_IF_ERROR(StageLaunchVolumesLocked(ebs_volumes, image, r, changes, launch_volumes));
    // The identity document is not stored: it is built from these fields when the record is
    // delivered to its host and signed there, outside the state lock (identity_document.h).
    r.set_identity_pending_time_ms(r.launch_time_ms());
    if (!req.client_token().empty()) token.add_instance_ids(r.instance_id());
    touched_hosts.insert(host_id);
    changes.instances[r.instance_id()] = std::move(r);
  }
  if (preq.group != nullptr && !placement->cluster_locked_az.empty() &&
      preq.group->locked_az.empty()) {
    // The first launch into a cluster group locks its AZ, in the same commit as the instances.
    v1::PlacementGroupRecord g = *state_.FindPlacementGroup(preq.group->name);
    g.set_locked_availability_zone(placement->cluster_locked_az);
    changes.placement_groups[g.group_name()] = g;
  }
  // The group's view is shared with the state's index: dropped under the lock, before staging
  // changes its members (state_index.h, SchedulerGroup), so staging need not copy it.
  preq.group.reset();
  if (req.explain()) reservation.set_placement_explanation(std::move(explanation));
  if (!req.client_token().empty()) {
    token.set_client_token(req.client_token());
    token.set_reservation_id(reservation.reservation_id());
    token.set_request_fingerprint(RequestFingerprint(req));
    changes.client_tokens[req.client_token()] = token;
  }
  // Staging moves the records into the mirror (the next decision sees them). The answer is
  // built from the mirror's records while the lock is still held (ToApi reads the state's
  // volumes), and the lock is released while the commit syncs; the hosts' agents hear of the
  // instances once they are durable.
  const Steady::time_point staged = Steady::now();
  std::vector<const v1::InstanceRecord*> records;
  const uint64_t ticket = state_.StagePipelinedLocked(std::move(changes), touched_hosts, &records);
  // In launch order, as EC2 lists them (staging walks the records in id order).
  std::sort(records.begin(), records.end(),
            [](const v1::InstanceRecord* a, const v1::InstanceRecord* b) {
              return a->ami_launch_index() < b->ami_launch_index();
            });
  for (const v1::InstanceRecord* r : records) *reservation.add_instances() = ToApi(*r);
  state_.FinishPipelined(lock, ticket, !touched_hosts.empty());  // releases the lock
  run_timings.locked_us = MicrosBetween(locked, staged);
  run_timings.durable_wait_us = MicrosBetween(staged, Steady::now());
  // The volumes are made and exported now (outside the lock); the hosts boot once the roots
  // are exported. An unreachable volume service leaves them to the reconcile loop.
  if (!launch_volumes.empty() && ebs_hooks_.launched) ebs_hooks_.launched(launch_volumes);
  const int64_t committed_ms = absl::ToUnixMillis(clock_.Now());
  for (v1::Instance& i : *reservation.mutable_instances()) {
    i.mutable_launch_steps()->set_committed_ms(committed_ms);
  }
  return reservation;
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
  std::optional<v1::RunInstancesRequest> normalized;
  MC_ASSIGN_OR_RETURN(const v1::RunInstancesRequest* const normalized_req,
                      NormalizedRun(in, normalized));
  const v1::RunInstancesRequest& req = *normalized_req;
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

}  // namespace minicloud::controller
