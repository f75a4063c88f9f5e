#include "controller/query/guest_cloudformation_query.h"

#include <nlohmann/json.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/ec2_error.h"
#include "common/ids.h"
#include "controller/query/cfn_actions.h"
#include "controller/query/cloudformation_query.h"
#include "controller/query/params.h"

namespace minicloud::query {
namespace {

constexpr absl::string_view kWaitConditionPrefix = "/waitcondition/";
constexpr size_t kMaxTokenLength = 1024;

bool IsForm(const HttpRequest& r) {
  for (const auto& [name, value] : r.headers) {
    if (absl::EqualsIgnoreCase(name, "content-type")) {
      return absl::StartsWithIgnoreCase(value, "application/x-www-form-urlencoded");
    }
  }
  return true;  // curl -d and aws-cfn-bootstrap send a form; without a type it is read as one
}

// The deepest nesting of arrays and objects in `text` (strings skipped), so that a hostile body
// never reaches the parser's recursion.
int JsonDepth(absl::string_view text) {
  int depth = 0, deepest = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      deepest = std::max(deepest, ++depth);
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return deepest;
}

absl::Status NotFound(absl::string_view path) {
  return Ec2Error(
      absl::StatusCode::kNotFound, "NotFound",
      absl::StrCat("The guest CloudFormation endpoint has no ", QuoteForMessage(path, 64),
                   "; it serves / (Query actions) and /waitcondition/<token>"));
}

}  // namespace

HttpResponse GuestCloudFormationQuery::HandleGuest(const HttpRequest& request,
                                                   absl::string_view instance_id,
                                                   const std::string& request_id) {
  if (request.target.size() > kGuestCfnMaxTarget) {
    return CloudFormationError(CfnValidationError(absl::StrCat("The request target is longer than ",
                                                               kGuestCfnMaxTarget, " bytes")),
                               /*json=*/false, request_id);
  }
  if (request.body.size() > kGuestCfnMaxBody) {
    return CloudFormationError(CfnValidationError(absl::StrCat("The request body is larger than ",
                                                               kGuestCfnMaxBody, " bytes")),
                               /*json=*/false, request_id);
  }
  if (instance_id.empty()) {
    // The host always names the instance; never answer as nobody.
    return CloudFormationError(Ec2Error(absl::StatusCode::kPermissionDenied, "AccessDenied",
                                        "The request names no instance"),
                               /*json=*/false, request_id);
  }
  const size_t q = request.target.find('?');
  const absl::string_view path = absl::string_view(request.target).substr(0, q);
  const absl::string_view query =
      q == std::string::npos ? "" : absl::string_view(request.target).substr(q + 1);
  if (absl::StartsWith(path, kWaitConditionPrefix)) {
    return SignalWaitCondition(request, path.substr(kWaitConditionPrefix.size()), request_id);
  }
  auto pairs = DecodeForm(query);
  if (!pairs.ok()) return CloudFormationError(pairs.status(), false, request_id);
  if (path != "/" && !path.empty()) {
    return CloudFormationError(NotFound(path), false, request_id);
  }
  if (request.method == "POST" && IsForm(request)) {
    auto body_pairs = DecodeForm(request.body);
    if (!body_pairs.ok()) return CloudFormationError(body_pairs.status(), false, request_id);
    pairs->insert(pairs->end(), body_pairs->begin(), body_pairs->end());
  } else if (request.method != "GET" && request.method != "POST") {
    return CloudFormationError(
        CfnValidationError(absl::StrCat("CloudFormation Query requests are GET or POST, not ",
                                        QuoteForMessage(request.method, 16))),
        false, request_id);
  }
  const controller::StackCaller caller{std::string(instance_id)};
  return AnswerCloudFormation(*pairs, stacks_, caller, /*guest=*/true, request_id);
}

HttpResponse GuestCloudFormationQuery::SignalWaitCondition(const HttpRequest& request,
                                                           absl::string_view token,
                                                           const std::string& request_id) {
  auto fail = [&](const absl::Status& s) {
    return CloudFormationError(s, /*json=*/true, request_id);
  };
  if (request.method != "PUT") {
    return fail(
        CfnValidationError(absl::StrCat("A wait condition handle is signalled with PUT, not ",
                                        QuoteForMessage(request.method, 16))));
  }
  if (token.empty() || token.size() > kMaxTokenLength || absl::StrContains(token, '/')) {
    return fail(Ec2Error(absl::StatusCode::kNotFound, "NotFound",
                         "The wait condition handle URL is /waitcondition/<token>"));
  }
  if (JsonDepth(request.body) > kGuestCfnMaxJsonDepth) {
    return fail(CfnValidationError("The signal's JSON is nested too deeply"));
  }
  const nlohmann::json body = nlohmann::json::parse(request.body, nullptr, false);
  if (body.is_discarded() || !body.is_object()) {
    return fail(CfnValidationError(
        "The signal is a JSON object {\"Status\":\"SUCCESS|FAILURE\",\"Reason\":…,"
        "\"UniqueId\":…,\"Data\":…}"));
  }
  controller::WaitConditionSignal signal;
  signal.handle_token = std::string(token);
  struct Field {
    const char* name;
    std::string* out;
  };
  for (const Field& f : {Field{"Status", &signal.status}, Field{"Reason", &signal.reason},
                         Field{"UniqueId", &signal.unique_id}, Field{"Data", &signal.data}}) {
    const auto it = body.find(f.name);
    if (it == body.end() || it->is_null()) continue;
    if (!it->is_string()) {
      return fail(CfnValidationError(absl::StrCat("The signal's ", f.name, " is a string")));
    }
    *f.out = it->get<std::string>();
  }
  if (signal.status.empty()) return fail(CfnValidationError("The signal has no Status"));
  if (stacks_ == nullptr) {
    return fail(Ec2Error(absl::StatusCode::kUnavailable, "ServiceUnavailable",
                         "CloudFormation stacks are not enabled on this controller"));
  }
  if (absl::Status s = stacks_->SignalWaitCondition(signal); !s.ok()) return fail(s);
  HttpResponse resp;
  resp.content_type = "application/json";
  return resp;
}

}  // namespace minicloud::query
