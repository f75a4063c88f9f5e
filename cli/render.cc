#include "cli/render.h"

#include "absl/strings/escaping.h"
#include "absl/time/time.h"
#include "common/ec2_names.h"

namespace minicloud::cli {

using nlohmann::json;

namespace {

json CapacityJson(const v1::Capacity& c) {
  return {{"VCpus", c.vcpus()},
          {"MemoryMiB", c.memory_mib()},
          {"InstanceStoreGB", c.instance_store_gb()}};
}

}  // namespace

std::string Iso8601(const google::protobuf::Timestamp& t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ",
                          absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos()),
                          absl::UTCTimeZone());
}

json MetadataOptionsJson(const v1::InstanceMetadataOptions& o) {
  return {{"State", MetadataOptionsStateName(o.state())},
          {"HttpTokens", HttpTokensName(o.http_tokens())},
          {"HttpPutResponseHopLimit", o.http_put_response_hop_limit()},
          {"HttpEndpoint", HttpEndpointName(o.http_endpoint())},
          {"HttpProtocolIpv6", HttpProtocolIpv6Name(o.http_protocol_ipv6())},
          {"InstanceMetadataTags", InstanceMetadataTagsName(o.instance_metadata_tags())}};
}

std::string Base64(const std::string& bytes) { return absl::Base64Escape(bytes); }

json TagsJson(const google::protobuf::RepeatedPtrField<v1::Tag>& tags) {
  json out = json::array();
  for (const auto& t : tags) out.push_back({{"Key", t.key()}, {"Value", t.value()}});
  return out;
}

json InstanceJson(const v1::Instance& i) {
  json j = {
      {"AmiLaunchIndex", i.ami_launch_index()},
      {"ImageId", i.image_id()},
      {"InstanceId", i.instance_id()},
      {"InstanceType", i.instance_type()},
      {"LaunchTime", Iso8601(i.launch_time())},
      {"Placement",
       {{"AvailabilityZone", i.placement().availability_zone()},
        {"GroupName", i.placement().group_name()},
        {"Tenancy", "default"},
        {"HostId", i.placement().host_id()}}},
      {"State", {{"Code", i.state().code()}, {"Name", i.state().name()}}},
      {"StateTransitionReason", i.state_transition_reason()},
      {"Architecture", i.architecture()},
      {"RootDeviceName", i.root_device_name()},
      {"RootDeviceType", i.root_device_type()},
      {"Hypervisor", i.hypervisor()},
      {"ClientToken", i.client_token()},
      {"HibernationOptions", {{"Configured", i.hibernation_options().configured()}}},
  };
  if (i.placement().partition_number() != 0) {
    j["Placement"]["PartitionNumber"] = i.placement().partition_number();
  }
  if (i.has_state_reason()) {
    j["StateReason"] = {{"Code", i.state_reason().code()}, {"Message", i.state_reason().message()}};
  }
  if (!i.private_ip_address().empty()) {
    j["PrivateIpAddress"] = i.private_ip_address();
    j["PrivateDnsName"] = i.private_dns_name();
    j["SubnetId"] = i.subnet_id();
    j["VpcId"] = i.vpc_id();
    j["NetworkInterfaces"] = json::array({{{"NetworkInterfaceId", i.network_interface_id()},
                                           {"MacAddress", i.mac_address()},
                                           {"PrivateIpAddress", i.private_ip_address()},
                                           {"SubnetId", i.subnet_id()},
                                           {"VpcId", i.vpc_id()}}});
  }
  if (!i.key_name().empty()) j["KeyName"] = i.key_name();
  if (i.has_iam_instance_profile()) {
    j["IamInstanceProfile"] = {{"Arn", i.iam_instance_profile().arn()},
                               {"Id", i.iam_instance_profile().id()}};
  }
  if (i.has_metadata_options()) j["MetadataOptions"] = MetadataOptionsJson(i.metadata_options());
  if (i.tags_size() > 0) j["Tags"] = TagsJson(i.tags());
  json devices = json::array();
  for (const v1::InstanceBlockDeviceMapping& m : i.block_device_mappings()) {
    devices.push_back({{"DeviceName", m.device_name()},
                       {"Ebs",
                        {{"AttachTime", Iso8601(m.ebs().attach_time())},
                         {"DeleteOnTermination", m.ebs().delete_on_termination()},
                         {"Status", m.ebs().status()},
                         {"VolumeId", m.ebs().volume_id()}}}});
  }
  j["BlockDeviceMappings"] = devices;
  const auto& s = i.launch_steps();
  j["LaunchSteps"] = {
      {"RequestedMs", s.requested_ms()},          {"AgentReceivedMs", s.agent_received_ms()},
      {"ImageReadyMs", s.image_ready_ms()},       {"DiskReadyMs", s.disk_ready_ms()},
      {"DomainStartedMs", s.domain_started_ms()}, {"RunningMs", s.running_ms()}};
  if (s.committed_ms() != 0) j["LaunchSteps"]["CommittedMs"] = s.committed_ms();
  return j;
}

