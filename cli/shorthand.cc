#include "cli/shorthand.h"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "cli/shorthand_parser.h"
#include "cli/verb.h"
#include "common/ec2_names.h"

namespace minicloud::cli {

std::string ExpandHome(const std::string& path) {
  if (path != "~" && !absl::StartsWith(path, "~/")) return path;
  const char* home = std::getenv("HOME");
  if (home == nullptr || *home == '\0') return path;
  return std::string(home) + path.substr(1);
}

std::string ReadBlobArg(const std::string& value, const std::string& what) {
  for (const char* prefix : {"fileb://", "file://"}) {
    if (absl::StartsWith(value, prefix)) {
      std::string path = ExpandHome(value.substr(std::string(prefix).size()));
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

namespace {

using nlohmann::json;

std::string StringOf(const json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

[[noreturn]] void Bad(const std::string& flag, const std::string& why) {
  throw UsageError("Error parsing parameter '" + flag + "': " + why);
}

// The members of `obj`, each checked against the names the structure has.
void CheckKeys(const json& obj, std::initializer_list<const char*> allowed,
               const std::string& flag) {
  for (const auto& [k, v] : obj.items()) {
    bool ok = false;
    for (const char* a : allowed) ok = ok || k == a;
    if (!ok) Bad(flag, "Unknown parameter \"" + k + "\"");
  }
}

// `arg` is the command-line text the filter came from, for the error.
v1::Filter FilterOf(const json& obj, const std::string& arg) {
  bool known_keys = true;
  for (const auto& [k, v] : obj.items()) known_keys = known_keys && (k == "Name" || k == "Values");
  if (!known_keys || !obj.contains("Name") || !obj["Name"].is_string() || !obj.contains("Values")) {
    Bad("--filters", "expected Name=<name>,Values=<v1>,<v2>, got '" + arg + "'");
  }
  v1::Filter f;
  f.set_name(obj["Name"].get<std::string>());
  const json& values = obj["Values"];
  if (values.is_array()) {
    for (const auto& v : values) f.add_values(StringOf(v));
  } else {
    f.add_values(StringOf(values));
  }
  return f;
}

v1::Tag TagOf(const json& obj, const std::string& flag) {
  CheckKeys(obj, {"Key", "Value"}, flag);
  if (!obj.contains("Key")) Bad(flag, "each tag needs Key=<k>,Value=<v>; got " + obj.dump());
  v1::Tag t;
  t.set_key(StringOf(obj["Key"]));
  if (obj.contains("Value")) t.set_value(StringOf(obj["Value"]));
  return t;
}

}  // namespace

v1::Filter ParseFilter(const std::string& text) {
  const auto filters = ParseFilters({text});
  if (filters.size() != 1) Bad("--filters", "expected one filter, got " + text);
  return filters[0];
}

std::vector<v1::Filter> ParseFilters(const std::vector<std::string>& args) {
  std::vector<v1::Filter> out;
  for (const auto& arg : args) {
    for (const auto& obj : ParseStructureList({arg}, "--filters")) {
      out.push_back(FilterOf(obj, arg));
    }
  }
  return out;
}

std::vector<TagSpecification> ParseTagSpecifications(const std::vector<std::string>& args) {
  std::vector<TagSpecification> out;
  for (const auto& obj : ParseStructureList(args, "--tag-specifications")) {
    CheckKeys(obj, {"ResourceType", "Tags"}, "--tag-specifications");
    TagSpecification spec;
    if (obj.contains("ResourceType")) spec.resource_type = StringOf(obj["ResourceType"]);
    if (obj.contains("Tags")) {
      const json& tags = obj["Tags"];
      if (tags.is_array()) {
        for (const auto& t : tags) {
          if (!t.is_object()) Bad("--tag-specifications", "Tags holds {Key=..,Value=..} items");
          spec.tags.push_back(TagOf(t, "--tag-specifications"));
        }
      } else if (tags.is_object()) {
        spec.tags.push_back(TagOf(tags, "--tag-specifications"));
      } else {
        Bad("--tag-specifications", "Tags=[{Key=k,Value=v},...] expected");
      }
    }
    out.push_back(std::move(spec));
  }
  return out;
}

std::vector<v1::Tag> TagsFor(const std::vector<TagSpecification>& specs,
                             const std::string& resource_type, const std::string& operation) {
  std::vector<v1::Tag> tags;
  for (const auto& spec : specs) {
    if (spec.resource_type != resource_type) {
      // As EC2 answers a resource type the operation cannot tag.
      throw ServiceError(
          "InvalidParameterValue", operation,
          "'" + spec.resource_type + "' is not a valid taggable resource type for this operation.",
          "");
    }
    tags.insert(tags.end(), spec.tags.begin(), spec.tags.end());
  }
  return tags;
}

std::vector<v1::BlockDeviceMapping> ParseBlockDeviceMappings(const std::vector<std::string>& args) {
  std::vector<v1::BlockDeviceMapping> out;
  const std::string flag = "--block-device-mappings";
  auto boolean = [&](const json& v, const std::string& what) {
    const std::string d = absl::AsciiStrToLower(StringOf(v));
    if (d != "true" && d != "false") Bad(flag, "Ebs." + what + " is true or false");
    return d == "true";
  };
  auto number = [&](const json& v, const std::string& what) {
    const std::string text = StringOf(v);
    int n = 0;
    if (!absl::SimpleAtoi(text, &n) || n <= 0) {
      Bad(flag, "Ebs." + what + " must be a positive number, got " + text);
    }
    return n;
  };
  for (const auto& obj : ParseStructureList(args, flag)) {
    CheckKeys(obj, {"DeviceName", "VirtualName", "Ebs", "NoDevice"}, flag);
    v1::BlockDeviceMapping m;
    if (!obj.contains("DeviceName")) Bad(flag, "each mapping needs DeviceName; got " + obj.dump());
    m.set_device_name(StringOf(obj["DeviceName"]));
    if (obj.contains("VirtualName")) m.set_virtual_name(StringOf(obj["VirtualName"]));
    m.set_no_device(obj.contains("NoDevice"));
    if (obj.contains("Ebs")) {
      const json& ebs = obj["Ebs"];
      if (!ebs.is_object()) Bad(flag, "Ebs={VolumeSize=N,...} expected");
      CheckKeys(ebs,
                {"DeleteOnTermination", "Iops", "SnapshotId", "VolumeSize", "VolumeType",
                 "KmsKeyId", "Throughput", "Encrypted"},
                flag);
      v1::EbsBlockDevice& e = *m.mutable_ebs();
      if (ebs.contains("VolumeSize")) e.set_volume_size(number(ebs["VolumeSize"], "VolumeSize"));
      if (ebs.contains("VolumeType")) e.set_volume_type(StringOf(ebs["VolumeType"]));
      if (ebs.contains("SnapshotId")) e.set_snapshot_id(StringOf(ebs["SnapshotId"]));
      if (ebs.contains("Iops")) e.set_iops(number(ebs["Iops"], "Iops"));
      if (ebs.contains("Throughput")) e.set_throughput(number(ebs["Throughput"], "Throughput"));
      if (ebs.contains("DeleteOnTermination")) {
        e.set_delete_on_termination(boolean(ebs["DeleteOnTermination"], "DeleteOnTermination"));
      }
      if (ebs.contains("Encrypted")) e.set_encrypted(boolean(ebs["Encrypted"], "Encrypted"));
    }
    out.push_back(std::move(m));
  }
  return out;
}

// A structure given as JSON or shorthand, as the k=v pairs of its scalar members.
static std::vector<std::vector<std::string>> Pairs(const std::string& text,
                                                   const std::string& flag) {
  std::vector<std::vector<std::string>> out;
  const json structure = ParseStructure(text, flag);
  for (const auto& [k, v] : structure.items()) {
    if (v.is_object() || v.is_array()) Bad(flag, k + " takes one value");
    out.push_back({k, StringOf(v)});
  }
  return out;
}

v1::InstanceMetadataOptions ParseMetadataOptions(const std::string& text) {
  v1::InstanceMetadataOptions o;
  for (const auto& kv : Pairs(text, "--metadata-options")) {
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

bool ParseHibernationOptions(const std::string& text) {
  bool configured = false;
  for (const auto& kv : Pairs(text, "--hibernation-options")) {
    if (kv[0] != "Configured") {
      throw UsageError("Error parsing parameter '--hibernation-options': unknown key '" + kv[0] +
                       "'");
    }
    if (kv[1] != "true" && kv[1] != "false") {
      throw UsageError(
          "Error parsing parameter '--hibernation-options': Configured must be true or false");
    }
    configured = kv[1] == "true";
  }
  return configured;
}

v1::Placement ParsePlacement(const std::string& text) {
  v1::Placement p;
  for (const auto& kv : Pairs(text, "--placement")) {
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
  return TagOf(ParseStructure(text, "--tags"), "--tags");
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
