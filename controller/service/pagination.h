#pragma once

// MaxResults / NextToken as EC2's Describe* calls have them (botocore's EC2 model and
// paginators-1.json: DescribeInstances, DescribeInstanceStatus, DescribeTags and DescribeImages
// page; DescribeKeyPairs and DescribePlacementGroups do not), and NextToken as CloudFormation's
// have it: DescribeStacks and DescribeStackEvents take no page size (botocore's cloudformation
// 2010-05-15 service-2.json has only NextToken; paginators-1.json pages them by NextToken), the
// service picks it, and a token it did not issue is a ValidationError.
//
// Items are listed in one stable order (their ids); a token names, opaquely, the last item of
// the page it ends and the call it belongs to, so a page starts after it whatever was created
// or deleted meanwhile, and a token of one call is refused by another.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace minicloud::controller {

// How one Describe pages: its name in tokens, the bounds of MaxResults, and the name of its id
// list in the InvalidParameterCombination message ("instancesSet"); for calls without
// MaxResults, the page size the service picks; the error code of a token it did not issue.
struct PageRules {
  absl::string_view call;
  int32_t min_results;
  int32_t max_results;
  absl::string_view ids_parameter;
  int32_t default_page_size = 0;  // 0 = everything when MaxResults is not given
  absl::string_view bad_token_code = "InvalidPaginationToken";
};

inline constexpr PageRules kDescribeInstancesPages{"DescribeInstances", 5, 1000, "instancesSet"};
inline constexpr PageRules kDescribeInstanceStatusPages{"DescribeInstanceStatus", 5, 1000,
                                                        "instancesSet"};
inline constexpr PageRules kDescribeTagsPages{"DescribeTags", 5, 1000, ""};
inline constexpr PageRules kDescribeImagesPages{"DescribeImages", 1, 1000, "imagesSet"};
// CloudFormation: 100 a page, as CloudFormation answers DescribeStackEvents and DescribeStacks
// (the model leaves the size to the service; the aws CLI and boto3 follow NextToken).
inline constexpr PageRules kDescribeStacksPages{"DescribeStacks", 0, 0, "", 100, "ValidationError"};
inline constexpr PageRules kDescribeStackEventsPages{"DescribeStackEvents", 0, 0, "", 100,
                                                     "ValidationError"};

// One request's paging: 0 max_results = everything.
struct PageRequest {
  int32_t max_results = 0;
  std::string next_token;
};

// Where a page starts: after `after` ("" = from the first item); `limit` 0 = no limit (for calls
// with a default_page_size, the limit is that size when MaxResults is not given).
struct PageStart {
  std::string after;
  int32_t limit = 0;
};

// Checks MaxResults (InvalidParameterValue outside the call's bounds; with ids given,
// InvalidParameterCombination) and decodes NextToken (rules.bad_token_code when it is not one
// this call issued).
absl::StatusOr<PageStart> StartPage(const PageRules& rules, const PageRequest& req, bool ids_given);

// The error of a token this call did not issue (for callers that check more of a token).
absl::Status BadPageToken(const PageRules& rules);

// The token that continues after `last_key`.
std::string NextPageToken(const PageRules& rules, absl::string_view last_key);

// Pages `keys` (sorted ascending, unique): the indexes of the page's items and the next token
// ("" when the page is the last).
struct Page {
  size_t begin = 0;
  size_t end = 0;
  std::string next_token;
};
Page TakePage(const PageRules& rules, const PageStart& start, const std::vector<std::string>& keys);

}  // namespace minicloud::controller
