#pragma once

// The CloudFormation Query protocol (API version 2010-05-15) on the controller's Query HTTP
// server, next to EC2's. A request is CloudFormation's when its SigV4 credential scope names the
// service "cloudformation" (the aws CLI and boto3 sign `aws cloudformation …` that way); it is
// then verified for that service, its Version must be 2010-05-15, and answers and errors use the
// query protocol's XML (botocore's cloudformation service model: `<{Action}Response>` with a
// `<{Action}Result>` wrapper and `<ResponseMetadata>`; errors as `<ErrorResponse><Error><Type>
// <Code><Message></Error><RequestId>`), in CloudFormation's namespace.
//
// Only account keys call CloudFormation actions: instance credentials (a caller with an allowed
// action list) are refused with AccessDenied. The actions themselves are the table of
// cfn_actions.h over a StackApi; without one (a controller whose stacks are not wired) every
// action answers ServiceUnavailable (HTTP 503).
//
// ContentType=JSON (as aws-cfn-bootstrap sends it) answers in CloudFormation's JSON form instead
// of XML, on this endpoint as on the guest endpoint.

#include <string>
#include <utility>
#include <vector>

#include "common/auth/signed_request.h"
#include "controller/query/http_types.h"
#include "controller/service/stack_api.h"

namespace minicloud::query {

inline constexpr char kCloudFormationApiVersion[] = "2010-05-15";
inline constexpr char kCloudFormationNamespace[] =
    "http://cloudformation.amazonaws.com/doc/2010-05-15/";

// The service named by the request's SigV4 credential scope (Authorization header, or the
// presigned X-Amz-Credential parameter), lower case; "" when there is none to read. Only routes:
// the verifier checks the signature over that scope afterwards.
std::string CredentialScopeService(const HttpRequest& request);

// Answers one CloudFormation Query request of an account key. `stacks` may be null. Never throws
// on any input.
HttpResponse HandleCloudFormation(const HttpRequest& request, const auth::RequestVerifier& verifier,
                                  controller::StackApi* stacks, const std::string& request_id);

// The part both endpoints share: the decoded parameters of one request (query string and form
// body) → Action and Version checked, the action run for `caller`, the answer (or the error) in
// XML or, with ContentType=JSON, JSON. `guest`: only the actions a guest may call.
HttpResponse AnswerCloudFormation(const std::vector<std::pair<std::string, std::string>>& pairs,
                                  controller::StackApi* stacks,
                                  const controller::StackCaller& caller, bool guest,
                                  const std::string& request_id);

// The answer to a failed request, as `json` or XML.
HttpResponse CloudFormationError(const absl::Status& status, bool json,
                                 const std::string& request_id);

}  // namespace minicloud::query
