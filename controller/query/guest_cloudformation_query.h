#pragma once

// The guest endpoint (guest_cloudformation.h) over the CloudFormation Query actions of
// cfn_actions.h: what a guest's cfn-init / cfn-signal / cfn-get-metadata / cfn-hup (minicloud's
// or aws-cfn-bootstrap's with --url) reach at http://169.254.169.254/cloudformation/.
//
//  * "/" (GET with a query string, or POST with a form body): a CloudFormation Query request,
//    Version=2010-05-15, answered for StackCaller{instance_id}; only DescribeStackResource,
//    DescribeStackResources and SignalResource (others: AccessDenied, HTTP 403). No signature is
//    read: the host verified the instance (aws-cfn-bootstrap's CFN_V1 Authorization header is
//    ignored). ContentType=JSON answers in aws-cfn-bootstrap's JSON shape, else the XML.
//  * "/waitcondition/<token>" with PUT and the JSON body {"Status","Reason","UniqueId","Data"}
//    (all strings; Status required): StackApi::SignalWaitCondition; 200 with an empty body.
//    Errors in JSON.
//  * Limits: target at most 8 KiB, body at most 64 KiB (what the agent forwards), JSON nested at
//    most 16 deep. Anything else gets an error document, never a crash.

#include <string>

#include "controller/query/guest_cloudformation.h"
#include "controller/service/stack_api.h"

namespace minicloud::query {

inline constexpr size_t kGuestCfnMaxTarget = 8 * 1024;
inline constexpr size_t kGuestCfnMaxBody = 64 * 1024;
inline constexpr int kGuestCfnMaxJsonDepth = 16;

class GuestCloudFormationQuery final : public GuestCloudFormationEndpoint {
 public:
  // `stacks` may be null (stacks not wired): every request answers ServiceUnavailable.
  explicit GuestCloudFormationQuery(controller::StackApi* stacks) : stacks_(stacks) {}

  HttpResponse HandleGuest(const HttpRequest& request, absl::string_view instance_id,
                           const std::string& request_id) override;

 private:
  HttpResponse SignalWaitCondition(const HttpRequest& request, absl::string_view token,
                                   const std::string& request_id);

  controller::StackApi* stacks_;
};

}  // namespace minicloud::query
