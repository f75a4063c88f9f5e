#pragma once

// The per-instance record the metadata service serves. Plain data, no I/O: the controller (or
// the agent's runtime) fills it in at launch, the agent publishes it as
// std::shared_ptr<const InstanceMetadata>, and the pure handler (handler.h) renders it.
//
// What each field becomes in the IMDS tree is described next to it; the tree itself and its EC2
// sources are documented in handler.cc.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/instance_limits.h"

namespace minicloud::metadata {

// EC2 MetadataOptions (RunInstances / ModifyInstanceMetadataOptions).
enum class HttpTokens { kOptional, kRequired };
enum class HttpEndpoint { kEnabled, kDisabled };
enum class InstanceMetadataTags { kDisabled, kEnabled };

struct MetadataOptions {
  HttpTokens http_tokens = HttpTokens::kOptional;
  HttpEndpoint http_endpoint = HttpEndpoint::kEnabled;
  // IP TTL / IPv6 hop limit of token (PUT) responses. EC2 range 1..64, default 1.
  int http_put_response_hop_limit = 1;
  InstanceMetadataTags instance_metadata_tags = InstanceMetadataTags::kDisabled;
};

// EC2's limits, shared with the controller's validation (common/instance_limits.h).
using limits::kMaxHopLimit;
using limits::kMaxPartitions;
using limits::kMaxUserDataBytes;
using limits::kMinHopLimit;

struct PublicKey {
  std::string name;         // EC2 key pair name: listed as `0=<name>` under public-keys/
  std::string openssh_key;  // served verbatim at public-keys/<i>/openssh-key
};

struct SecurityGroup {
  std::string id;    // sg-…  (network/interfaces/macs/<mac>/security-group-ids)
  std::string name;  // (security-groups, network/interfaces/macs/<mac>/security-groups)
};

// The signed instance identity document, precomputed by the controller's IdentitySigner
// (identity_signer.h). Agents serve these strings verbatim under dynamic/instance-identity/.
struct IdentityDocument {
  std::string document;   // JSON text
  std::string signature;  // base64 RSA-SHA256 over `document`
  std::string pkcs7;      // base64 PKCS#7 SignedData (content embedded), no PEM armour
  std::string rsa2048;    // same form as pkcs7, RSA-2048 signer
};

// One instance-store volume as IMDS lists it: block-device-mapping/ephemeral0 => sdb.
struct EphemeralDevice {
  std::string virtual_name;  // "ephemeral0"
  std::string device_name;   // "sdb"
};

struct BlockDeviceMapping {
  std::string ami = "/dev/xvda";           // block-device-mapping/ami
  std::string root = "/dev/xvda";          // block-device-mapping/root
  std::vector<EphemeralDevice> ephemeral;  // block-device-mapping/ephemeralN, in order
};

// Short-lived credentials of the instance profile, served under
// iam/security-credentials/<role> (the agent fetches and refreshes them; see agent/README).
struct IamCredentials {
  std::string access_key_id;  // ASIA…
  std::string secret_access_key;
  std::string token;
  absl::Time last_updated = absl::UnixEpoch();
  absl::Time expiration = absl::UnixEpoch();
};

// The instance profile: iam/info, and the role under iam/security-credentials/.
struct IamProfile {
  std::string instance_profile_arn;
  std::string instance_profile_id;
  std::string role_name;  // a path segment: 1..128 of [A-Za-z0-9+=,.@_-]
  // nullopt until the agent has fetched them: the iam/ tree is served only with credentials.
  std::optional<IamCredentials> credentials;
};

struct InstanceMetadata {
  std::string instance_id;                          // i-…
  std::string image_id;                             // ami-…
  std::string instance_type;                        // t3.micro
  std::string reservation_id;                       // r-…
  std::string account_id;                           // 12 digits; also owner-id of the interface
  std::string region;                               // us-east-1
  std::string availability_zone;                    // us-east-1a
  std::optional<std::string> availability_zone_id;  // use1-az1
  std::string architecture = "x86_64";              // identity document only
  int ami_launch_index = 0;
  std::string instance_life_cycle = "on-demand";  // or "spot"

  // Primary network interface (device 0).
  std::string hostname;  // EC2 style, see Ec2PrivateDnsName()
  std::string local_hostname;
  std::string local_ipv4;
  std::string mac;           // lowercase, colon separated
  std::string interface_id;  // eni-…
  std::string subnet_id;
  std::optional<std::string> subnet_ipv4_cidr_block;  // 10.0.0.0/24
  std::string vpc_id;
  std::optional<std::string> vpc_ipv4_cidr_block;  // 10.0.0.0/16
  int device_number = 0;

  std::vector<SecurityGroup> security_groups;
  std::vector<PublicKey> public_keys;
  std::map<std::string, std::string> tags;  // served only with InstanceMetadataTags=enabled
  std::optional<std::string> user_data;     // raw bytes (already base64-decoded); nullopt = none

  absl::Time pending_time = absl::UnixEpoch();
  std::optional<std::string> placement_group_name;
  std::optional<int> placement_partition_number;
  BlockDeviceMapping block_device_mapping;

  std::string services_domain = "amazonaws.com";
  std::string services_partition = "aws";

  IdentityDocument identity;
  MetadataOptions options;
  std::optional<IamProfile> iam;  // nullopt: launched without an instance profile
};

// EC2 IP-based private DNS name: "ip-10-0-0-5.eu-west-1.compute.internal"; us-east-1 uses the
// legacy "ip-10-0-0-5.ec2.internal". (AWS VPC user guide, "DNS hostnames".)
std::string Ec2PrivateDnsName(absl::string_view ipv4, absl::string_view region);

// Checks the invariants the handler relies on (non-empty instance id, hop limit 1..64, user data
// at most 16 KiB, partition number 1..7). InvalidArgument naming the field otherwise. The agent
// calls it on every record it is about to publish (launch, desired-state refresh, re-adoption
// from disk) and refuses what fails.
absl::Status ValidateInstanceMetadata(const InstanceMetadata& m);

}  // namespace minicloud::metadata