json PlacementGroupJson(const v1::PlacementGroup& g) {
  json j = {{"GroupName", g.group_name()},
            {"GroupId", g.group_id()},
            {"State", g.state()},
            {"Strategy", PlacementStrategyName(g.strategy())},
            {"InstanceCount", g.instance_count()}};
  if (g.partition_count() > 0) j["PartitionCount"] = g.partition_count();
  if (g.spread_level() != v1::SPREAD_LEVEL_UNSPECIFIED) {
    j["SpreadLevel"] = SpreadLevelName(g.spread_level());
  }
  if (!g.locked_availability_zone().empty()) {
    j["LockedAvailabilityZone"] = g.locked_availability_zone();
  }
  if (g.tags_size() > 0) j["Tags"] = TagsJson(g.tags());
  return j;
}

// minicloud's extension: the zone's EBS volume service (VolumeService in the JSON).
json ZoneVolumeServiceJson(const v1::ZoneVolumeService& v) {
  json j = {{"State", v.state()}, {"Detail", v.detail()}};
  if (v.state() == "none") return j;
  j["Backend"] = v.backend();
  j["Volumes"] = v.volumes();
  j["Snapshots"] = v.snapshots();
  j["Exports"] = v.exports();
  j["ProvisionedGiB"] = v.provisioned_gib();
  if (v.free_bytes() >= 0) j["FreeBytes"] = v.free_bytes();
  return j;
}

json AvailabilityZoneJson(const v1::AvailabilityZone& z) {
  json racks = json::array();
  for (const auto& r : z.racks()) racks.push_back(r);
  json messages = json::array();
  for (const auto& m : z.messages()) messages.push_back({{"Message", m}});
  json j = {{"ZoneName", z.zone_name()},     {"ZoneId", z.zone_id()},
            {"RegionName", z.region_name()}, {"State", z.state()},
            {"ZoneType", z.zone_type()},     {"OptInStatus", z.opt_in_status()},
            {"Messages", messages},          {"HostCount", z.host_count()},
            {"HostsUp", z.hosts_up()},       {"Racks", racks}};
  if (!z.volume_service().state().empty()) {
    j["VolumeService"] = ZoneVolumeServiceJson(z.volume_service());
  }
  return j;
}

json ReservationJson(const v1::Reservation& r) {
  json instances = json::array();
  for (const auto& i : r.instances()) instances.push_back(InstanceJson(i));
  return {{"Groups", json::array()},
          {"Instances", instances},
          {"OwnerId", r.owner_id()},
          {"ReservationId", r.reservation_id()}};
}

