// Instances: RunInstances, DescribeInstances, Start/Stop/TerminateInstances, GetConsoleOutput,
// DescribeInstanceTypes, DescribeAvailabilityZones. Parameter names as botocore serializes the
// EC2 model (data/ec2/2016-11-15/service-2.json, `locationName`/`queryName`).
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/ec2_names.h"
#include "common/instance_limits.h"
#include "common/status_macros.h"
#include "controller/query/action.h"
#include "controller/query/instance_xml.h"
#include "controller/query/query_block_devices.h"
#include "controller/query/query_instance_options.h"
#include "controller/query/xml.h"

namespace minicloud::query {
namespace {

constexpr int64_t kInt32Max = 2147483647;

// MetadataOptions.* (RunInstances) or the same names at the top level
// (ModifyInstanceMetadataOptions): the typed options, UNSPECIFIED where absent.
absl::Status ParseMetadataOptionFields(ParamNode& p, v1::InstanceMetadataOptions* o) {
  if (auto v = p.String("HttpTokens")) {
    MC_ASSIGN_OR_RETURN(auto t, ParseHttpTokens(*v));
    o->set_http_tokens(t);
  }
  if (auto v = p.String("HttpEndpoint")) {
    MC_ASSIGN_OR_RETURN(auto t, ParseHttpEndpoint(*v));
    o->set_http_endpoint(t);
  }
  if (auto v = p.String("HttpProtocolIpv6")) {
    MC_ASSIGN_OR_RETURN(auto t, ParseHttpProtocolIpv6(*v));
    o->set_http_protocol_ipv6(t);
  }
  if (auto v = p.String("InstanceMetadataTags")) {
    MC_ASSIGN_OR_RETURN(auto t, ParseInstanceMetadataTags(*v));
    o->set_instance_metadata_tags(t);
  }
  // The range (1..64) is the service's rule; here only "is it a number".
  MC_ASSIGN_OR_RETURN(auto hops, p.Int("HttpPutResponseHopLimit", -kInt32Max, kInt32Max));
  if (hops) o->set_http_put_response_hop_limit(static_cast<int32_t>(*hops));
  return absl::OkStatus();
}

}  // namespace

absl::Status ParseMetadataOptions(ParamNode& p, v1::InstanceMetadataOptions* o) {
  return ParseMetadataOptionFields(p, o);
}

absl::StatusOr<v1::RunInstancesRequest> ParseRunInstances(ParamNode& p, bool dry_run) {
  v1::RunInstancesRequest req;
  req.set_dry_run(dry_run);
  MC_ASSIGN_OR_RETURN(std::string image, Required(p, "ImageId"));
  req.set_image_id(image);
  if (auto v = p.String("InstanceType")) req.set_instance_type(*v);
  MC_ASSIGN_OR_RETURN(auto min_count, p.Int("MinCount", -kInt32Max, kInt32Max));
  MC_ASSIGN_OR_RETURN(auto max_count, p.Int("MaxCount", -kInt32Max, kInt32Max));
  if (!min_count) return MissingParameter("The request must contain the parameter MinCount");
  if (!max_count) return MissingParameter("The request must contain the parameter MaxCount");
  req.set_min_count(static_cast<int32_t>(*min_count));
  req.set_max_count(static_cast<int32_t>(*max_count));
  MC_RETURN_IF_ERROR(ParseFixedInstanceOptions(p));  // query_instance_options.cc
  // HibernationOptions.Configured (botocore HibernationOptionsRequest); the prerequisites are
  // the service's (controller/service/hibernation.h).
  if (ParamNode* hibernation = p.Struct("HibernationOptions")) {
    MC_ASSIGN_OR_RETURN(auto configured, hibernation->Bool("Configured"));
    req.mutable_hibernation_options()->set_configured(configured.value_or(false));
  }
  if (auto v = p.String("KeyName")) req.set_key_name(*v);
  if (auto v = p.String("ClientToken")) req.set_client_token(*v);
  // IamInstanceProfile.Arn / .Name (botocore: IamInstanceProfileSpecification).
  if (ParamNode* profile = p.Struct("IamInstanceProfile")) {
    v1::IamInstanceProfileSpecification* spec = req.mutable_iam_instance_profile();
    if (auto v = profile->String("Arn")) spec->set_arn(*v);
    if (auto v = profile->String("Name")) spec->set_name(*v);
  }
  if (auto v = p.String("UserData")) {
    MC_ASSIGN_OR_RETURN(std::string raw, DecodeBase64(*v, "Invalid BASE64 encoding of user data"));
    req.set_user_data(std::move(raw));
  }
  if (ParamNode* placement = p.Struct("Placement")) {
    v1::Placement* pl = req.mutable_placement();
    if (auto v = placement->String("AvailabilityZone")) pl->set_availability_zone(*v);
    if (auto v = placement->String("GroupName")) pl->set_group_name(*v);
    MC_ASSIGN_OR_RETURN(auto partition, placement->Int("PartitionNumber", -kInt32Max, kInt32Max));
    if (partition) pl->set_partition_number(static_cast<int32_t>(*partition));
    if (auto v = placement->String("Tenancy"); v && *v != "default") {
      return InvalidParameterValue(
          absl::StrCat("Value (", *v,
                       ") for parameter Placement.Tenancy is invalid: minicloud has only "
                       "'default' tenancy"));
    }
  }
  if (ParamNode* options = p.Struct("MetadataOptions")) {
    MC_RETURN_IF_ERROR(ParseMetadataOptionFields(*options, req.mutable_metadata_options()));
  }
  // BlockDeviceMapping.N (botocore: BlockDeviceMappingRequestList); the service decides what a
  // mapping may say (controller/service/block_device_mapping.h, ebs_mapping.h).
  MC_RETURN_IF_ERROR(ParseBlockDeviceMappings(p, req.mutable_block_device_mappings()));
  for (ParamNode* spec : p.List("TagSpecification")) {
    const std::string type = spec->String("ResourceType").value_or("");
    if (type != "instance") {
      return InvalidParameterValue(
          absl::StrCat("'", type,
                       "' is not a valid taggable resource type for this operation; minicloud "
                       "tags instances at launch"));
    }
    for (ParamNode* tag : spec->List("Tag")) {
      v1::Tag* t = req.add_tags();
      t->set_key(tag->String("Key").value_or(""));
      t->set_value(tag->String("Value").value_or(""));
    }
  }
  return req;
}

namespace {

absl::Status RunRunInstances(Services& s, const v1::RunInstancesRequest& req, XmlNode out) {
  MC_ASSIGN_OR_RETURN(v1::Reservation r, s.compute.RunInstances(req));
  WriteReservationBody(out, r);
  return absl::OkStatus();
}

absl::StatusOr<v1::DescribeInstancesRequest> ParseDescribeInstances(ParamNode& p, bool) {
  v1::DescribeInstancesRequest req;
  for (std::string& id : p.StringList("InstanceId")) req.add_instance_ids(std::move(id));
  ParseFilters(p, req.mutable_filters());
  MC_RETURN_IF_ERROR(ParsePaging(p, &req));
  return req;
}

absl::Status RunDescribeInstances(Services& s, const v1::DescribeInstancesRequest& req,
                                  XmlNode out) {
  MC_ASSIGN_OR_RETURN(auto resp, s.compute.DescribeInstances(req));
  XmlNode set = Child(out, "reservationSet");
  for (const v1::Reservation& r : resp.reservations()) WriteReservationBody(Item(set), r);
  TextIfSet(out, "nextToken", resp.next_token());
  return absl::OkStatus();
}

template <typename Req>
absl::StatusOr<Req> ParseInstanceIds(ParamNode& p, bool dry_run) {
  Req req;
  req.set_dry_run(dry_run);
  for (std::string& id : p.StringList("InstanceId")) req.add_instance_ids(std::move(id));
  if (req.instance_ids().empty()) {
    return MissingParameter("The request must contain the parameter InstanceId");
  }
  return req;
}

absl::StatusOr<v1::StopInstancesRequest> ParseStopInstances(ParamNode& p, bool dry_run) {
  MC_ASSIGN_OR_RETURN(auto req, ParseInstanceIds<v1::StopInstancesRequest>(p, dry_run));
  MC_ASSIGN_OR_RETURN(auto force, p.Bool("Force"));
  req.set_force(force.value_or(false));
  MC_ASSIGN_OR_RETURN(auto hibernate, p.Bool("Hibernate"));
  req.set_hibernate(hibernate.value_or(false));
  return req;
}

absl::Status RunStartInstances(Services& s, const v1::StartInstancesRequest& req, XmlNode out) {
  MC_ASSIGN_OR_RETURN(auto resp, s.compute.StartInstances(req));
  WriteStateChanges(out, resp.starting_instances());
  return absl::OkStatus();
}
absl::Status RunStopInstances(Services& s, const v1::StopInstancesRequest& req, XmlNode out) {
  MC_ASSIGN_OR_RETURN(auto resp, s.compute.StopInstances(req));
  WriteStateChanges(out, resp.stopping_instances());
  return absl::OkStatus();
}
absl::Status RunTerminateInstances(Services& s, const v1::TerminateInstancesRequest& req,
                                   XmlNode out) {
  MC_ASSIGN_OR_RETURN(auto resp, s.compute.TerminateInstances(req));
  WriteStateChanges(out, resp.terminating_instances());
  return absl::OkStatus();
}

absl::StatusOr<v1::GetConsoleOutputRequest> ParseGetConsoleOutput(ParamNode& p, bool) {
  v1::GetConsoleOutputRequest req;
  MC_ASSIGN_OR_RETURN(std::string id, Required(p, "InstanceId"));
  req.set_instance_id(id);
  MC_ASSIGN_OR_RETURN(auto latest, p.Bool("Latest"));
  req.set_latest(latest.value_or(false));
  return req;
}

absl::Status RunGetConsoleOutput(Services& s, const v1::GetConsoleOutputRequest& req, XmlNode out) {
  MC_ASSIGN_OR_RETURN(auto resp, s.compute.GetConsoleOutput(req));
  Text(out, "instanceId", resp.instance_id());
  if (resp.has_timestamp()) Time(out, "timestamp", resp.timestamp());
  Text(out, "output", absl::Base64Escape(resp.output()));  // EC2 answers the output in base64
  return absl::OkStatus();
}

absl::StatusOr<v1::DescribeInstanceTypesRequest> ParseDescribeInstanceTypes(ParamNode& p, bool) {
  v1::DescribeInstanceTypesRequest req;
  for (std::string& t : p.StringList("InstanceType")) req.add_instance_types(std::move(t));
  return req;
}

absl::Status RunDescribeInstanceTypes(Services& s, const v1::DescribeInstanceTypesRequest& req,
                                      XmlNode out) {
  MC_ASSIGN_OR_RETURN(auto resp, s.compute.DescribeInstanceTypes(req));
  XmlNode set = Child(out, "instanceTypeSet");
  for (const v1::InstanceTypeInfo& t : resp.instance_types()) {
    XmlNode item = Item(set);
    Text(item, "instanceType", t.instance_type());
    Bool(item, "currentGeneration", true);
    Text(Child(item, "supportedRootDeviceTypes"), "item", "ebs");
    Text(Child(item, "supportedVirtualizationTypes"), "item", "hvm");
    Text(Child(Child(item, "processorInfo"), "supportedArchitectures"), "item", "x86_64");
    Int(Child(item, "vCpuInfo"), "defaultVCpus", t.default_vcpus());
    Int(Child(item, "memoryInfo"), "sizeInMiB", t.memory_mib());
    Bool(item, "instanceStorageSupported", t.instance_storage_supported());
    if (t.instance_storage_supported()) {
      // botocore's InstanceStorageInfo: totalSizeInGB, disks (DiskInfo items), nvmeSupport.
      XmlNode info = Child(item, "instanceStorageInfo");
      Int(info, "totalSizeInGB", t.instance_storage_gb());
      XmlNode disks = Child(info, "disks");
      for (const v1::InstanceStorageDisk& d : t.instance_storage_disks()) {
        XmlNode disk = Item(disks);
        Int(disk, "sizeInGB", d.size_gb());
        Int(disk, "count", d.count());
        Text(disk, "type", d.type());
      }
      Text(info, "nvmeSupport", t.instance_storage_nvme_support());
      Text(info, "encryptionSupport", t.instance_storage_encryption_support());
    }
    Bool(item, "burstablePerformanceSupported", t.burstable() == "true");
    Bool(item, "hibernationSupported", t.hibernation_supported());
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::DescribeAvailabilityZonesRequest> ParseDescribeAvailabilityZones(ParamNode& p,
                                                                                    bool) {
  v1::DescribeAvailabilityZonesRequest req;
  for (std::string& z : p.StringList("ZoneName")) req.add_zone_names(std::move(z));
  ParseFilters(p, req.mutable_filters());
  // Every zone of a minicloud is "opted in": the flag changes nothing, but clients send it.
  MC_ASSIGN_OR_RETURN(auto all, p.Bool("AllAvailabilityZones"));
  (void)all;
  return req;
}

absl::Status RunDescribeAvailabilityZones(Services& s,
                                          const v1::DescribeAvailabilityZonesRequest& req,
                                          XmlNode out) {
  MC_ASSIGN_OR_RETURN(auto resp, s.compute.DescribeAvailabilityZones(req));
  XmlNode set = Child(out, "availabilityZoneInfo");
  for (const v1::AvailabilityZone& z : resp.availability_zones()) {
    XmlNode item = Item(set);
    Text(item, "zoneName", z.zone_name());
    Text(item, "zoneState", z.state());
    Text(item, "regionName", z.region_name());
    Text(item, "zoneId", z.zone_id());
    Text(item, "zoneType", z.zone_type());
    Text(item, "optInStatus", z.opt_in_status());
    Text(item, "groupName", z.region_name());
    Text(item, "networkBorderGroup", z.region_name());
    XmlNode messages = Child(item, "messageSet");
    for (const std::string& m : z.messages()) Text(Item(messages), "message", m);
  }
  return absl::OkStatus();
}

}  // namespace

void AddInstanceActions(ActionTable& t) {
  t["RunInstances"] = Bind<ParseRunInstances, RunRunInstances>();
  t["DescribeInstances"] = Bind<ParseDescribeInstances, RunDescribeInstances>();
  t["StartInstances"] = Bind<ParseInstanceIds<v1::StartInstancesRequest>, RunStartInstances>();
  t["StopInstances"] = Bind<ParseStopInstances, RunStopInstances>();
  t["TerminateInstances"] =
      Bind<ParseInstanceIds<v1::TerminateInstancesRequest>, RunTerminateInstances>();
  t["GetConsoleOutput"] = Bind<ParseGetConsoleOutput, RunGetConsoleOutput>();
  t["DescribeInstanceTypes"] = Bind<ParseDescribeInstanceTypes, RunDescribeInstanceTypes>();
  t["DescribeAvailabilityZones"] =
      Bind<ParseDescribeAvailabilityZones, RunDescribeAvailabilityZones>();
}

}  // namespace minicloud::query
