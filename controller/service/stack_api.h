#pragma once

// What the CloudFormation surfaces (Query protocol, gRPC, the guest endpoint) ask of stacks. The
// implementation owns every rule: template checks, stack states, events, signals, rollback; the
// surfaces only translate. Errors are absl::Status made with Ec2Error() carrying
// CloudFormation's codes (ValidationError, AlreadyExistsException, InsufficientCapabilities,
// LimitExceededException, AccessDenied, ...).
//
// Contract:
//  * Thread-safe; answers from the controller's state without waiting for instances: creating,
//    updating and deleting continue in the background and are seen through DescribeStacks /
//    DescribeStackEvents.
//  * A stack is named by its name or its stack id. A deleted stack is found only by its id.
//  * StackCaller.instance_id set (a guest calling through its host): only DescribeStackResource,
//    DescribeStackResources and SignalResource, and only for resources of the stack that created
//    that instance; anything else is AccessDenied.

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "minicloud/v1/cloudformation.pb.h"

namespace minicloud::controller {

struct StackCaller {
  // Set when a guest calls through its host's agent, which verified which instance it is.
  std::optional<std::string> instance_id;
};

// A signal sent to a WaitConditionHandle's URL (cfn-signal <url>, or curl -X PUT with the JSON
// body {"Status","Reason","UniqueId","Data"}).
struct WaitConditionSignal {
  std::string handle_token;  // the opaque part of the handle's URL, as the guest sent it
  std::string status;        // SUCCESS | FAILURE
  std::string reason;
  std::string unique_id;
  std::string data;
};

class StackApi {
 public:
  virtual ~StackApi() = default;

  virtual absl::StatusOr<v1::CreateStackResponse> CreateStack(const v1::CreateStackRequest& req,
                                                              const StackCaller& caller) = 0;
  virtual absl::StatusOr<v1::UpdateStackResponse> UpdateStack(const v1::UpdateStackRequest& req,
                                                              const StackCaller& caller) = 0;
  virtual absl::StatusOr<v1::DeleteStackResponse> DeleteStack(const v1::DeleteStackRequest& req,
                                                              const StackCaller& caller) = 0;
  virtual absl::StatusOr<v1::DescribeStacksResponse> DescribeStacks(
      const v1::DescribeStacksRequest& req, const StackCaller& caller) = 0;
  virtual absl::StatusOr<v1::DescribeStackEventsResponse> DescribeStackEvents(
      const v1::DescribeStackEventsRequest& req, const StackCaller& caller) = 0;
  virtual absl::StatusOr<v1::DescribeStackResourceResponse> DescribeStackResource(
      const v1::DescribeStackResourceRequest& req, const StackCaller& caller) = 0;
  virtual absl::StatusOr<v1::DescribeStackResourcesResponse> DescribeStackResources(
      const v1::DescribeStackResourcesRequest& req, const StackCaller& caller) = 0;
  virtual absl::StatusOr<v1::SignalResourceResponse> SignalResource(
      const v1::SignalResourceRequest& req, const StackCaller& caller) = 0;
  virtual absl::StatusOr<v1::ValidateTemplateResponse> ValidateTemplate(
      const v1::ValidateTemplateRequest& req) = 0;
  // A WaitConditionHandle URL is a bearer URL (as CloudFormation's presigned one is): whoever
  // holds it may signal, so no caller. Unknown or forged tokens are AccessDenied.
  virtual absl::Status SignalWaitCondition(const WaitConditionSignal& signal) = 0;
};

}  // namespace minicloud::controller
