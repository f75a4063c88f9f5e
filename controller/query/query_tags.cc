// CreateTags, DeleteTags and DescribeTags over the TagService (controller/service/tag_service.h
// holds every rule: limits, reserved keys, NotFound codes, filters, paging). Wire forms from
// botocore's service model (ec2/2016-11-15): ResourceId.N, Tag.N.{Key,Value}, Filter.N,
// MaxResults, NextToken; DescribeTags answers tagSet/item/{resourceId, resourceType, key, value}
// and nextToken.

#include "common/ec2_error.h"
#include "common/status_macros.h"
#include "controller/query/action.h"
#include "controller/query/xml.h"

namespace minicloud::query {
namespace {

constexpr int64_t kInt32Max = 2147483647;

absl::StatusOr<v1::CreateTagsRequest> ParseCreateTags(ParamNode& p, bool dry_run) {
  v1::CreateTagsRequest req;
  req.set_dry_run(dry_run);
  for (std::string& id : p.StringList("ResourceId")) req.add_resources(std::move(id));
  for (ParamNode* tag : p.List("Tag")) {
    v1::Tag* t = req.add_tags();
    t->set_key(tag->String("Key").value_or(""));
    t->set_value(tag->String("Value").value_or(""));
  }
  if (req.resources().empty()) {
    return MissingParameter("The request must contain the parameter ResourceId");
  }
  if (req.tags().empty()) return MissingParameter("The request must contain the parameter Tag");
  return req;
}

absl::Status RunCreateTags(Services& s, const v1::CreateTagsRequest& req, XmlNode out) {
  MC_RETURN_IF_ERROR(s.tags.CreateTags(req).status());
  Bool(out, "return", true);
  return absl::OkStatus();
}

absl::StatusOr<v1::DeleteTagsRequest> ParseDeleteTags(ParamNode& p, bool dry_run) {
  v1::DeleteTagsRequest req;
  req.set_dry_run(dry_run);
  for (std::string& id : p.StringList("ResourceId")) req.add_resources(std::move(id));
  for (ParamNode* tag : p.List("Tag")) {
    v1::TagToDelete* t = req.add_tags();
    t->set_key(tag->String("Key").value_or(""));
    // A Value parameter, even empty, deletes only on a match; none deletes the key.
    if (auto v = tag->String("Value")) t->set_value(*v);
  }
  if (req.resources().empty()) {
    return MissingParameter("The request must contain the parameter ResourceId");
  }
  return req;
}

absl::Status RunDeleteTags(Services& s, const v1::DeleteTagsRequest& req, XmlNode out) {
  MC_RETURN_IF_ERROR(s.tags.DeleteTags(req).status());
  Bool(out, "return", true);
  return absl::OkStatus();
}

absl::StatusOr<v1::DescribeTagsRequest> ParseDescribeTags(ParamNode& p, bool dry_run) {
  v1::DescribeTagsRequest req;
  req.set_dry_run(dry_run);
  ParseFilters(p, req.mutable_filters());
  MC_ASSIGN_OR_RETURN(auto max, p.Int("MaxResults", -kInt32Max, kInt32Max));
  if (max) req.set_max_results(static_cast<int32_t>(*max));
  if (auto v = p.String("NextToken")) req.set_next_token(*v);
  return req;
}

absl::Status RunDescribeTags(Services& s, const v1::DescribeTagsRequest& req, XmlNode out) {
  MC_ASSIGN_OR_RETURN(auto resp, s.tags.DescribeTags(req));
  XmlNode set = Child(out, "tagSet");
  for (const v1::TagDescription& t : resp.tags()) {
    XmlNode item = Item(set);
    Text(item, "resourceId", t.resource_id());
    Text(item, "resourceType", t.resource_type());
    Text(item, "key", t.key());
    Text(item, "value", t.value());
  }
  TextIfSet(out, "nextToken", resp.next_token());
  return absl::OkStatus();
}

}  // namespace

void AddTagActions(ActionTable& t) {
  t["CreateTags"] = Bind<ParseCreateTags, RunCreateTags>();
  t["DeleteTags"] = Bind<ParseDeleteTags, RunDeleteTags>();
  t["DescribeTags"] = Bind<ParseDescribeTags, RunDescribeTags>();
}

}  // namespace minicloud::query
