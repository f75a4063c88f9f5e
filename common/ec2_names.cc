#include "common/ec2_names.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/ec2_error.h"

namespace minicloud {
namespace {

template <typename E>
struct NameTable {
  std::initializer_list<std::pair<E, const char*>> entries;

  absl::StatusOr<E> Parse(absl::string_view text, absl::string_view parameter) const {
    for (const auto& [value, name] : entries) {
      if (text == name) return value;
    }
    return InvalidParameterValue(absl::StrCat("Value (", text, ") for parameter ", parameter,
                                              " is invalid. Expected: ", Allowed(), "."));
  }
  std::string Name(E v) const {
    for (const auto& [value, name] : entries) {
      if (v == value) return name;
    }
    return "";
  }
  std::string Allowed() const {
    std::string out;
    size_t i = 0;
    for (const auto& [value, name] : entries) {
      if (i > 0) absl::StrAppend(&out, i + 1 == entries.size() ? " or " : ", ");
      absl::StrAppend(&out, "'", name, "'");
      ++i;
    }
    return out;
  }
};

// EC2 API reference: InstanceMetadataOptionsRequest, PlacementGroup, CreatePlacementGroup.
constexpr NameTable<v1::HttpTokens> kHttpTokens{{
    {v1::HTTP_TOKENS_OPTIONAL, "optional"},
    {v1::HTTP_TOKENS_REQUIRED, "required"},
}};
constexpr NameTable<v1::HttpEndpoint> kHttpEndpoint{{
    {v1::HTTP_ENDPOINT_ENABLED, "enabled"},
    {v1::HTTP_ENDPOINT_DISABLED, "disabled"},
}};
constexpr NameTable<v1::InstanceMetadataTags> kInstanceMetadataTags{{
    {v1::INSTANCE_METADATA_TAGS_ENABLED, "enabled"},
    {v1::INSTANCE_METADATA_TAGS_DISABLED, "disabled"},
}};
constexpr NameTable<v1::HttpProtocolIpv6> kHttpProtocolIpv6{{
    {v1::HTTP_PROTOCOL_IPV6_ENABLED, "enabled"},
    {v1::HTTP_PROTOCOL_IPV6_DISABLED, "disabled"},
}};
constexpr NameTable<v1::MetadataOptionsState> kMetadataOptionsState{{
    {v1::METADATA_OPTIONS_STATE_PENDING, "pending"},
    {v1::METADATA_OPTIONS_STATE_APPLIED, "applied"},
}};
constexpr NameTable<v1::PlacementStrategy> kPlacementStrategy{{
    {v1::PLACEMENT_STRATEGY_CLUSTER, "cluster"},
    {v1::PLACEMENT_STRATEGY_SPREAD, "spread"},
    {v1::PLACEMENT_STRATEGY_PARTITION, "partition"},
}};
constexpr NameTable<v1::SpreadLevel> kSpreadLevel{{
    {v1::SPREAD_LEVEL_RACK, "rack"},
    {v1::SPREAD_LEVEL_HOST, "host"},
}};

}  // namespace

absl::StatusOr<v1::HttpTokens> ParseHttpTokens(absl::string_view text,
                                               absl::string_view parameter) {
  return kHttpTokens.Parse(text, parameter);
}
absl::StatusOr<v1::HttpEndpoint> ParseHttpEndpoint(absl::string_view text,
                                                   absl::string_view parameter) {
  return kHttpEndpoint.Parse(text, parameter);
}
absl::StatusOr<v1::InstanceMetadataTags> ParseInstanceMetadataTags(absl::string_view text,
                                                                   absl::string_view parameter) {
  return kInstanceMetadataTags.Parse(text, parameter);
}
absl::StatusOr<v1::HttpProtocolIpv6> ParseHttpProtocolIpv6(absl::string_view text,
                                                           absl::string_view parameter) {
  return kHttpProtocolIpv6.Parse(text, parameter);
}
absl::StatusOr<v1::MetadataOptionsState> ParseMetadataOptionsState(absl::string_view text,
                                                                   absl::string_view parameter) {
  return kMetadataOptionsState.Parse(text, parameter);
}
absl::StatusOr<v1::PlacementStrategy> ParsePlacementStrategy(absl::string_view text,
                                                             absl::string_view parameter) {
  return kPlacementStrategy.Parse(text, parameter);
}
absl::StatusOr<v1::SpreadLevel> ParseSpreadLevel(absl::string_view text,
                                                 absl::string_view parameter) {
  return kSpreadLevel.Parse(text, parameter);
}

std::string HttpTokensName(v1::HttpTokens v) { return kHttpTokens.Name(v); }
std::string HttpEndpointName(v1::HttpEndpoint v) { return kHttpEndpoint.Name(v); }
std::string InstanceMetadataTagsName(v1::InstanceMetadataTags v) {
  return kInstanceMetadataTags.Name(v);
}
std::string HttpProtocolIpv6Name(v1::HttpProtocolIpv6 v) { return kHttpProtocolIpv6.Name(v); }
std::string MetadataOptionsStateName(v1::MetadataOptionsState v) {
  return kMetadataOptionsState.Name(v);
}
std::string PlacementStrategyName(v1::PlacementStrategy v) { return kPlacementStrategy.Name(v); }
std::string SpreadLevelName(v1::SpreadLevel v) { return kSpreadLevel.Name(v); }

std::string AllowedHttpTokens() { return kHttpTokens.Allowed(); }
std::string AllowedHttpEndpoint() { return kHttpEndpoint.Allowed(); }
std::string AllowedInstanceMetadataTags() { return kInstanceMetadataTags.Allowed(); }
std::string AllowedHttpProtocolIpv6() { return kHttpProtocolIpv6.Allowed(); }
std::string AllowedPlacementStrategies() { return kPlacementStrategy.Allowed(); }
std::string AllowedSpreadLevels() { return kSpreadLevel.Allowed(); }

absl::Status InvalidEnumValue(int value, absl::string_view parameter, absl::string_view allowed) {
  return InvalidParameterValue(absl::StrCat("Value (", value, ") for parameter ", parameter,
                                            " is invalid. Expected: ", allowed, "."));
}

absl::string_view VolumeStateName(v1::VolumeState s) {
  switch (s) {
    case v1::VOLUME_STATE_CREATING:
      return "creating";
    case v1::VOLUME_STATE_AVAILABLE:
      return "available";
    case v1::VOLUME_STATE_IN_USE:
      return "in-use";
    case v1::VOLUME_STATE_DELETING:
      return "deleting";
    case v1::VOLUME_STATE_DELETED:
      return "deleted";
    case v1::VOLUME_STATE_ERROR:
      return "error";
    default:
      return "";
  }
}

absl::string_view AttachmentStateName(v1::AttachmentState s) {
  switch (s) {
    case v1::ATTACHMENT_STATE_ATTACHING:
      return "attaching";
    case v1::ATTACHMENT_STATE_ATTACHED:
      return "attached";
    case v1::ATTACHMENT_STATE_DETACHING:
      return "detaching";
    case v1::ATTACHMENT_STATE_DETACHED:
      return "detached";
    default:
      return "";
  }
}

absl::string_view ModificationStateName(v1::ModificationState s) {
  switch (s) {
    case v1::MODIFICATION_STATE_MODIFYING:
      return "modifying";
    case v1::MODIFICATION_STATE_OPTIMIZING:
      return "optimizing";
    case v1::MODIFICATION_STATE_COMPLETED:
      return "completed";
    case v1::MODIFICATION_STATE_FAILED:
      return "failed";
    default:
      return "";
  }
}

absl::string_view SnapshotStateName(v1::SnapshotState s) {
  switch (s) {
    case v1::SNAPSHOT_STATE_PENDING:
      return "pending";
    case v1::SNAPSHOT_STATE_COMPLETED:
      return "completed";
    case v1::SNAPSHOT_STATE_ERROR:
      return "error";
    case v1::SNAPSHOT_STATE_DELETING:
      return "deleting";
    default:
      return "";
  }
}

}  // namespace minicloud
