#pragma once

// The instance both IMDS fuzz targets serve. Its options come from the input's first byte:
//   0x01 tokens required   0x02 endpoint disabled   0x04 tags in metadata
//   0x10 no user data      0x40 no public keys      0x80 hop limit 64 (else 1)
// The tag value and the user data are the caller's, so a target can plant hostile bytes in them.

#include <cstdint>
#include <string>

#include "agent/metadata/handler.h"

namespace minicloud::metadata::fuzz {

inline const TokenAuthority& SampleAuthority() {
  static const TokenAuthority a = *TokenAuthority::WithKey(std::string(32, 'f'));
  return a;
}

inline InstanceMetadata SampleInstance(uint8_t bits, const std::string& tag_value,
                                       const std::string& user_data) {
  InstanceMetadata m;
  m.instance_id = "i-0123456789abcdef0";
  m.image_id = "ami-0abcdef1234567890";
  m.instance_type = "t3.micro";
  m.reservation_id = "r-0";
  m.account_id = "123456789012";
  m.region = "eu-west-1";
  m.availability_zone = "eu-west-1a";
  m.local_ipv4 = "10.0.0.5";
  m.hostname = m.local_hostname = Ec2PrivateDnsName(m.local_ipv4, m.region);
  m.mac = "02:00:0a:00:00:05";
  m.security_groups = {{"sg-1", "default"}};
  if (!(bits & 0x40)) m.public_keys = {{"k", "ssh-ed25519 AAAA k"}};
  m.tags = {{"Name", "x"}, {"a b", tag_value}};
  if (!(bits & 0x10)) m.user_data = user_data;
  m.identity = {"{}", "sig", "p7", "rsa"};
  m.placement_group_name = "pg";
  m.placement_partition_number = 1;
  m.options.http_tokens = (bits & 0x01) ? HttpTokens::kRequired : HttpTokens::kOptional;
  m.options.http_endpoint = (bits & 0x02) ? HttpEndpoint::kDisabled : HttpEndpoint::kEnabled;
  m.options.instance_metadata_tags =
      (bits & 0x04) ? InstanceMetadataTags::kEnabled : InstanceMetadataTags::kDisabled;
  m.options.http_put_response_hop_limit = 1 + (bits >> 7) * 63;
  return m;
}

}  // namespace minicloud::metadata::fuzz
