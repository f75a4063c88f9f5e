#include "controller/service/pagination.h"

#include <algorithm>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/ec2_error.h"

namespace minicloud::controller {
namespace {

constexpr absl::string_view kTokenVersion = "mc1";

absl::Status BadToken(const PageRules& rules) {
  // EC2's code for a NextToken it did not issue is InvalidPaginationToken (API reference,
  // "Common client error codes"); CloudFormation's is ValidationError (its common errors).
  return Ec2Error(absl::StatusCode::kInvalidArgument, std::string(rules.bad_token_code),
                  "The specified pagination token is not valid or is expired.");
}

}  // namespace

absl::StatusOr<PageStart> StartPage(const PageRules& rules, const PageRequest& req,
                                    bool ids_given) {
  PageStart start;
  start.limit = rules.default_page_size;
  if (req.max_results != 0) {
    if (ids_given && !rules.ids_parameter.empty()) {
      return Ec2Error(absl::StatusCode::kInvalidArgument, "InvalidParameterCombination",
                      absl::StrCat("The parameter ", rules.ids_parameter,
                                   " cannot be used with the parameter maxResults"));
    }
    if (req.max_results < rules.min_results || req.max_results > rules.max_results) {
      return InvalidParameterValue(absl::StrCat("Value ( ", req.max_results,
                                                " ) for parameter maxResults is invalid. Expecting "
                                                "a value between ",
                                                rules.min_results, " and ", rules.max_results,
                                                "."));
    }
    start.limit = req.max_results;
  }
  if (!req.next_token.empty()) {
    std::string raw;
    if (req.next_token.size() > 4096 || !absl::WebSafeBase64Unescape(req.next_token, &raw)) {
      return BadToken(rules);
    }
    const std::string prefix = absl::StrCat(kTokenVersion, ":", rules.call, ":");
    if (raw.size() <= prefix.size() || raw.compare(0, prefix.size(), prefix) != 0) {
      return BadToken(rules);
    }
    start.after = raw.substr(prefix.size());
  }
  return start;
}

absl::Status BadPageToken(const PageRules& rules) { return BadToken(rules); }

std::string NextPageToken(const PageRules& rules, absl::string_view last_key) {
  return absl::WebSafeBase64Escape(absl::StrCat(kTokenVersion, ":", rules.call, ":", last_key));
}

Page TakePage(const PageRules& rules, const PageStart& start,
              const std::vector<std::string>& keys) {
  Page page;
  page.begin = start.after.empty()
                   ? 0
                   : static_cast<size_t>(std::upper_bound(keys.begin(), keys.end(), start.after) -
                                         keys.begin());
  page.end = keys.size();
  if (start.limit > 0 && keys.size() - page.begin > static_cast<size_t>(start.limit)) {
    page.end = page.begin + start.limit;
    page.next_token = NextPageToken(rules, keys[page.end - 1]);
  }
  return page;
}

}  // namespace minicloud::controller
