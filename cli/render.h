#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "minicloud/v1/compute.pb.h"

namespace minicloud::cli {

// API messages rendered in the JSON shapes `aws ec2` prints (PascalCase keys, ISO-8601 times).
// [{"Key": …, "Value": …}, …] as aws ec2 prints a resource's Tags.
nlohmann::json TagsJson(const google::protobuf::RepeatedPtrField<v1::Tag>& tags);
nlohmann::json InstanceJson(const v1::Instance& i);
nlohmann::json ReservationJson(const v1::Reservation& r);
nlohmann::json PlacementGroupJson(const v1::PlacementGroup& g);
nlohmann::json AvailabilityZoneJson(const v1::AvailabilityZone& z);
nlohmann::json ImageJson(const v1::Image& i);
nlohmann::json InstanceTypeJson(const v1::InstanceTypeInfo& t);
nlohmann::json HostJson(const v1::Host& h);
nlohmann::json StateChangeJson(const v1::InstanceStateChange& c);
std::string Iso8601(const google::protobuf::Timestamp& t);
nlohmann::json MetadataOptionsJson(const v1::InstanceMetadataOptions& o);
std::string Base64(const std::string& bytes);

// A rows-and-columns view of a JSON document for `--output table`: the first array of objects
// found is printed with the given columns (dotted paths into each object).
std::string RenderTable(const nlohmann::json& doc, const std::string& array_key,
                        const std::vector<std::string>& columns);

}  // namespace minicloud::cli
