#include "agent/runtime/guest_metadata.h"

#include "absl/strings/str_cat.h"
#include "common/tags.h"

namespace minicloud::agent {
namespace {

absl::Status Unset(const v1::DesiredInstance& want, absl::string_view field, int value) {
  return absl::InvalidArgumentError(absl::StrCat("desired metadata of ", want.instance_id(), ": ",
                                                 field, " is not a known value (", value, ")"));
}

}  // namespace

absl::StatusOr<metadata::InstanceMetadata> ToInstanceMetadata(const v1::DesiredInstance& want) {
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
  m.architecture = g.architecture();
  m.ami_launch_index = g.ami_launch_index();
  m.hostname = n.private_dns_name();
  m.local_hostname = n.private_dns_name();
  m.local_ipv4 = n.private_ip();
  m.mac = n.mac();
  m.interface_id = n.interface_id();
  m.subnet_id = n.subnet_id();
  m.subnet_ipv4_cidr_block = n.subnet_cidr();
  m.vpc_id = n.vpc_id();
  m.vpc_ipv4_cidr_block = g.vpc_cidr();
  for (const auto& sg : g.security_groups()) {
    m.security_groups.push_back({sg.group_id(), sg.group_name()});
  }
  if (!g.key_name().empty()) m.public_keys.push_back({g.key_name(), g.public_key()});
  for (const auto& [k, v] : g.tags()) m.tags[k] = v;
  if (g.has_user_data()) m.user_data = g.user_data();
  m.pending_time = absl::FromUnixMillis(g.pending_time_ms());
  if (!g.placement_group().empty()) m.placement_group_name = g.placement_group();
  if (g.partition_number() > 0) m.placement_partition_number = g.partition_number();
  m.block_device_mapping.ami = g.root_device_name();
  m.block_device_mapping.root = g.root_device_name();
  // The instance-store volumes the controller decided (controller/service/block_device_mapping.h).
  for (const v1::DesiredInstanceStoreDisk& d : want.instance_store()) {
    m.block_device_mapping.ephemeral.push_back({d.virtual_name(), d.device_name()});
  }
  m.identity = {g.identity_document(), g.identity_signature(), g.identity_pkcs7(),
                g.identity_rsa2048()};

  switch (g.http_tokens()) {
    case v1::HTTP_TOKENS_OPTIONAL:
      m.options.http_tokens = metadata::HttpTokens::kOptional;
      break;
    case v1::HTTP_TOKENS_REQUIRED:
      m.options.http_tokens = metadata::HttpTokens::kRequired;
      break;
    default:
      return Unset(want, "http_tokens", g.http_tokens());
  }
  switch (g.http_endpoint()) {
    case v1::HTTP_ENDPOINT_ENABLED:
      m.options.http_endpoint = metadata::HttpEndpoint::kEnabled;
      break;
    case v1::HTTP_ENDPOINT_DISABLED:
      m.options.http_endpoint = metadata::HttpEndpoint::kDisabled;
      break;
    default:
      return Unset(want, "http_endpoint", g.http_endpoint());
  }
  switch (g.instance_metadata_tags()) {
    case v1::INSTANCE_METADATA_TAGS_ENABLED:
      m.options.instance_metadata_tags = metadata::InstanceMetadataTags::kEnabled;
      break;
    case v1::INSTANCE_METADATA_TAGS_DISABLED:
      m.options.instance_metadata_tags = metadata::InstanceMetadataTags::kDisabled;
      break;
    default:
      return Unset(want, "instance_metadata_tags", g.instance_metadata_tags());
  }
  if (m.options.instance_metadata_tags == metadata::InstanceMetadataTags::kEnabled) {
    // Each key becomes a path segment of tags/instance/: the controller's rule, checked again.
    for (const auto& [k, v] : m.tags) {
      if (absl::Status s = CheckTag(k, v, TagUse::kInstanceMetadata); !s.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("desired metadata of ", want.instance_id(), ": ", s.message()));
      }
    }
  }
  if (!g.iam_role_name().empty()) {
    // Credentials are attached by the agent once fetched (Agent's credentials loop).
    m.iam = metadata::IamProfile{g.iam_instance_profile_arn(), g.iam_instance_profile_id(),
                                 g.iam_role_name(), std::nullopt};
  }
  // Passed on as it is; ValidateInstanceMetadata refuses one outside 1..64 (0 included).
  m.options.http_put_response_hop_limit = g.hop_limit();
  return m;
}

}  // namespace minicloud::agent
