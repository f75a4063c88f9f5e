#include "controller/service/filters.h"

#include <functional>
#include <map>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/ec2_error.h"
#include "controller/service/instance_state.h"

namespace minicloud::controller {
namespace {

using Getter = FilterTable<v1::InstanceRecord>::Getter;

const FilterTable<v1::InstanceRecord>* MakeInstanceFilters() {
  return new FilterTable<v1::InstanceRecord>(
      std::map<std::string, Getter, std::less<>>{
          {"instance-id", [](const auto& i) { return i.instance_id(); }},
          {"image-id", [](const auto& i) { return i.image_id(); }},
          {"instance-type", [](const auto& i) { return i.instance_type(); }},
          {"instance-state-name",
           [](const auto& i) { return std::string(Ec2StateName(i.state())); }},
          {"instance-state-code",
           [](const auto& i) { return absl::StrCat(Ec2StateCode(i.state())); }},
          {"availability-zone", [](const auto& i) { return i.topology().availability_zone(); }},
          {"reservation-id", [](const auto& i) { return i.reservation_id(); }},
          {"host-id", [](const auto& i) { return i.host_id(); }},
          {"client-token", [](const auto& i) { return i.client_token(); }},
          {"architecture", [](const auto& i) { return i.architecture(); }},
          {"owner-id", [](const auto& i) { return i.owner_id(); }},
          {"ami-launch-index", [](const auto& i) { return absl::StrCat(i.ami_launch_index()); }},
          {"private-ip-address", [](const auto& i) { return i.network().private_ip(); }},
          {"subnet-id", [](const auto& i) { return i.network().subnet_id(); }},
          {"vpc-id", [](const auto& i) { return i.network().vpc_id(); }},
          {"key-name", [](const auto& i) { return i.key_name(); }},
          {"placement-group-name", [](const auto& i) { return i.placement_group(); }},
          {"placement-partition-number",
           [](const auto& i) {
             return i.partition_number() == 0 ? std::string() : absl::StrCat(i.partition_number());
           }},
      },
      [](const v1::InstanceRecord& i) -> const TagMap& { return i.tags(); });
}

}  // namespace

bool GlobMatch(absl::string_view p, absl::string_view v) {
  size_t pi = 0, vi = 0, star = absl::string_view::npos, mark = 0;
  while (vi < v.size()) {
    if (pi < p.size() && (p[pi] == '?' || p[pi] == v[vi])) {
      ++pi;
      ++vi;
    } else if (pi < p.size() && p[pi] == '*') {
      star = pi++;
      mark = vi;
    } else if (star != absl::string_view::npos) {
      pi = star + 1;
      vi = ++mark;
    } else {
      return false;
    }
  }
  while (pi < p.size() && p[pi] == '*') ++pi;
  return pi == p.size();
}

bool AnyValueMatches(const v1::Filter& filter, absl::string_view actual) {
  for (const auto& want : filter.values()) {
    if (GlobMatch(want, actual)) return true;
  }
  return false;
}

bool IsTagFilter(absl::string_view name) {
  return name == "tag-key" || name == "tag-value" ||
         (absl::StartsWith(name, "tag:") && name.size() > 4);
}

bool TagFilterMatches(const v1::Filter& filter, const TagMap& tags) {
  const absl::string_view name = filter.name();
  if (name == "tag-key") {
    for (const auto& [k, v] : tags) {
      if (AnyValueMatches(filter, k)) return true;
    }
    return false;
  }
  if (name == "tag-value") {
    for (const auto& [k, v] : tags) {
      if (AnyValueMatches(filter, v)) return true;
    }
    return false;
  }
  // tag:<Key>: the key is matched exactly (EC2 does not glob the key), the values as globs.
  auto it = tags.find(std::string(name.substr(4)));
  return it != tags.end() && AnyValueMatches(filter, it->second);
}

absl::Status UnknownFilterError(absl::string_view name) {
  return InvalidParameterValue(absl::StrCat("The filter '", name, "' is invalid"));
}

const FilterTable<v1::InstanceRecord>& InstanceFilters() {
  static const auto* kTable = MakeInstanceFilters();
  return *kTable;
}

absl::Status ValidateInstanceFilters(const Filters& filters) {
  return InstanceFilters().Validate(filters);
}

bool InstanceMatches(const v1::InstanceRecord& instance, const Filters& filters) {
  return InstanceFilters().Matches(instance, filters);
}

google::protobuf::RepeatedPtrField<v1::Tag> TagList(const TagMap& tags) {
  std::map<std::string, std::string> sorted(tags.begin(), tags.end());
  google::protobuf::RepeatedPtrField<v1::Tag> out;
  for (const auto& [k, v] : sorted) {
    v1::Tag* t = out.Add();
    t->set_key(k);
    t->set_value(v);
  }
  return out;
}

}  // namespace minicloud::controller
