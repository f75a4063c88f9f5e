#include "controller/query/instance_xml.h"

#include "common/ec2_names.h"
#include "controller/query/xml.h"

namespace minicloud::query {
namespace {

void WriteState(XmlNode node, const v1::InstanceState& s) {
  Int(node, "code", s.code());
  Text(node, "name", s.name());
}

}  // namespace

void WriteTags(XmlNode parent, const google::protobuf::RepeatedPtrField<v1::Tag>& tags) {
  if (tags.empty()) return;
  XmlNode set = Child(parent, "tagSet");
  for (const v1::Tag& t : tags) {
    XmlNode item = Item(set);
    Text(item, "key", t.key());
    Text(item, "value", t.value());
  }
}

void WriteMetadataOptions(XmlNode node, const v1::InstanceMetadataOptions& o) {
  TextIfSet(node, "state", MetadataOptionsStateName(o.state()));
  TextIfSet(node, "httpTokens", HttpTokensName(o.http_tokens()));
  if (o.http_put_response_hop_limit() > 0) {
    Int(node, "httpPutResponseHopLimit", o.http_put_response_hop_limit());
  }
  TextIfSet(node, "httpEndpoint", HttpEndpointName(o.http_endpoint()));
  TextIfSet(node, "httpProtocolIpv6", HttpProtocolIpv6Name(o.http_protocol_ipv6()));
  TextIfSet(node, "instanceMetadataTags", InstanceMetadataTagsName(o.instance_metadata_tags()));
}

void WriteInstance(XmlNode item, const v1::Instance& i) {
  Text(item, "instanceId", i.instance_id());
  Text(item, "imageId", i.image_id());
  WriteState(Child(item, "instanceState"), i.state());
  Text(item, "privateDnsName", i.private_dns_name());
  Text(item, "dnsName", "");  // no public addresses
  Text(item, "reason", i.state_transition_reason());
  TextIfSet(item, "keyName", i.key_name());
  Int(item, "amiLaunchIndex", i.ami_launch_index());
  Child(item, "productCodes");
  Text(item, "instanceType", i.instance_type());
  if (i.has_launch_time()) Time(item, "launchTime", i.launch_time());
  XmlNode placement = Child(item, "placement");
  Text(placement, "availabilityZone", i.placement().availability_zone());
  Text(placement, "groupName", i.placement().group_name());
  if (i.placement().partition_number() > 0) {
    Int(placement, "partitionNumber", i.placement().partition_number());
  }
  // EC2 names a dedicated host here; minicloud names the host the instance runs on.
  TextIfSet(placement, "hostId", i.placement().host_id());
  Text(placement, "tenancy", i.placement().tenancy().empty() ? "default" : i.placement().tenancy());
  Text(Child(item, "monitoring"), "state", "disabled");
  TextIfSet(item, "subnetId", i.subnet_id());
  TextIfSet(item, "vpcId", i.vpc_id());
  TextIfSet(item, "privateIpAddress", i.private_ip_address());
  Bool(item, "sourceDestCheck", true);
  Child(item, "groupSet");
  if (!i.state_reason().code().empty()) {
    XmlNode reason = Child(item, "stateReason");
    Text(reason, "code", i.state_reason().code());
    Text(reason, "message", i.state_reason().message());
  }
  TextIfSet(item, "architecture", i.architecture());
  TextIfSet(item, "rootDeviceType", i.root_device_type());
  TextIfSet(item, "rootDeviceName", i.root_device_name());
  // botocore InstanceBlockDeviceMapping / EbsInstanceBlockDevice (locationNames deviceName, ebs,
  // volumeId, status, attachTime, deleteOnTermination).
  XmlNode devices = Child(item, "blockDeviceMapping");
  for (const v1::InstanceBlockDeviceMapping& m : i.block_device_mappings()) {
    XmlNode d = Item(devices);
    Text(d, "deviceName", m.device_name());
    XmlNode ebs = Child(d, "ebs");
    Text(ebs, "volumeId", m.ebs().volume_id());
    Text(ebs, "status", m.ebs().status());
    Time(ebs, "attachTime", m.ebs().attach_time());
    Bool(ebs, "deleteOnTermination", m.ebs().delete_on_termination());
  }
  Text(item, "virtualizationType", "hvm");
  TextIfSet(item, "clientToken", i.client_token());
  WriteTags(item, i.tags());
  TextIfSet(item, "hypervisor", i.hypervisor());
  if (i.has_iam_instance_profile()) {
    // botocore's IamInstanceProfile: locationNames arn, id.
    XmlNode profile = Child(item, "iamInstanceProfile");
    Text(profile, "arn", i.iam_instance_profile().arn());
    Text(profile, "id", i.iam_instance_profile().id());
  }
  XmlNode nics = Child(item, "networkInterfaceSet");
  if (!i.network_interface_id().empty()) {
    XmlNode nic = Item(nics);
    Text(nic, "networkInterfaceId", i.network_interface_id());
    TextIfSet(nic, "subnetId", i.subnet_id());
    TextIfSet(nic, "vpcId", i.vpc_id());
    Text(nic, "status", "in-use");
    TextIfSet(nic, "macAddress", i.mac_address());
    TextIfSet(nic, "privateIpAddress", i.private_ip_address());
    TextIfSet(nic, "privateDnsName", i.private_dns_name());
    Bool(nic, "sourceDestCheck", true);
    XmlNode attachment = Child(nic, "attachment");
    Int(attachment, "deviceIndex", 0);
    Text(attachment, "status", "attached");
    Bool(attachment, "deleteOnTermination", true);
    if (!i.private_ip_address().empty()) {
      XmlNode ip = Item(Child(nic, "privateIpAddressesSet"));
      Text(ip, "privateIpAddress", i.private_ip_address());
      TextIfSet(ip, "privateDnsName", i.private_dns_name());
      Bool(ip, "primary", true);
    }
  }
  Bool(item, "ebsOptimized", false);
  // botocore Instance.HibernationOptions (locationName hibernationOptions/configured).
  Bool(Child(item, "hibernationOptions"), "configured", i.hibernation_options().configured());
  if (i.has_metadata_options())
    WriteMetadataOptions(Child(item, "metadataOptions"), i.metadata_options());
}

void WriteReservationBody(XmlNode node, const v1::Reservation& r) {
  Text(node, "reservationId", r.reservation_id());
  Text(node, "ownerId", r.owner_id());
  Child(node, "groupSet");
  XmlNode set = Child(node, "instancesSet");
  for (const v1::Instance& i : r.instances()) WriteInstance(Item(set), i);
}

void WriteStateChanges(XmlNode parent,
                       const google::protobuf::RepeatedPtrField<v1::InstanceStateChange>& changes) {
  XmlNode set = Child(parent, "instancesSet");
  for (const v1::InstanceStateChange& c : changes) {
    XmlNode item = Item(set);
    Text(item, "instanceId", c.instance_id());
    WriteState(Child(item, "currentState"), c.current_state());
    WriteState(Child(item, "previousState"), c.previous_state());
  }
}

}  // namespace minicloud::query
