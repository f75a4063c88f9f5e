#include "cli/shorthand.h"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "cli/verb.h"
#include "common/ec2_names.h"

namespace minicloud::cli {

std::string ReadBlobArg(const std::string& value, const std::string& what) {
  for (const char* prefix : {"fileb://", "file://"}) {
    if (absl::StartsWith(value, prefix)) {
      std::string path = value.substr(std::string(prefix).size());
      std::ifstream f(path, std::ios::binary);
      if (!f)
        throw UsageError("Error parsing parameter '" + what + "': Unable to load paramfile " +
                         value + ": cannot read '" + path + "'");
      std::ostringstream ss;
      ss << f.rdbuf();
      return ss.str();
    }
  }
  return value;
}

v1::Filter ParseFilter(const std::string& text) {
  auto values_at = text.find(",Values=");
  if (!absl::StartsWith(text, "Name=") || values_at == std::string::npos) {
    throw UsageError(
        "Error parsing parameter '--filters': expected Name=<name>,Values=<v1>,<v2>, "
        "got '" +
        text + "'");
  }
  v1::Filter f;
  f.set_name(text.substr(5, values_at - 5));
  for (auto v : absl::StrSplit(text.substr(values_at + 8), ',')) f.add_values(std::string(v));
  return f;
}

v1::InstanceMetadataOptions ParseMetadataOptions(const std::string& text) {
  v1::InstanceMetadataOptions o;
  for (auto item : absl::StrSplit(text, ',')) {
    std::vector<std::string> kv = absl::StrSplit(item, absl::MaxSplits('=', 1));
    if (kv.size() != 2)
      throw UsageError("Error parsing parameter '--metadata-options': '" + std::string(item) + "'");
    constexpr const char* kRun = "RunInstances";
    if (kv[0] == "HttpTokens")
      o.set_http_tokens(NamedOrThrow(ParseHttpTokens(kv[1]), kRun));
    else if (kv[0] == "HttpEndpoint")
      o.set_http_endpoint(NamedOrThrow(ParseHttpEndpoint(kv[1]), kRun));
    else if (kv[0] == "InstanceMetadataTags")
      o.set_instance_metadata_tags(NamedOrThrow(ParseInstanceMetadataTags(kv[1]), kRun));
    else if (kv[0] == "HttpProtocolIpv6")
      o.set_http_protocol_ipv6(NamedOrThrow(ParseHttpProtocolIpv6(kv[1]), kRun));
    else if (kv[0] == "HttpPutResponseHopLimit") {
      try {
        o.set_http_put_response_hop_limit(std::stoi(kv[1]));
      } catch (const std::exception&) {
        throw UsageError(
            "Error parsing parameter '--metadata-options': HttpPutResponseHopLimit "
            "must be a number");
      }
    } else {
      throw UsageError("Error parsing parameter '--metadata-options': unknown key '" + kv[0] + "'");
    }
  }
  return o;
}

v1::Placement ParsePlacement(const std::string& text) {
  v1::Placement p;
  for (auto item : absl::StrSplit(text, ',')) {
    std::vector<std::string> kv = absl::StrSplit(item, absl::MaxSplits('=', 1));
    if (kv.size() != 2)
      throw UsageError("Error parsing parameter '--placement': '" + std::string(item) + "'");
    if (kv[0] == "AvailabilityZone") {
      p.set_availability_zone(kv[1]);
    } else if (kv[0] == "GroupName") {
      p.set_group_name(kv[1]);
    } else if (kv[0] == "PartitionNumber") {
      int n = 0;
      if (!absl::SimpleAtoi(kv[1], &n)) {
        throw UsageError("Error parsing parameter '--placement': PartitionNumber must be a number");
      }
      p.set_partition_number(n);
    } else if (kv[0] == "Tenancy") {
      if (kv[1] != "default") {
        throw UsageError("Error parsing parameter '--placement': only Tenancy=default exists here");
      }
    } else {
      throw UsageError("Error parsing parameter '--placement': unknown key '" + kv[0] + "'");
    }
  }
  return p;
}

v1::IamInstanceProfileSpecification ParseIamInstanceProfile(const std::string& text) {
  v1::IamInstanceProfileSpecification spec;
  for (auto item : absl::StrSplit(text, ',')) {
    std::vector<std::string> kv = absl::StrSplit(item, absl::MaxSplits('=', 1));
    if (kv.size() == 2 && kv[0] == "Name") {
      spec.set_name(kv[1]);
    } else if (kv.size() == 2 && kv[0] == "Arn") {
      spec.set_arn(kv[1]);
    } else {
      throw UsageError(
          "Error parsing parameter '--iam-instance-profile': expected Name=<name> "
          "or Arn=<arn>, got '" +
          std::string(item) + "'");
    }
  }
  return spec;
}

v1::Tag ParseTag(const std::string& text) {
  auto value_at = text.find(",Value=");
  if (text.rfind("Key=", 0) != 0)
    throw UsageError("Error parsing parameter '--tags': expected Key=<k>,Value=<v>");
  v1::Tag t;
  t.set_key(text.substr(4, value_at == std::string::npos ? std::string::npos : value_at - 4));
  if (value_at != std::string::npos) t.set_value(text.substr(value_at + 7));
  return t;
}

std::pair<int, int> ParseCountRange(const std::string& text) {
  auto error = [&] {
    return UsageError("Error parsing parameter '--count': expected N or MIN:MAX, got '" + text +
                      "'");
  };
  std::vector<std::string> parts = absl::StrSplit(text, ':');
  if (parts.size() > 2) throw error();
  int numbers[2] = {0, 0};
  for (size_t i = 0; i < parts.size(); ++i) {
    const std::string& p = parts[i];
    // SimpleAtoi alone would take surrounding spaces and a sign.
    if (p.empty() || p.size() > 9 || !std::all_of(p.begin(), p.end(), absl::ascii_isdigit) ||
        !absl::SimpleAtoi(p, &numbers[i])) {
      throw error();
    }
  }
  if (parts.size() == 1) numbers[1] = numbers[0];
  return {numbers[0], numbers[1]};
}

}  // namespace minicloud::cli
