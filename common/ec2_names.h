#pragma once

// The one mapping between minicloud's typed option enums (proto/minicloud/v1/common.proto) and
// the strings EC2 puts on the wire ("required", "cluster", ...). The controller's error messages
// and the CLI (flags in, JSON out) both go through it.
//
// Parse*(text, parameter) returns the enum for an EC2 name, or InvalidParameterValue naming the
// parameter, the value and the allowed names as EC2 words it. It never returns UNSPECIFIED.
// *Name(value) returns the EC2 name; "" for UNSPECIFIED or a number outside the enum.

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "minicloud/v1/common.pb.h"
#include "minicloud/v1/snapshots.pb.h"
#include "minicloud/v1/volumes.pb.h"

namespace minicloud {

absl::StatusOr<v1::HttpTokens> ParseHttpTokens(absl::string_view text,
                                               absl::string_view parameter = "HttpTokens");
absl::StatusOr<v1::HttpEndpoint> ParseHttpEndpoint(absl::string_view text,
                                                   absl::string_view parameter = "HttpEndpoint");
absl::StatusOr<v1::InstanceMetadataTags> ParseInstanceMetadataTags(
    absl::string_view text, absl::string_view parameter = "InstanceMetadataTags");
absl::StatusOr<v1::HttpProtocolIpv6> ParseHttpProtocolIpv6(
    absl::string_view text, absl::string_view parameter = "HttpProtocolIpv6");
absl::StatusOr<v1::MetadataOptionsState> ParseMetadataOptionsState(
    absl::string_view text, absl::string_view parameter = "State");
absl::StatusOr<v1::PlacementStrategy> ParsePlacementStrategy(
    absl::string_view text, absl::string_view parameter = "strategy");
absl::StatusOr<v1::SpreadLevel> ParseSpreadLevel(absl::string_view text,
                                                 absl::string_view parameter = "SpreadLevel");

std::string HttpTokensName(v1::HttpTokens v);
std::string HttpEndpointName(v1::HttpEndpoint v);
std::string InstanceMetadataTagsName(v1::InstanceMetadataTags v);
std::string HttpProtocolIpv6Name(v1::HttpProtocolIpv6 v);
std::string MetadataOptionsStateName(v1::MetadataOptionsState v);
std::string PlacementStrategyName(v1::PlacementStrategy v);
std::string SpreadLevelName(v1::SpreadLevel v);

// The EC2 names of an enum's values for error messages: "'cluster', 'spread' or 'partition'".
std::string AllowedHttpTokens();
std::string AllowedHttpEndpoint();
std::string AllowedInstanceMetadataTags();
std::string AllowedHttpProtocolIpv6();
std::string AllowedPlacementStrategies();
std::string AllowedSpreadLevels();

// InvalidParameterValue for a typed value that is not one of the enum's named values (a number a
// client put on the wire that this build does not know).
absl::Status InvalidEnumValue(int value, absl::string_view parameter, absl::string_view allowed);

// EBS volumes: "in-use", "attaching", "optimizing", ...
absl::string_view VolumeStateName(v1::VolumeState s);
absl::string_view AttachmentStateName(v1::AttachmentState s);
absl::string_view ModificationStateName(v1::ModificationState s);
// EBS snapshots: "pending", "completed", "error" ("deleting" is minicloud's own, never shown).
absl::string_view SnapshotStateName(v1::SnapshotState s);

}  // namespace minicloud
