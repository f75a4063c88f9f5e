#pragma once

// CloudFormation API messages rendered in the JSON shapes `aws cloudformation` prints (botocore's
// cloudformation 2010-05-15 service model: Stack, StackEvent, StackResource,
// StackResourceDetail, ValidateTemplate's output). Pure.

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "minicloud/v1/cloudformation.pb.h"

namespace minicloud::cli {

nlohmann::json StackJson(const v1::Stack& s);
nlohmann::json StackEventJson(const v1::StackEvent& e);
// DescribeStackResources' StackResource (Timestamp, no Metadata).
nlohmann::json StackResourceJson(const v1::StackResource& r);
// DescribeStackResource's StackResourceDetail (LastUpdatedTimestamp, Metadata as a JSON string).
nlohmann::json StackResourceDetailJson(const v1::StackResource& r);
nlohmann::json ValidateTemplateJson(const v1::ValidateTemplateResponse& r);

// The aws CLI's waiters for stacks (botocore's cloudformation waiters-2.json, acceptors in
// order): StackCreateComplete, StackUpdateComplete, StackDeleteComplete.
struct WaiterStep {
  enum State { kRetry, kSuccess, kFailure } state = kRetry;
  std::string explanation;  // botocore's acceptor explanation when it decided
};
// `statuses`: Stacks[].StackStatus of one DescribeStacks; `error_code`: its error ("" if none).
WaiterStep StackWaiterStep(const std::string& waiter, const std::vector<std::string>& statuses,
                           const std::string& error_code);

}  // namespace minicloud::cli
