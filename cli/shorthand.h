#pragma once

// The aws CLI's argument shorthands, parsed into request messages. Each throws UsageError with
// the message the aws CLI would print ("Error parsing parameter '--x': ...").

#include <string>
#include <utility>

#include "minicloud/v1/compute.pb.h"

namespace minicloud::cli {

// "file://path" or "fileb://path" reads the file (bytes either way); anything else is literal.
// `what` names the flag in errors.
std::string ReadBlobArg(const std::string& value, const std::string& what);

// "Name=instance-state-name,Values=running,pending"
v1::Filter ParseFilter(const std::string& text);

// "HttpTokens=required,HttpPutResponseHopLimit=2"
v1::InstanceMetadataOptions ParseMetadataOptions(const std::string& text);

// "AvailabilityZone=home-1a,GroupName=pg,PartitionNumber=2,Tenancy=default"
v1::Placement ParsePlacement(const std::string& text);

// "Key=Name,Value=web"
v1::Tag ParseTag(const std::string& text);

// describe-placement's --count: "N" or "MIN:MAX" -> {min, max}.
std::pair<int, int> ParseCountRange(const std::string& text);

}  // namespace minicloud::cli