json ImageJson(const v1::Image& i) {
  json j = {{"ImageId", i.image_id()},
            {"Name", i.name()},
            {"Description", i.description()},
            {"Architecture", i.architecture()},
            {"RootDeviceName", i.root_device_name()},
            {"RootDeviceType", i.root_device_type()},
            {"State", i.state()},
            {"ImageType", i.image_type()},
            {"OwnerId", i.owner_id()},
            {"CreationDate", Iso8601(i.creation_date())},
            {"Public", false},
            {"BootMode", i.boot_mode()},
            {"Sha256", i.sha256()},
            {"SizeBytes", i.size_bytes()},
            {"VirtualSizeBytes", i.virtual_size_bytes()}};
  if (!i.kernel_id().empty()) j["KernelId"] = i.kernel_id();
  if (!i.ramdisk_id().empty()) j["RamdiskId"] = i.ramdisk_id();
  if (i.has_state_reason()) {
    j["StateReason"] = {{"Code", i.state_reason().code()}, {"Message", i.state_reason().message()}};
  }
  if (i.tags_size() > 0) j["Tags"] = TagsJson(i.tags());
  json mappings = json::array();
  for (const v1::BlockDeviceMapping& m : i.block_device_mappings()) {
    json b = {{"DeviceName", m.device_name()}};
    if (!m.virtual_name().empty()) b["VirtualName"] = m.virtual_name();
    if (m.no_device()) b["NoDevice"] = "";
    if (m.has_ebs()) {
      const v1::EbsBlockDevice& e = m.ebs();
      json ebs = {
          {"DeleteOnTermination", !e.has_delete_on_termination() || e.delete_on_termination()},
          {"Encrypted", e.has_encrypted() && e.encrypted()}};
      if (!e.snapshot_id().empty()) ebs["SnapshotId"] = e.snapshot_id();
      if (e.volume_size() > 0) ebs["VolumeSize"] = e.volume_size();
      if (!e.volume_type().empty()) ebs["VolumeType"] = e.volume_type();
      if (e.has_iops() && e.iops() > 0) ebs["Iops"] = e.iops();
      if (e.has_throughput() && e.throughput() > 0) ebs["Throughput"] = e.throughput();
      b["Ebs"] = ebs;
    }
    mappings.push_back(b);
  }
  j["BlockDeviceMappings"] = mappings;
  return j;
}

json InstanceTypeJson(const v1::InstanceTypeInfo& t) {
  json j = {{"InstanceType", t.instance_type()},
            {"VCpuInfo", {{"DefaultVCpus", t.default_vcpus()}}},
            {"MemoryInfo", {{"SizeInMiB", t.memory_mib()}}},
            {"InstanceStorageSupported", t.instance_storage_supported()},
            {"BurstablePerformanceSupported", t.burstable() == "true"}};
  if (t.instance_storage_supported()) {
    json disks = json::array();
    for (const v1::InstanceStorageDisk& d : t.instance_storage_disks()) {
      disks.push_back({{"SizeInGB", d.size_gb()}, {"Count", d.count()}, {"Type", d.type()}});
    }
    j["InstanceStorageInfo"] = {{"TotalSizeInGB", t.instance_storage_gb()},
                                {"Disks", disks},
                                {"NvmeSupport", t.instance_storage_nvme_support()},
                                {"EncryptionSupport", t.instance_storage_encryption_support()}};
  }
  return j;
}

json HostJson(const v1::Host& h) {
  json j = {{"HostId", h.host_id()},
            {"Hostname", h.hostname()},
            {"State", h.state()},
            {"Region", h.topology().region()},
            {"AvailabilityZone", h.topology().availability_zone()},
            {"Rack", h.topology().rack()},
            {"Endpoint", h.endpoint()},
            {"Accelerator", h.accelerator() == v1::ACCELERATOR_KVM ? "kvm" : "tcg"},
            {"AcceleratorReason", h.accelerator_reason()},
            {"Capacity", CapacityJson(h.capacity())},
            {"Allocatable", CapacityJson(h.allocatable())},
            {"Used", CapacityJson(h.used())},
            {"InstanceCount", h.instance_count()},
            {"LastHeartbeat", h.has_last_heartbeat() ? Iso8601(h.last_heartbeat()) : ""}};
  if (!h.volume_service().state().empty()) {
    j["VolumeService"] = ZoneVolumeServiceJson(h.volume_service());
  }
  return j;
}

json StateChangeJson(const v1::InstanceStateChange& c) {
  return {
      {"InstanceId", c.instance_id()},
      {"CurrentState", {{"Code", c.current_state().code()}, {"Name", c.current_state().name()}}},
      {"PreviousState",
       {{"Code", c.previous_state().code()}, {"Name", c.previous_state().name()}}}};
}

}  // namespace minicloud::cli
