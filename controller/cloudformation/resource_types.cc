#include "controller/cloudformation/resource_types.h"

#include <algorithm>

namespace minicloud::cloudformation {
namespace {

using K = ValueKind;

std::vector<ResourceTypeSpec> BuildTable() {
  std::vector<ResourceTypeSpec> t;
  // AWS::EC2::Instance. ImageId is required here: CloudFormation also accepts a LaunchTemplate
  // instead, which minicloud does not support.
  t.push_back(ResourceTypeSpec{
      .type = "AWS::EC2::Instance",
      .properties =
          {
              {"ImageId", K::kString, true},
              {"InstanceType", K::kString},
              {"KeyName", K::kString},
              {"UserData", K::kString},
              {"AvailabilityZone", K::kString},
              {"PlacementGroupName", K::kString},
              {"SubnetId", K::kString},
              {"SecurityGroupIds", K::kList},
              {"SecurityGroups", K::kList},
              {"IamInstanceProfile", K::kString},
              {"MetadataOptions", K::kObject},
              {"BlockDeviceMappings", K::kList},
              {"Volumes", K::kList},
              {"DisableApiTermination", K::kBoolean},
              {"InstanceInitiatedShutdownBehavior", K::kString},
              {"EbsOptimized", K::kBoolean},
              {"Monitoring", K::kBoolean},
              {"PrivateIpAddress", K::kString},
              {"CreditSpecification", K::kObject},
              {"KernelId", K::kString},
              {"RamdiskId", K::kString},
              {"Tags", K::kList},
          },
      .unsupported = {"AdditionalInfo", "Affinity", "CpuOptions", "ElasticGpuSpecifications",
                      "ElasticInferenceAccelerators", "EnclaveOptions", "HibernationOptions",
                      "HostId", "HostResourceGroupArn", "Ipv6AddressCount", "Ipv6Addresses",
                      "LaunchTemplate", "LicenseSpecifications", "NetworkInterfaces",
                      "PrivateDnsNameOptions", "PropagateTagsToVolumeOnCreation", "SourceDestCheck",
                      "SsmAssociations", "Tenancy"},
      .read_only = {"InstanceId", "PrivateIp", "PublicDnsName", "PublicIp", "PrivateDnsName",
                    "VpcId", "State"},
      .attributes = {"AvailabilityZone", "InstanceId", "PrivateDnsName", "PrivateIp",
                     "PublicDnsName", "PublicIp", "VpcId"},
      .ref = "the instance id",
      .resource_signal = true,
  });
  t.push_back(ResourceTypeSpec{
      .type = "AWS::EC2::KeyPair",
      .properties =
          {
              {"KeyName", K::kString, true},
              {"KeyType", K::kString},
              {"KeyFormat", K::kString},
              {"PublicKeyMaterial", K::kString},
              {"Tags", K::kList},
          },
      .read_only = {"KeyPairId", "KeyFingerprint"},
      .attributes = {"KeyFingerprint", "KeyPairId"},
      .ref = "the key name",
  });
  // GroupName is read-only: CloudFormation names the group.
  t.push_back(ResourceTypeSpec{
      .type = "AWS::EC2::PlacementGroup",
      .properties =
          {
              {"Strategy", K::kString},
              {"PartitionCount", K::kInteger},
              {"SpreadLevel", K::kString},
              {"Tags", K::kList},
          },
      .read_only = {"GroupName"},
      .attributes = {"GroupName"},
      .ref = "the group name",
  });
  // AvailabilityZone is required here: CloudFormation also accepts AvailabilityZoneId.
  t.push_back(ResourceTypeSpec{
      .type = "AWS::EC2::Volume",
      .properties =
          {
              {"AvailabilityZone", K::kString, true},
              {"Size", K::kInteger},
              {"SnapshotId", K::kString},
              {"VolumeType", K::kString},
              {"Iops", K::kInteger},
              {"Throughput", K::kInteger},
              {"Encrypted", K::kBoolean},
              {"KmsKeyId", K::kString},
              {"MultiAttachEnabled", K::kBoolean},
              {"AutoEnableIO", K::kBoolean},
              {"Tags", K::kList},
          },
      .unsupported = {"AvailabilityZoneId", "OutpostArn", "SourceVolumeId",
                      "VolumeInitializationRate"},
      .read_only = {"VolumeId"},
      .attributes = {"VolumeId"},
      .ref = "the volume id",
      .snapshot = true,
  });
  t.push_back(ResourceTypeSpec{
      .type = "AWS::EC2::VolumeAttachment",
      .properties =
          {
              {"InstanceId", K::kString, true},
              {"VolumeId", K::kString, true},
              {"Device", K::kString},
          },
      .unsupported = {"EbsCardIndex"},
      .ref = "the attachment's physical id",
  });
  t.push_back(ResourceTypeSpec{
      .type = "AWS::CloudFormation::WaitCondition",
      .properties =
          {
              {"Handle", K::kString},
              {"Timeout", K::kString},
              {"Count", K::kInteger},
          },
      .read_only = {"Data", "Id"},
      .attributes = {"Data", "Id"},
      .ref = "the wait condition's name",
      .resource_signal = true,
  });
  t.push_back(ResourceTypeSpec{
      .type = "AWS::CloudFormation::WaitConditionHandle",
      .read_only = {"Id"},
      .attributes = {"Id"},
      .ref = "the presigned URL a signal is sent to",
  });
  return t;
}

}  // namespace

absl::string_view ValueKindName(ValueKind kind) {
  switch (kind) {
    case ValueKind::kString:
      return "a string";
    case ValueKind::kInteger:
      return "an integer";
    case ValueKind::kBoolean:
      return "a boolean";
    case ValueKind::kList:
      return "a list";
    case ValueKind::kObject:
      return "an object";
  }
  return "a value";
}

const std::vector<ResourceTypeSpec>& ResourceTypes() {
  static const auto* table = new std::vector<ResourceTypeSpec>(BuildTable());
  return *table;
}

const ResourceTypeSpec* FindResourceType(absl::string_view type) {
  for (const ResourceTypeSpec& spec : ResourceTypes()) {
    if (spec.type == type) return &spec;
  }
  return nullptr;
}

const PropertySpec* FindProperty(const ResourceTypeSpec& spec, absl::string_view name) {
  const auto it = std::find_if(spec.properties.begin(), spec.properties.end(),
                               [&](const PropertySpec& p) { return p.name == name; });
  return it == spec.properties.end() ? nullptr : &*it;
}

}  // namespace minicloud::cloudformation
