#pragma once

// The aws CLI's argument shorthands, parsed into request messages. Each throws UsageError with
// the message the aws CLI would print ("Error parsing parameter '--x': ...").

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "cli/compute_api.h"
#include "common/ec2_error.h"
#include "minicloud/v1/compute.pb.h"

namespace minicloud::cli {

// "~" or "~/x" -> $HOME, $HOME/x (as the aws CLI expands paths of file://); else unchanged.
std::string ExpandHome(const std::string& path);

// "file://path" or "fileb://path" reads the file (bytes either way; ~ is the home directory);
// anything else is literal. `what` names the flag in errors.
std::string ReadBlobArg(const std::string& value, const std::string& what);

// --filters: every form of cli/shorthand_parser.h. "Name=instance-state-name,Values=running,
// pending", "Name=tag:Env,Values=[prod,dev]", '[{"Name":"tag-key","Values":["Env"]}]',
// file://filters.json; one filter per shorthand argument, any number in JSON.
std::vector<v1::Filter> ParseFilters(const std::vector<std::string>& args);
// Exactly one filter.
v1::Filter ParseFilter(const std::string& text);

// --tag-specifications "ResourceType=instance,Tags=[{Key=Name,Value=web},{Key=env,Value=x}]"
// (or JSON).
struct TagSpecification {
  std::string resource_type;
  std::vector<v1::Tag> tags;
};
std::vector<TagSpecification> ParseTagSpecifications(const std::vector<std::string>& args);
// The tags of the specifications for `resource_type`; a specification of another type is
// refused as EC2 refuses it (InvalidParameterValue from `operation`, exit 254).
std::vector<v1::Tag> TagsFor(const std::vector<TagSpecification>& specs,
                             const std::string& resource_type, const std::string& operation);

// --block-device-mappings "DeviceName=/dev/sda1,Ebs={VolumeSize=20,VolumeType=gp3}" (or JSON),
// as botocore's BlockDeviceMapping / EbsBlockDevice shapes (run-instances, register-image).
std::vector<v1::BlockDeviceMapping> ParseBlockDeviceMappings(const std::vector<std::string>& args);

// The value of an EC2 name parsed by common/ec2_names.h. A name that is not EC2's is refused as the
// service refuses it (InvalidParameterValue, exit 254), since the typed request cannot carry it.
template <typename T>
T NamedOrThrow(const absl::StatusOr<T>& value, const std::string& operation) {
  if (!value.ok()) {
    throw ServiceError(std::string(Ec2CodeOf(value.status())), operation,
                       std::string(value.status().message()), "");
  }
  return *value;
}

// "HttpTokens=required,HttpPutResponseHopLimit=2" (RunInstances' --metadata-options), or JSON
v1::InstanceMetadataOptions ParseMetadataOptions(const std::string& text);

// "AvailabilityZone=home-1a,GroupName=pg,PartitionNumber=2,Tenancy=default"
v1::Placement ParsePlacement(const std::string& text);

// "Configured=true" (RunInstances' --hibernation-options), or JSON {"Configured": true}.
bool ParseHibernationOptions(const std::string& text);

// "Key=Name,Value=web" or {"Key": "Name", "Value": "web"}
v1::Tag ParseTag(const std::string& text);

// --iam-instance-profile "Name=web" / "Arn=arn:aws:iam::…:instance-profile/web".
v1::IamInstanceProfileSpecification ParseIamInstanceProfile(const std::string& text);

// --count of run-instances and describe-placement: "N" -> {N, N}, "MIN:MAX" -> {MIN, MAX}.
// Each number is 1 to 9 decimal digits and nothing else: "1x", "1:2:3", " 1", "+1", "1:" and
// "-1" are usage errors.
std::pair<int, int> ParseCountRange(const std::string& text);

}  // namespace minicloud::cli
