// One physical resource of each type a stack makes: made, observed and deleted through the
// controller's own services (in process), with their EC2 rules and errors.
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/ec2_error.h"
#include "common/ec2_names.h"
#include "common/status_macros.h"
#include "controller/service/stack_service.h"

namespace minicloud::controller {
namespace {

using cloudformation::Json;
using lifecycle::Observation;
using lifecycle::Observed;

// CloudFormation's default InstanceType is m1.small, which minicloud does not offer; its
// smallest general-purpose type stands in.
constexpr char kDefaultInstanceType[] = "t3.micro";

std::string Str(const Json& props, const char* key) {
  if (!props.contains(key)) return "";
  const Json& v = props[key];
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  return v.dump();
}

// An integer property, literal or from a parameter (a string of digits).
absl::StatusOr<int64_t> Int(const Json& props, const char* key, int64_t otherwise) {
  if (!props.contains(key)) return otherwise;
  const Json& v = props[key];
  if (v.is_number_integer()) return v.get<int64_t>();
  int64_t n = 0;
  if (v.is_string() && absl::SimpleAtoi(v.get<std::string>(), &n)) return n;
  return InvalidParameterValue(absl::StrCat("Property ", key, " must be an integer"));
}

bool Bool(const Json& props, const char* key) {
  if (!props.contains(key)) return false;
  const Json& v = props[key];
  if (v.is_boolean()) return v.get<bool>();
  return v.is_string() && absl::AsciiStrToLower(v.get<std::string>()) == "true";
}

void AddTags(const Json& props, google::protobuf::RepeatedPtrField<v1::Tag>* out) {
  if (!props.contains("Tags") || !props["Tags"].is_array()) return;
  for (const auto& t : props["Tags"]) {
    if (!t.is_object()) continue;
    auto* tag = out->Add();
    tag->set_key(Str(t, "Key"));
    tag->set_value(Str(t, "Value"));
  }
}

// A name CloudFormation would give: <stack>-<logical id>-<random>, at most `max` characters.
std::string GeneratedName(const v1::StackRecord& s, const v1::StackResourceRecord& r,
                          IdGenerator& ids, size_t max) {
  std::string suffix = absl::AsciiStrToUpper(ids.Next("x").substr(2, 12));
  std::string head = absl::StrCat(s.name(), "-", r.logical_id());
  if (head.size() + 1 + suffix.size() > max) head.resize(max - 1 - suffix.size());
  return absl::StrCat(head, "-", suffix);
}

// A ClientToken for RunInstances that is the same when the driver retries after a restart (the
// stack's uuid, the logical id, and the update it belongs to), at most 64 characters.
std::string LaunchToken(const v1::StackRecord& s, const v1::StackResourceRecord& r) {
  const std::string uuid = s.stack_id().substr(s.stack_id().rfind('/') + 1);
  std::string token =
      absl::StrCat(uuid.substr(0, 23), "-", s.last_updated_time_ms(), "-", r.logical_id());
  if (token.size() > 64) token.resize(64);
  return token;
}

bool Deleting(const v1::StackResourceRecord& r, const std::string& pid) {
  return r.status() == "DELETE_IN_PROGRESS" || r.status() == "DELETE_COMPLETE" ||
         pid != r.physical_id() || r.cleanup_status() == "DELETE_IN_PROGRESS";
}

bool NotFound(const absl::Status& s) {
  return absl::StrContains(Ec2CodeOf(s), "NotFound") || absl::IsNotFound(s);
}

}  // namespace

absl::StatusOr<StackService::Made> StackService::MakeResource(const v1::StackRecord& stack,
                                                              v1::StackResourceRecord& r,
                                                              const Json& props) {
  const std::string& type = r.type();
  if (type == "AWS::EC2::Instance") {
    v1::RunInstancesRequest q;
    q.set_image_id(Str(props, "ImageId"));
    q.set_instance_type(props.contains("InstanceType") ? Str(props, "InstanceType")
                                                       : kDefaultInstanceType);
    q.set_min_count(1);
    q.set_max_count(1);
    q.set_key_name(Str(props, "KeyName"));
    if (props.contains("UserData")) {
      std::string raw;
      if (!absl::Base64Unescape(Str(props, "UserData"), &raw)) {
        return InvalidParameterValue("Invalid BASE64 encoding of user data.");
      }
      q.set_user_data(raw);
    }
    q.mutable_placement()->set_availability_zone(Str(props, "AvailabilityZone"));
    q.mutable_placement()->set_group_name(Str(props, "PlacementGroupName"));
    if (props.contains("IamInstanceProfile")) {
      const std::string p = Str(props, "IamInstanceProfile");
      if (absl::StartsWith(p, "arn:")) {
        q.mutable_iam_instance_profile()->set_arn(p);
      } else {
        q.mutable_iam_instance_profile()->set_name(p);
      }
    }
    AddTags(props, q.mutable_tags());
    q.set_client_token(LaunchToken(stack, r));
    MC_ASSIGN_OR_RETURN(v1::Reservation res, compute_.RunInstances(q));
    if (res.instances_size() != 1) return absl::InternalError("RunInstances made no instance");
    const std::string id = res.instances(0).instance_id();
    // CloudFormation's own tags ("aws:" keys, which RunInstances refuses from callers).
    std::lock_guard<std::mutex> lock(state_.mu());
    auto it = state_.instances().find(id);
    if (it != state_.instances().end()) {
      v1::InstanceRecord rec = it->second;
      auto& tags = *rec.mutable_tags();
      tags["aws:cloudformation:stack-name"] = stack.name();
      tags["aws:cloudformation:stack-id"] = stack.stack_id();
      tags["aws:cloudformation:logical-id"] = r.logical_id();
      const std::string host = rec.host_id();
      CloudState::Changes c;
      c.instances[id] = std::move(rec);
      (void)state_.CommitLocked(c);
      // The host serves tags in instance metadata (InstanceMetadataTags): it hears of them.
      if (!host.empty()) state_.BumpGenerationLocked(host);
    }
    return Made{id, ""};
  }
  if (type == "AWS::EC2::KeyPair") {
    const std::string name = Str(props, "KeyName");
    if (props.contains("PublicKeyMaterial")) {
      v1::ImportKeyPairRequest q;
      q.set_key_name(name);
      q.set_public_key_material(Str(props, "PublicKeyMaterial"));
      AddTags(props, q.mutable_tags());
      MC_RETURN_IF_ERROR(key_pairs_.ImportKeyPair(q).status());
    } else {
      // CloudFormation keeps the private key in Systems Manager, which minicloud has not: the
      // key is made and its private half is not kept.
      v1::CreateKeyPairRequest q;
      q.set_key_name(name);
      q.set_key_type(Str(props, "KeyType"));
      AddTags(props, q.mutable_tags());
      MC_RETURN_IF_ERROR(key_pairs_.CreateKeyPair(q).status());
    }
    return Made{name, ""};
  }
  if (type == "AWS::EC2::PlacementGroup") {
    v1::CreatePlacementGroupRequest q;
    q.set_group_name(GeneratedName(stack, r, ids_, 255));
    const std::string strategy =
        props.contains("Strategy") ? Str(props, "Strategy") : std::string("cluster");
    MC_ASSIGN_OR_RETURN(v1::PlacementStrategy st, ParsePlacementStrategy(strategy, "Strategy"));
    q.set_strategy(st);
    MC_ASSIGN_OR_RETURN(int64_t partitions, Int(props, "PartitionCount", 0));
    q.set_partition_count(static_cast<int32_t>(partitions));
    if (props.contains("SpreadLevel")) {
      MC_ASSIGN_OR_RETURN(v1::SpreadLevel level, ParseSpreadLevel(Str(props, "SpreadLevel")));
      q.set_spread_level(level);
    }
    AddTags(props, q.mutable_tags());
    MC_RETURN_IF_ERROR(groups_.CreatePlacementGroup(q).status());
    return Made{q.group_name(), ""};
  }
  if (type == "AWS::EC2::Volume" || type == "AWS::EC2::VolumeAttachment") {
    if (volumes_ == nullptr) {
      return Ec2Error(absl::StatusCode::kUnavailable, "InsufficientVolumeCapacity",
                      "This controller has no volume service");
    }
    if (type == "AWS::EC2::Volume") {
      v1::CreateVolumeRequest q;
      q.set_availability_zone(Str(props, "AvailabilityZone"));
      MC_ASSIGN_OR_RETURN(int64_t size, Int(props, "Size", 0));
      q.set_size(size);
      q.set_snapshot_id(Str(props, "SnapshotId"));
      q.set_volume_type(Str(props, "VolumeType"));
      if (props.contains("Iops")) {
        MC_ASSIGN_OR_RETURN(int64_t iops, Int(props, "Iops", 0));
        q.set_iops(static_cast<int32_t>(iops));
      }
      if (props.contains("Throughput")) {
        MC_ASSIGN_OR_RETURN(int64_t tp, Int(props, "Throughput", 0));
        q.set_throughput(static_cast<int32_t>(tp));
      }
      q.set_encrypted(Bool(props, "Encrypted"));
      q.set_multi_attach_enabled(Bool(props, "MultiAttachEnabled"));
      AddTags(props, q.mutable_tags());
      MC_ASSIGN_OR_RETURN(v1::Volume v, volumes_->CreateVolume(q));
      return Made{v.volume_id(), ""};
    }
    v1::AttachVolumeRequest q;
    q.set_volume_id(Str(props, "VolumeId"));
    q.set_instance_id(Str(props, "InstanceId"));
    q.set_device(Str(props, "Device"));
    MC_RETURN_IF_ERROR(volumes_->AttachVolume(q).status());
    return Made{GeneratedName(stack, r, ids_, 128), ""};
  }
  if (type == "AWS::CloudFormation::WaitConditionHandle") {
    const std::string token = options_.new_handle_token();
    if (token.size() < 32) return absl::InternalError("no secure random token for the handle");
    return Made{absl::StrCat(kWaitConditionUrlBase, token), token};
  }
  if (type == "AWS::CloudFormation::WaitCondition") {
    if (r.signal_count() == 0) {  // no CreationPolicy: Count and Timeout say
      MC_ASSIGN_OR_RETURN(int64_t count, Int(props, "Count", 1));
      MC_ASSIGN_OR_RETURN(int64_t timeout, Int(props, "Timeout", -1));
      if (count < 1) return InvalidParameterValue("Count must be at least 1");
      if (timeout < 0 || timeout > 43200) {
        return InvalidParameterValue("Timeout must be a number of seconds from 0 to 43200");
      }
      r.set_signal_count(static_cast<int32_t>(count));
      r.set_signal_timeout_ms(timeout * 1000);
    }
    return Made{absl::StrCat(stack.stack_id(), "/", r.logical_id()), ""};
  }
  return InvalidParameterValue(absl::StrCat("minicloud does not create ", type));
}

absl::Status StackService::DeleteResource(const v1::StackResourceRecord& r,
                                          const std::string& pid) {
  absl::Status s;
  const std::string& type = r.type();
  if (type == "AWS::EC2::Instance") {
    v1::TerminateInstancesRequest q;
    q.add_instance_ids(pid);
    s = compute_.TerminateInstances(q).status();
  } else if (type == "AWS::EC2::KeyPair") {
    v1::DeleteKeyPairRequest q;
    q.set_key_name(pid);
    s = key_pairs_.DeleteKeyPair(q).status();
  } else if (type == "AWS::EC2::PlacementGroup") {
    v1::DeletePlacementGroupRequest q;
    q.set_group_name(pid);
    s = groups_.DeletePlacementGroup(q).status();
  } else if (type == "AWS::EC2::Volume" && volumes_ != nullptr) {
    v1::DeleteVolumeRequest q;
    q.set_volume_id(pid);
    s = volumes_->DeleteVolume(q).status();
  } else if (type == "AWS::EC2::VolumeAttachment" && volumes_ != nullptr) {
    Json props = Json::parse(r.properties_json(), nullptr, false);
    if (!props.is_object()) return absl::OkStatus();
    v1::DetachVolumeRequest q;
    q.set_volume_id(Str(props, "VolumeId"));
    q.set_instance_id(Str(props, "InstanceId"));
    s = volumes_->DetachVolume(q).status();
    // Already detached (the instance was terminated first): nothing to do.
    if (Ec2CodeOf(s) == "IncorrectState") return absl::OkStatus();
  }
  return s.ok() || NotFound(s) ? absl::OkStatus() : s;
}

Observation StackService::ObserveResource(const v1::StackRecord& stack,
                                          const v1::StackResourceRecord& r, const std::string& pid,
                                          Json* attrs) {
  const std::string& type = r.type();
  const bool deleting = Deleting(r, pid);
  auto lock = state_.LockCommitted();
  if (type == "AWS::EC2::Instance") {
    auto it = state_.instances().find(pid);
    if (it == state_.instances().end()) return {Observed::kGone, "The instance no longer exists"};
    const v1::InstanceRecord& rec = it->second;
    switch (rec.state()) {
      case v1::INSTANCE_STATE_CODE_RUNNING: {
        const v1::Instance api = InstanceToApi(rec);
        (*attrs)["InstanceId"] = pid;
        (*attrs)["PrivateIp"] = api.private_ip_address();
        (*attrs)["PrivateDnsName"] = api.private_dns_name();
        // A minicloud instance has one address, reachable from the hosts' network: it is also
        // the one a template asking for the public address gets.
        (*attrs)["PublicIp"] = api.private_ip_address();
        (*attrs)["PublicDnsName"] = api.private_dns_name();
        (*attrs)["AvailabilityZone"] = api.placement().availability_zone();
        (*attrs)["VpcId"] = api.vpc_id();
        return {deleting ? Observed::kPending : Observed::kReady, ""};
      }
      case v1::INSTANCE_STATE_CODE_TERMINATED:
        if (deleting) return {Observed::kGone, ""};
        [[fallthrough]];
      case v1::INSTANCE_STATE_CODE_SHUTTING_DOWN:
        if (deleting) return {Observed::kPending, ""};
        return {Observed::kFailed,
                rec.state_reason_message().empty()
                    ? absl::StrCat("Instance ", pid, " was terminated")
                    : absl::StrCat(rec.state_reason_code(), ": ", rec.state_reason_message())};
      default:
        return {Observed::kPending, ""};
    }
  }
  if (type == "AWS::EC2::KeyPair") {
    auto it = state_.key_pairs().find(pid);
    if (it == state_.key_pairs().end()) return {Observed::kGone, "The key pair no longer exists"};
    (*attrs)["KeyPairId"] = it->second.key_pair_id();
    (*attrs)["KeyFingerprint"] = it->second.fingerprint();
    return {deleting ? Observed::kPending : Observed::kReady, ""};
  }
  if (type == "AWS::EC2::PlacementGroup") {
    if (!state_.placement_groups().count(pid)) {
      return {Observed::kGone, "The placement group no longer exists"};
    }
    (*attrs)["GroupName"] = pid;
    return {deleting ? Observed::kPending : Observed::kReady, ""};
  }
  if (type == "AWS::EC2::Volume") {
    auto it = state_.volumes().find(pid);
    if (it == state_.volumes().end() || it->second.state() == v1::VOLUME_STATE_DELETED) {
      return {Observed::kGone, "The volume no longer exists"};
    }
    (*attrs)["VolumeId"] = pid;
    switch (it->second.state()) {
      case v1::VOLUME_STATE_AVAILABLE:
      case v1::VOLUME_STATE_IN_USE:
        return {deleting ? Observed::kPending : Observed::kReady, ""};
      case v1::VOLUME_STATE_ERROR:
        return {Observed::kFailed, absl::StrCat("Volume ", pid, " is in state error")};
      default:
        return {Observed::kPending, ""};
    }
  }
  if (type == "AWS::EC2::VolumeAttachment") {
    Json props = Json::parse(r.properties_json(), nullptr, false);
    if (!props.is_object()) return {Observed::kGone, ""};
    auto it = state_.volumes().find(Str(props, "VolumeId"));
    if (it != state_.volumes().end()) {
      for (const auto& a : it->second.attachments()) {
        if (a.instance_id() != Str(props, "InstanceId")) continue;
        if (a.state() == v1::ATTACHMENT_STATE_ATTACHED && !deleting) return {Observed::kReady, ""};
        if (a.state() == v1::ATTACHMENT_STATE_DETACHED) break;
        if (!a.error_message().empty() && !deleting) return {Observed::kFailed, a.error_message()};
        return {Observed::kPending, ""};
      }
    }
    return {Observed::kGone, "The volume is not attached to the instance"};
  }
  // Wait condition handles and wait conditions exist as long as the stack keeps them.
  if (deleting) return {Observed::kGone, ""};
  if (type == "AWS::CloudFormation::WaitCondition") {
    Json data = Json::object();
    for (const auto& s : r.signals()) {
      if (s.status() == "SUCCESS") data[s.unique_id()] = s.data();
    }
    (*attrs)["Data"] = data.dump();
    (*attrs)["Id"] = pid;
  } else if (type == "AWS::CloudFormation::WaitConditionHandle") {
    (*attrs)["Id"] = pid;
  }
  (void)stack;
  return {Observed::kReady, ""};
}

}  // namespace minicloud::controller
