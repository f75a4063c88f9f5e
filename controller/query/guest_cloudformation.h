#pragma once

// The CloudFormation endpoint guests reach through their host: the agent serves
// http://169.254.169.254/cloudformation/... next to the instance metadata, verifies which
// instance sent the request (as it does for IMDS) and forwards it to the controller
// (HostService.GuestCloudFormation), which answers through this interface.
//
// Contract of HandleGuest:
//  * `request.target` is the path after "/cloudformation" (always starting with '/') with its
//    query string; headers and body as the guest sent them.
//  * `instance_id` was verified by the host that runs the instance; the endpoint answers as that
//    instance (StackCaller.instance_id), never as an account key.
//  * "/" with a CloudFormation Query request (Action=DescribeStackResource | SignalResource |
//    DescribeStackResources, Version=2010-05-15, form body or query string) answers in the
//    Query protocol's XML, or in JSON when the request says ContentType=JSON (as aws-cfn-bootstrap
//    asks). "/waitcondition/<token>" with PUT signals a WaitConditionHandle.
//  * Never throws; hostile input gets an error response, never a crash.

#include <string>

#include "absl/strings/string_view.h"
#include "controller/query/http_types.h"

namespace minicloud::query {

class GuestCloudFormationEndpoint {
 public:
  virtual ~GuestCloudFormationEndpoint() = default;
  virtual HttpResponse HandleGuest(const HttpRequest& request, absl::string_view instance_id,
                                   const std::string& request_id) = 0;
};

}  // namespace minicloud::query
