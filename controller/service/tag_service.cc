#include "controller/service/tag_service.h"

#include <algorithm>
#include <map>
#include <set>
#include <tuple>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/ec2_error.h"
#include "common/ids.h"
#include "common/instance_limits.h"
#include "common/status_macros.h"
#include "controller/service/instance_common.h"
#include "controller/service/pagination.h"

namespace minicloud::controller {
namespace {

// EC2's CreateTags / DeleteTags take up to 1,000 resource ids per call (API reference).
constexpr int kMaxResourcesPerCall = 1000;

enum class Kind { kInstance, kImage, kKeyPair, kPlacementGroup, kVolume };

struct KindInfo {
  absl::string_view prefix;
  absl::string_view resource_type;  // DescribeTags' resource-type
};

KindInfo Info(Kind k) {
  switch (k) {
    case Kind::kInstance:
      return {"i", "instance"};
    case Kind::kImage:
      return {"ami", "image"};
    case Kind::kKeyPair:
      return {"key", "key-pair"};
    case Kind::kPlacementGroup:
      return {"pg", "placement-group"};
    case Kind::kVolume:
      return {"vol", "volume"};
  }
  return {"", ""};
}

absl::StatusOr<Kind> KindOf(const std::string& id) {
  for (Kind k :
       {Kind::kInstance, Kind::kImage, Kind::kKeyPair, Kind::kPlacementGroup, Kind::kVolume}) {
    if (IsValidId(id, Info(k).prefix)) return k;
  }
  return Ec2Error(absl::StatusCode::kInvalidArgument, "InvalidID",
                  absl::StrCat("The ID '", QuoteForMessage(id, 40), "' is not valid"));
}

absl::Status NotFound(Kind k, const std::string& id) {
  switch (k) {
    case Kind::kInstance:
      return Ec2Error(absl::StatusCode::kNotFound, "InvalidInstanceID.NotFound",
                      absl::StrCat("The instance ID '", id, "' does not exist"));
    case Kind::kImage:
      return Ec2Error(absl::StatusCode::kNotFound, "InvalidAMIID.NotFound",
                      absl::StrCat("The image id '[", id, "]' does not exist"));
    case Kind::kKeyPair:
      return Ec2Error(absl::StatusCode::kNotFound, "InvalidKeyPair.NotFound",
                      absl::StrCat("The key pair ID '", id, "' does not exist"));
    case Kind::kPlacementGroup:
      return Ec2Error(absl::StatusCode::kNotFound, "InvalidPlacementGroup.Unknown",
                      absl::StrCat("The Placement Group ID '", id, "' is unknown."));
    case Kind::kVolume:
      return Ec2Error(absl::StatusCode::kNotFound, "InvalidVolume.NotFound",
                      absl::StrCat("The volume '", id, "' does not exist."));
  }
  return absl::InternalError("unknown resource kind");
}

// One resource a call changes: a copy of its record, staged into `changes` when done.
struct Target {
  Kind kind;
  std::string id;
  std::string map_key;  // the record's key in CloudState (name for key pairs and groups)
  TagMap* tags = nullptr;
  bool metadata_tags = false;  // an instance serving its tags in instance metadata
  std::string host_id;         // an instance's host, told about the change
};

// Loads the records of `ids` into `changes` (each once) and points targets at their tags.
// Requires the state lock.
absl::StatusOr<std::vector<Target>> LoadTargets(
    CloudState& state, const google::protobuf::RepeatedPtrField<std::string>& ids,
    CloudState::Changes& changes) {
  if (ids.empty()) return MissingParameter("The request must contain the parameter resourceIdSet");
  if (ids.size() > kMaxResourcesPerCall) {
    return InvalidParameterValue(absl::StrCat("At most ", kMaxResourcesPerCall,
                                              " resources can be tagged in one call; got ",
                                              ids.size()));
  }
  std::vector<Target> out;
  std::set<std::string> seen;
  for (const std::string& id : ids) {
    MC_ASSIGN_OR_RETURN(const Kind kind, KindOf(id));
    if (!seen.insert(id).second) continue;
    Target t{kind, id};
    switch (kind) {
      case Kind::kInstance: {
        auto it = state.instances().find(id);
        if (it == state.instances().end()) return NotFound(kind, id);
        t.map_key = id;
        t.metadata_tags = it->second.metadata_options().instance_metadata_tags() ==
                          v1::INSTANCE_METADATA_TAGS_ENABLED;
        t.host_id = it->second.host_id();
        changes.instances[id] = it->second;
        break;
      }
      case Kind::kImage: {
        auto it = state.images().find(id);
        if (it == state.images().end()) return NotFound(kind, id);
        t.map_key = id;
        changes.images[id] = it->second;
        break;
      }
      case Kind::kKeyPair: {
        for (const auto& [name, r] : state.key_pairs()) {
          if (r.key_pair_id() == id) t.map_key = name;
        }
        if (t.map_key.empty()) return NotFound(kind, id);
        changes.key_pairs[t.map_key] = state.key_pairs().at(t.map_key);
        break;
      }
      case Kind::kPlacementGroup: {
        for (const auto& [name, r] : state.placement_groups()) {
          if (r.group_id() == id) t.map_key = name;
        }
        if (t.map_key.empty()) return NotFound(kind, id);
        changes.placement_groups[t.map_key] = state.placement_groups().at(t.map_key);
        break;
      }
      case Kind::kVolume: {
        auto it = state.volumes().find(id);
        if (it == state.volumes().end() || !it->second.hibernation_state_of().empty()) {
          return NotFound(kind, id);
        }
        t.map_key = id;
        changes.volumes[id] = it->second;
        break;
      }
    }
    out.push_back(std::move(t));
  }
  // Pointers into `changes` only once every record is in (the maps do not move nodes anyway).
  for (Target& t : out) {
    switch (t.kind) {
      case Kind::kInstance:
        t.tags = changes.instances.at(t.map_key).mutable_tags();
        break;
      case Kind::kImage:
        t.tags = changes.images.at(t.map_key).mutable_tags();
        break;
      case Kind::kKeyPair:
        t.tags = changes.key_pairs.at(t.map_key).mutable_tags();
        break;
      case Kind::kPlacementGroup:
        t.tags = changes.placement_groups.at(t.map_key).mutable_tags();
        break;
      case Kind::kVolume:
        t.tags = changes.volumes.at(t.map_key).mutable_tags();
        break;
    }
  }
  return out;
}

absl::Status TagLimitExceeded(const std::string& id) {
  return Ec2Error(absl::StatusCode::kResourceExhausted, "TagLimitExceeded",
                  absl::StrCat("The maximum number of tags (", limits::kMaxTagsPerResource,
                               ") for resource '", id, "' has been reached."));
}

}  // namespace

absl::Status ValidateTagSpecification(const google::protobuf::RepeatedPtrField<v1::Tag>& tags,
                                      TagUse use, absl::string_view resource) {
  if (tags.size() > limits::kMaxTagsPerResource) {
    return Ec2Error(
        absl::StatusCode::kResourceExhausted, "TagLimitExceeded",
        absl::StrCat("A", resource == "instance" || resource == "image" ? "n " : " ", resource,
                     " can have at most ", limits::kMaxTagsPerResource, " tags"));
  }
  std::set<std::string> keys;
  for (const auto& t : tags) {
    if (absl::Status s = CheckTag(t.key(), t.value(), use); !s.ok()) {
      return InvalidParameterValue(s.message());
    }
    if (!keys.insert(t.key()).second) {
      return InvalidParameterValue(
          absl::StrCat("Duplicate tag key ", QuoteForMessage(t.key(), 40)));
    }
  }
  return absl::OkStatus();
}

void SetTags(const google::protobuf::RepeatedPtrField<v1::Tag>& tags, TagMap& into) {
  for (const auto& t : tags) into[t.key()] = t.value();
}

absl::StatusOr<v1::CreateTagsResponse> TagService::CreateTags(const v1::CreateTagsRequest& req) {
  if (req.tags().empty()) return MissingParameter("The request must contain the parameter Tag");
  // The keys' rules that do not depend on the resource, before looking at any resource.
  MC_RETURN_IF_ERROR(ValidateTagSpecification(req.tags(), TagUse::kApiOnly, "resource"));
  auto lock = state_.LockCommitted();
  CloudState::Changes changes;
  MC_ASSIGN_OR_RETURN(std::vector<Target> targets, LoadTargets(state_, req.resources(), changes));
  for (const Target& t : targets) {
    if (t.metadata_tags) {
      MC_RETURN_IF_ERROR(
          ValidateTagSpecification(req.tags(), TagUse::kInstanceMetadata, "instance"));
    }
    SetTags(req.tags(), *t.tags);
    if (t.tags->size() > static_cast<size_t>(limits::kMaxTagsPerResource)) {
      return TagLimitExceeded(t.id);
    }
  }
  if (req.dry_run()) return DryRunOk();
  MC_RETURN_IF_ERROR(Annotate(state_.CommitLocked(changes), "record tags"));
  // Instance tags are served in instance metadata: the hosts get the new desired state.
  for (const Target& t : targets) {
    if (!t.host_id.empty()) state_.BumpGenerationLocked(t.host_id);
  }
  return v1::CreateTagsResponse();
}

absl::StatusOr<v1::DeleteTagsResponse> TagService::DeleteTags(const v1::DeleteTagsRequest& req) {
  for (const auto& t : req.tags()) {
    if (t.key().empty()) return MissingParameter("The request must contain the parameter Tag.Key");
  }
  auto lock = state_.LockCommitted();
  CloudState::Changes changes;
  MC_ASSIGN_OR_RETURN(std::vector<Target> targets, LoadTargets(state_, req.resources(), changes));
  for (const Target& t : targets) {
    if (req.tags().empty()) {
      t.tags->clear();
      continue;
    }
    for (const auto& del : req.tags()) {
      auto it = t.tags->find(del.key());
      if (it == t.tags->end()) continue;
      if (del.has_value() && it->second != del.value()) continue;
      t.tags->erase(it);
    }
  }
  if (req.dry_run()) return DryRunOk();
  MC_RETURN_IF_ERROR(Annotate(state_.CommitLocked(changes), "delete tags"));
  for (const Target& t : targets) {
    if (!t.host_id.empty()) state_.BumpGenerationLocked(t.host_id);
  }
  return v1::DeleteTagsResponse();
}

namespace {

// One row of DescribeTags with the tags of its resource (for tag:<Key> filters).
struct TagRow {
  v1::TagDescription tag;
  const TagMap* resource_tags;
};

const FilterTable<TagRow>& TagFilters() {
  using Getter = FilterTable<TagRow>::Getter;
  static const auto* kTable = new FilterTable<TagRow>(
      std::map<std::string, Getter, std::less<>>{
          {"key", [](const TagRow& r) { return r.tag.key(); }},
          {"value", [](const TagRow& r) { return r.tag.value(); }},
          {"resource-id", [](const TagRow& r) { return r.tag.resource_id(); }},
          {"resource-type", [](const TagRow& r) { return r.tag.resource_type(); }},
      },
      [](const TagRow& r) -> const TagMap& { return *r.resource_tags; });
  return *kTable;
}

}  // namespace

absl::StatusOr<v1::DescribeTagsResponse> TagService::DescribeTags(
    const v1::DescribeTagsRequest& req) {
  MC_RETURN_IF_ERROR(TagFilters().Validate(req.filters()));
  // tag-key / tag-value are not DescribeTags filters (it has key / value).
  for (const auto& f : req.filters()) {
    if (f.name() == "tag-key" || f.name() == "tag-value") return UnknownFilterError(f.name());
  }
  MC_ASSIGN_OR_RETURN(const PageStart start,
                      StartPage(kDescribeTagsPages, {req.max_results(), req.next_token()}, false));
  if (req.dry_run()) return DryRunOk();
  auto lock = state_.LockCommitted();
  std::vector<TagRow> rows;
  auto add = [&](const std::string& id, Kind kind, const TagMap& tags) {
    for (const auto& [k, v] : tags) {
      TagRow row{{}, &tags};
      row.tag.set_resource_id(id);
      row.tag.set_resource_type(std::string(Info(kind).resource_type));
      row.tag.set_key(k);
      row.tag.set_value(v);
      if (TagFilters().Matches(row, req.filters())) rows.push_back(std::move(row));
    }
  };
  for (const auto& [id, r] : state_.instances()) add(id, Kind::kInstance, r.tags());
  for (const auto& [id, r] : state_.images()) add(id, Kind::kImage, r.tags());
  for (const auto& [name, r] : state_.key_pairs()) add(r.key_pair_id(), Kind::kKeyPair, r.tags());
  for (const auto& [name, r] : state_.placement_groups()) {
    add(r.group_id(), Kind::kPlacementGroup, r.tags());
  }
  for (const auto& [id, r] : state_.volumes()) {
    if (!r.hibernation_state_of().empty()) continue;
    add(id, Kind::kVolume, r.tags());
  }
  // One stable order: resource id, then key. "\0" sorts below every character of an id, so
  // the joined keys sort as the pairs do.
  std::sort(rows.begin(), rows.end(), [](const TagRow& a, const TagRow& b) {
    return std::tie(a.tag.resource_id(), a.tag.key()) < std::tie(b.tag.resource_id(), b.tag.key());
  });
  std::vector<std::string> keys;
  keys.reserve(rows.size());
  for (const auto& r : rows)
    keys.push_back(absl::StrCat(r.tag.resource_id(), absl::string_view("\0", 1), r.tag.key()));
  const Page page = TakePage(kDescribeTagsPages, start, keys);
  v1::DescribeTagsResponse resp;
  for (size_t i = page.begin; i < page.end; ++i) *resp.add_tags() = rows[i].tag;
  resp.set_next_token(page.next_token);
  return resp;
}

}  // namespace minicloud::controller
