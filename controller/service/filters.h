#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/map.h"
#include "minicloud/v1/compute.pb.h"
#include "minicloud/v1/records.pb.h"

namespace minicloud::controller {

// EC2 filter values may hold '*' (any run) and '?' (any one character).
bool GlobMatch(absl::string_view pattern, absl::string_view value);

using Filters = google::protobuf::RepeatedPtrField<v1::Filter>;
using TagMap = google::protobuf::Map<std::string, std::string>;

// True when one of the filter's values matches `actual` (values of one filter are OR-ed).
bool AnyValueMatches(const v1::Filter& filter, absl::string_view actual);

// EC2's tag filters, accepted by every Describe of a taggable resource (botocore's EC2 model,
// e.g. DescribeInstances / DescribeKeyPairs / DescribePlacementGroups / DescribeImages "Filters"):
//   tag:<Key>  the resource has tag <Key> with one of the values;
//   tag-key    the resource has a tag whose key is one of the values;
//   tag-value  the resource has a tag whose value is one of the values (older EC2 docs; moto and
//              the Query API still accept it).
bool IsTagFilter(absl::string_view name);
// Whether `tags` satisfy the tag filter `filter` (IsTagFilter(filter.name()) must hold).
bool TagFilterMatches(const v1::Filter& filter, const TagMap& tags);

// The filters one Describe knows: named getters over its record plus, when the record has tags,
// EC2's tag filters. One implementation for every Describe (instances, images, key pairs,
// placement groups, tags).
template <typename Record>
class FilterTable {
 public:
  using Getter = std::function<std::string(const Record&)>;
  using TagsOf = std::function<const TagMap&(const Record&)>;

  FilterTable(std::map<std::string, Getter, std::less<>> getters, TagsOf tags = nullptr)
      : getters_(std::move(getters)), tags_(std::move(tags)) {}

  // InvalidParameterValue naming the first filter this Describe does not know.
  absl::Status Validate(const Filters& filters) const {
    for (const auto& f : filters) {
      if (getters_.contains(f.name())) continue;
      if (tags_ != nullptr && IsTagFilter(f.name())) continue;
      return UnknownFilter(f.name());
    }
    return absl::OkStatus();
  }

  // True when `r` matches every filter (an unknown filter matches nothing).
  bool Matches(const Record& r, const Filters& filters) const {
    for (const auto& f : filters) {
      if (auto it = getters_.find(f.name()); it != getters_.end()) {
        if (!AnyValueMatches(f, it->second(r))) return false;
      } else if (tags_ != nullptr && IsTagFilter(f.name())) {
        if (!TagFilterMatches(f, tags_(r))) return false;
      } else {
        return false;
      }
    }
    return true;
  }

 private:
  static absl::Status UnknownFilter(absl::string_view name);
  std::map<std::string, Getter, std::less<>> getters_;
  TagsOf tags_;
};

absl::Status UnknownFilterError(absl::string_view name);
template <typename Record>
absl::Status FilterTable<Record>::UnknownFilter(absl::string_view name) {
  return UnknownFilterError(name);
}

// DescribeInstances' filters (instance attributes and tags).
const FilterTable<v1::InstanceRecord>& InstanceFilters();

// InvalidParameterValue naming the first filter DescribeInstances does not know.
absl::Status ValidateInstanceFilters(const Filters& filters);

// True when the instance matches every filter (values of one filter are OR-ed).
bool InstanceMatches(const v1::InstanceRecord& instance, const Filters& filters);

// The tags of a record as the API lists them, sorted by key.
google::protobuf::RepeatedPtrField<v1::Tag> TagList(const TagMap& tags);

}  // namespace minicloud::controller
