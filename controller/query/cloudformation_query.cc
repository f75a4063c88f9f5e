#include "controller/query/cloudformation_query.h"

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "common/ec2_error.h"
#include "common/ids.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "controller/query/cfn_actions.h"
#include "controller/query/cfn_shape.h"
#include "controller/query/errors.h"
#include "controller/query/params.h"

namespace minicloud::query {
namespace {

// "AWS4-HMAC-SHA256 Credential=AKID/20261204/us-east-1/cloudformation/aws4_request, …" or the
// query parameter X-Amz-Credential=AKID%2F…%2Fcloudformation%2Faws4_request.
std::string ServiceOfCredential(absl::string_view credential) {
  std::vector<absl::string_view> parts = absl::StrSplit(credential, '/');
  if (parts.size() != 5) return "";
  return absl::AsciiStrToLower(parts[3]);
}

bool IsForm(const HttpRequest& r) {
  for (const auto& [name, value] : r.headers) {
    if (absl::EqualsIgnoreCase(name, "content-type")) {
      return absl::StartsWithIgnoreCase(value, "application/x-www-form-urlencoded");
    }
  }
  return true;
}

// ContentType=JSON exactly (aws-cfn-bootstrap's cfn_client.py sends it so).
bool WantsJson(const std::vector<std::pair<std::string, std::string>>& pairs) {
  for (const auto& [name, value] : pairs) {
    if (name == "ContentType") return value == "JSON";
  }
  return false;
}

absl::Status Run(const std::vector<std::pair<std::string, std::string>>& pairs,
                 controller::StackApi* stacks, const controller::StackCaller& caller, bool guest,
                 const std::string& request_id, bool json, std::string* out) {
  MC_ASSIGN_OR_RETURN(Params params, Params::Parse(pairs));
  ParamNode& root = params.root();
  for (const char* name : {"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires",
                           "X-Amz-Signature", "X-Amz-SignedHeaders", "X-Amz-Security-Token"}) {
    root.String(name);
  }
  if (auto type = root.String("ContentType"); type && *type != "JSON" && *type != "XML") {
    return CfnValidationError(
        absl::StrCat("ContentType is JSON or XML, not ", QuoteForMessage(*type, 16)));
  }
  const std::optional<std::string> action = root.String("Action");
  if (!action || action->empty()) {
    return Ec2Error(absl::StatusCode::kInvalidArgument, "MissingAction",
                    "The request must contain the parameter Action");
  }
  const std::optional<std::string> version = root.String("Version");
  if (!version || *version != kCloudFormationApiVersion) {
    return Ec2Error(absl::StatusCode::kInvalidArgument, "InvalidParameterValue",
                    absl::StrCat("CloudFormation's API version is ", kCloudFormationApiVersion));
  }
  const CfnActionTable& table = CloudFormationActions();
  const auto it = table.find(*action);
  if (it == table.end()) {
    return Ec2Error(absl::StatusCode::kInvalidArgument, "InvalidAction",
                    absl::StrCat("The action ", QuoteForMessage(*action, 64),
                                 " is not valid for this web service."));
  }
  if (guest && !it->second.guest) {
    return Ec2Error(absl::StatusCode::kPermissionDenied, "AccessDenied",
                    absl::StrCat("An instance may call DescribeStackResource, "
                                 "DescribeStackResources and SignalResource only, not ",
                                 *action));
  }
  if (stacks == nullptr) {
    return Ec2Error(absl::StatusCode::kUnavailable, "ServiceUnavailable",
                    "CloudFormation stacks are not enabled on this controller");
  }
  Shape result;
  CfnContext ctx{*stacks, caller, params, result};
  MC_RETURN_IF_ERROR(it->second.fn(ctx));
  const Shape* r = it->second.has_result ? &result : nullptr;
  *out = json ? CfnResponseJson(*action, r, request_id) : CfnResponseXml(*action, r, request_id);
  return absl::OkStatus();
}

}  // namespace

HttpResponse CloudFormationError(const absl::Status& s, bool json, const std::string& request_id) {
  const WireError e = ToWireError(s);
  if (e.http_status >= 500 && e.http_status != 503) {
    spdlog::error("CloudFormation query request {}: {}", request_id, s.ToString());
  }
  HttpResponse resp;
  // EC2 answers its not-found codes with 400; an unknown path of the guest endpoint is a 404.
  resp.status = e.code == "NotFound" ? 404 : e.http_status;
  const bool sender = e.http_status < 500;
  if (json) {
    resp.content_type = "application/json";
    resp.body = CfnErrorJson(sender, e.code, e.message, request_id);
  } else {
    resp.body = CfnErrorXml(sender, e.code, e.message, request_id);
  }
  return resp;
}

HttpResponse AnswerCloudFormation(const std::vector<std::pair<std::string, std::string>>& pairs,
                                  controller::StackApi* stacks,
                                  const controller::StackCaller& caller, bool guest,
                                  const std::string& request_id) {
  const bool json = WantsJson(pairs);
  HttpResponse resp;
  if (json) resp.content_type = "application/json";
  const absl::Status s = Run(pairs, stacks, caller, guest, request_id, json, &resp.body);
  if (s.ok()) return resp;
  return CloudFormationError(s, json, request_id);
}

std::string CredentialScopeService(const HttpRequest& request) {
  for (const auto& [name, value] : request.headers) {
    if (!absl::EqualsIgnoreCase(name, "authorization")) continue;
    const size_t at = value.find("Credential=");
    if (at == std::string::npos) return "";
    const size_t start = at + std::string("Credential=").size();
    const size_t end = value.find_first_of(", ", start);
    return ServiceOfCredential(absl::string_view(value).substr(start, end - start));
  }
  const size_t q = request.target.find('?');
  if (q == std::string::npos) return "";
  for (absl::string_view pair : absl::StrSplit(request.target.substr(q + 1), '&')) {
    if (!absl::StartsWith(pair, "X-Amz-Credential=")) continue;
    std::string credential(pair.substr(std::string("X-Amz-Credential=").size()));
    credential = absl::StrReplaceAll(credential, {{"%2F", "/"}, {"%2f", "/"}});
    return ServiceOfCredential(credential);
  }
  return "";
}

HttpResponse HandleCloudFormation(const HttpRequest& request, const auth::RequestVerifier& verifier,
                                  controller::StackApi* stacks, const std::string& request_id) {
  auto pairs = [&]() -> absl::StatusOr<std::vector<std::pair<std::string, std::string>>> {
    if (request.method != "GET" && request.method != "POST") {
      return Ec2Error(absl::StatusCode::kInvalidArgument, "UnsupportedProtocol",
                      "The CloudFormation Query API takes GET and POST");
    }
    // Nothing is read before the signature is verified.
    const auth::SignedRequest signed_request = SignedRequestOf(request);
    MC_ASSIGN_OR_RETURN(const auth::Caller caller,
                        verifier.Verify(signed_request, "cloudformation"));
    if (caller.allowed_actions.has_value()) {
      return Ec2Error(absl::StatusCode::kPermissionDenied, "AccessDenied",
                      "Instance credentials cannot call CloudFormation actions");
    }
    MC_ASSIGN_OR_RETURN(auto all, DecodeForm(signed_request.query));
    if (request.method == "POST" && IsForm(request)) {
      MC_ASSIGN_OR_RETURN(auto body_pairs, DecodeForm(request.body));
      all.insert(all.end(), std::make_move_iterator(body_pairs.begin()),
                 std::make_move_iterator(body_pairs.end()));
    }
    return all;
  }();
  if (!pairs.ok()) return CloudFormationError(pairs.status(), /*json=*/false, request_id);
  return AnswerCloudFormation(*pairs, stacks, controller::StackCaller{}, /*guest=*/false,
                              request_id);
}

}  // namespace minicloud::query
