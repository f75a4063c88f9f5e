#include "agent/runtime/guest_metadata.h"

namespace minicloud::agent {

metadata::InstanceMetadata ToInstanceMetadata(const v1::DesiredInstance& want) {
  const v1::GuestMetadata& g = want.metadata();
  const v1::GuestNetwork& n = want.network();
  metadata::InstanceMetadata m;
  m.instance_id = want.instance_id();
  m.image_id = g.image_id();
  m.instance_type = want.instance_type();
  m.reservation_id = g.reservation_id();
  m.account_id = g.account_id();
  m.region = g.region();
  m.availability_zone = g.availability_zone();
  m.architecture = g.architecture().empty() ? "x86_64" : g.architecture();
  m.ami_launch_index = g.ami_launch_index();
  m.hostname = n.private_dns_name();
  m.local_hostname = n.private_dns_name();
  m.local_ipv4 = n.private_ip();
  m.mac = n.mac();
  m.interface_id = n.interface_id();
  m.subnet_id = n.subnet_id();
  m.subnet_ipv4_cidr_block = n.subnet_cidr();
  m.vpc_id = n.vpc_id();
  m.vpc_ipv4_cidr_block = "172.31.0.0/16";
  for (const auto& name : g.security_groups()) m.security_groups.push_back({"sg-default", name});
  if (!g.key_name().empty()) m.public_keys.push_back({g.key_name(), g.public_key()});
  for (const auto& [k, v] : g.tags()) m.tags[k] = v;
  if (g.has_user_data()) m.user_data = g.user_data();
  m.pending_time = absl::FromUnixMillis(g.pending_time_ms());
  if (!g.placement_group().empty()) m.placement_group_name = g.placement_group();
  if (g.partition_number() > 0) m.placement_partition_number = g.partition_number();
  if (!g.root_device_name().empty()) {
    m.block_device_mapping.ami = g.root_device_name();
    m.block_device_mapping.root = g.root_device_name();
  }
  m.identity = {g.identity_document(), g.identity_signature(), g.identity_pkcs7(),
                g.identity_rsa2048()};
  m.options.http_tokens = g.http_tokens() == "required" ? metadata::HttpTokens::kRequired
                                                        : metadata::HttpTokens::kOptional;
  m.options.http_endpoint = g.http_endpoint() == "disabled" ? metadata::HttpEndpoint::kDisabled
                                                            : metadata::HttpEndpoint::kEnabled;
  // 0 is "not set" (EC2's default, 1); anything else is passed on for ValidateInstanceMetadata.
  m.options.http_put_response_hop_limit = g.hop_limit() != 0 ? g.hop_limit() : 1;
  m.options.instance_metadata_tags = g.instance_metadata_tags() == "enabled"
                                         ? metadata::InstanceMetadataTags::kEnabled
                                         : metadata::InstanceMetadataTags::kDisabled;
  return m;
}

}  // namespace minicloud::agent
