#include "controller/query/cloudformation_query.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "common/ec2_error.h"
#include "common/ids.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "controller/cloudformation/template.h"
#include "controller/cloudformation/template_error.h"
#include "controller/query/action.h"
#include "controller/query/errors.h"
#include "controller/query/params.h"
#include "controller/query/xml.h"

namespace minicloud::query {
namespace {

namespace cfn = ::minicloud::cloudformation;

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

// ValidateTemplate: TemplateBody checked by the template engine; the template's parameters as
// CloudFormation lists them (ParameterKey, DefaultValue, NoEcho, Description), its Description,
// and the capabilities it needs (none: minicloud's resource types need no IAM capability).
absl::Status ValidateTemplate(Params& params, XmlNode result) {
  ParamNode& root = params.root();
  const std::optional<std::string> body = root.String("TemplateBody");
  const std::optional<std::string> url = root.String("TemplateURL");
  MC_RETURN_IF_ERROR(CheckAllParametersUsed(params));
  if (url) {
    return cfn::ValidationError("TemplateURL is not supported by minicloud; send TemplateBody");
  }
  if (!body) {
    return cfn::ValidationError("Either Template URL or Template Body must be specified.");
  }
  MC_ASSIGN_OR_RETURN(const cfn::Template t, cfn::ParseTemplate(*body));
  XmlNode list = Child(result, "Parameters");
  for (const cfn::ParameterDecl& p : t.parameters) {
    XmlNode member = Child(list, "member");
    Text(member, "ParameterKey", p.name);
    // CloudFormation hides a NoEcho parameter's default as it hides its value.
    if (p.default_value) Text(member, "DefaultValue", p.no_echo ? "****" : *p.default_value);
    Text(member, "NoEcho", p.no_echo ? "true" : "false");
    if (!p.description.empty()) Text(member, "Description", p.description);
  }
  if (!t.description.empty()) Text(result, "Description", t.description);
  Child(result, "Capabilities");
  Child(result, "DeclaredTransforms");
  return absl::OkStatus();
}

using CfnAction = absl::Status (*)(Params&, XmlNode);

CfnAction FindAction(absl::string_view name) {
  if (name == "ValidateTemplate") return &ValidateTemplate;
  return nullptr;
}

absl::Status Dispatch(const HttpRequest& request, const auth::RequestVerifier& verifier,
                      const std::string& request_id, std::string* out) {
  if (request.method != "GET" && request.method != "POST") {
    return Ec2Error(absl::StatusCode::kInvalidArgument, "UnsupportedProtocol",
                    "The CloudFormation Query API takes GET and POST");
  }
  const auth::SignedRequest signed_request = SignedRequestOf(request);
  MC_ASSIGN_OR_RETURN(const auth::Caller caller, verifier.Verify(signed_request, "cloudformation"));
  if (caller.allowed_actions.has_value()) {
    return Ec2Error(absl::StatusCode::kPermissionDenied, "AccessDenied",
                    "Instance credentials cannot call CloudFormation actions");
  }
  MC_ASSIGN_OR_RETURN(auto pairs, DecodeForm(signed_request.query));
  if (request.method == "POST" && IsForm(request)) {
    MC_ASSIGN_OR_RETURN(auto body_pairs, DecodeForm(request.body));
    pairs.insert(pairs.end(), std::make_move_iterator(body_pairs.begin()),
                 std::make_move_iterator(body_pairs.end()));
  }
  MC_ASSIGN_OR_RETURN(Params params, Params::Parse(pairs));
  ParamNode& root = params.root();
  for (const char* name : {"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires",
                           "X-Amz-Signature", "X-Amz-SignedHeaders", "X-Amz-Security-Token"}) {
    root.String(name);
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
  const CfnAction fn = FindAction(*action);
  if (fn == nullptr) {
    return Ec2Error(absl::StatusCode::kInvalidArgument, "InvalidAction",
                    absl::StrCat("The action ", QuoteForMessage(*action, 64),
                                 " is not valid for this web service."));
  }
  const std::string result_name = *action + "Result";
  XmlStream xml(out);
  *out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>";
  XmlNode response = xml.OpenRoot(*action + "Response", kCloudFormationNamespace);
  // The stream keeps element names as pointers: the name outlives the stream.
  XmlNode result = Child(response, result_name.c_str());
  MC_RETURN_IF_ERROR(fn(params, result));
  Text(Child(response, "ResponseMetadata"), "RequestId", request_id);
  if (!xml.Close()) return absl::InternalError("CloudFormation response written out of order");
  return absl::OkStatus();
}

}  // namespace

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
                                  const std::string& request_id) {
  HttpResponse resp;
  const absl::Status s = Dispatch(request, verifier, request_id, &resp.body);
  if (s.ok()) return resp;
  const WireError e = ToWireError(s);
  if (e.http_status >= 500) {
    spdlog::error("CloudFormation query request {}: {}", request_id, s.ToString());
  }
  resp.status = e.http_status;
  resp.body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>";
  XmlStream xml(&resp.body);
  XmlNode root = xml.OpenRoot("ErrorResponse", kCloudFormationNamespace);
  XmlNode error = Child(root, "Error");
  Text(error, "Type", e.http_status >= 500 ? "Receiver" : "Sender");
  Text(error, "Code", e.code);
  Text(error, "Message", e.message);
  Text(root, "RequestId", request_id);
  xml.Close();
  return resp;
}

}  // namespace minicloud::query
