#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/tags.h"
#include "controller/service/cloud_state.h"
#include "controller/service/filters.h"
#include "minicloud/v1/compute.pb.h"

namespace minicloud::controller {

// EC2 tags on the resources minicloud has: instances (i-), AMIs (ami-), key pairs (key-) and
// placement groups (pg-). Each resource keeps its tags in its own record, so a change of tags is
// one atomic store commit with the record. Thread-safe.
//
// Rules (EC2 user guide, "Tag restrictions"; API reference CreateTags / DeleteTags):
// - at most 50 tags per resource (TagLimitExceeded); keys 1-128 characters, values 0-256, the
//   "aws:" prefix reserved (InvalidParameterValue): common/tags.h;
// - an instance with InstanceMetadataTags=enabled takes only keys that can be served there;
// - CreateTags overwrites the value of a key the resource has; all resources change or none;
// - DeleteTags: a tag without a value deletes the key whatever its value, with a value (even "")
//   only when it matches; no tags deletes every tag of the resources;
// - an id of another kind is InvalidID; an unknown resource is its kind's NotFound code
//   (InvalidInstanceID.NotFound, InvalidAMIID.NotFound, InvalidKeyPair.NotFound,
//   InvalidPlacementGroup.Unknown).
class TagService {
 public:
  explicit TagService(CloudState& state) : state_(state) {}

  absl::StatusOr<v1::CreateTagsResponse> CreateTags(const v1::CreateTagsRequest& req);
  absl::StatusOr<v1::DeleteTagsResponse> DeleteTags(const v1::DeleteTagsRequest& req);
  // Tags ordered by resource id, then key; filters key, value, resource-id, resource-type and
  // tag:<Key> (the resource has that tag); MaxResults 5..1000 with NextToken.
  absl::StatusOr<v1::DescribeTagsResponse> DescribeTags(const v1::DescribeTagsRequest& req);

 private:
  CloudState& state_;
};

// The tags of a request (TagSpecification on a create call): at most 50, each by EC2's rules
// for `use`, no key twice. `resource` names the resource kind in messages ("instance").
absl::Status ValidateTagSpecification(const google::protobuf::RepeatedPtrField<v1::Tag>& tags,
                                      TagUse use, absl::string_view resource);

// Copies request tags into a record's tag map.
void SetTags(const google::protobuf::RepeatedPtrField<v1::Tag>& tags, TagMap& into);

}  // namespace minicloud::controller
