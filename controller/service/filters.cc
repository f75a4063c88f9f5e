#include "controller/service/filters.h"

#include <functional>
#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/ec2_error.h"
#include "controller/service/instance_state.h"

namespace minicloud::controller {
namespace {

using Getter = std::function<std::string(const v1::InstanceRecord&)>;

const std::map<std::string, Getter, std::less<>>& InstanceFilterGetters() {
  static const auto* kGetters = new std::map<std::string, Getter, std::less<>>{
      {"instance-id", [](const auto& i) { return i.instance_id(); }},
      {"image-id", [](const auto& i) { return i.image_id(); }},
      {"instance-type", [](const auto& i) { return i.instance_type(); }},
      {"instance-state-name", [](const auto& i) { return std::string(Ec2StateName(i.state())); }},
      {"instance-state-code", [](const auto& i) { return absl::StrCat(Ec2StateCode(i.state())); }},
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
  };
  return *kGetters;
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

absl::Status ValidateInstanceFilters(
    const google::protobuf::RepeatedPtrField<v1::Filter>& filters) {
  for (const auto& f : filters) {
    if (!InstanceFilterGetters().contains(f.name())) {
      return InvalidParameterValue(absl::StrCat("The filter '", f.name(), "' is invalid"));
    }
  }
  return absl::OkStatus();
}

bool InstanceMatches(const v1::InstanceRecord& instance,
                     const google::protobuf::RepeatedPtrField<v1::Filter>& filters) {
  for (const auto& f : filters) {
    auto it = InstanceFilterGetters().find(f.name());
    if (it == InstanceFilterGetters().end()) return false;
    std::string actual = it->second(instance);
    bool any = false;
    for (const auto& want : f.values()) any = any || GlobMatch(want, actual);
    if (!any) return false;
  }
  return true;
}

}  // namespace minicloud::controller
