#include "guest/cfn/cfn_api.h"

#include <algorithm>
#include <thread>

namespace minicloud::guest {

using nlohmann::json;

namespace {

constexpr char kVersion[] = "2010-05-15";

std::string Field(const json& object, const char* name) {
  auto it = object.find(name);
  if (it == object.end() || !it->is_string()) return "";
  return it->get<std::string>();
}

// The error an answer other than 200 carries: CloudFormation's {"Error":{Code,Message}} (JSON),
// else the status and the first line of the body.
Status ErrorOf(const HttpResponse& response, const std::string& action) {
  const std::string prefix = action + ": HTTP " + std::to_string(response.status);
  json parsed = json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_object() && parsed.contains("Error") && parsed["Error"].is_object()) {
    const json& e = parsed["Error"];
    return Error(prefix + ": " + Field(e, "Code") + ": " + Field(e, "Message"));
  }
  // An XML error (the Query protocol's ErrorResponse, or another server's error document).
  auto element = [&](const std::string& name) {
    size_t open = response.body.find("<" + name + ">");
    size_t close = response.body.find("</" + name + ">");
    if (open == std::string::npos || close == std::string::npos || close < open)
      return std::string();
    open += name.size() + 2;
    return response.body.substr(open, std::min<size_t>(close - open, 300));
  };
  if (!element("Code").empty() || !element("Message").empty()) {
    return Error(prefix + ": " + element("Code") + ": " + element("Message"));
  }
  std::string first = response.body.substr(0, response.body.find('\n')).substr(0, 200);
  return Error(prefix + (first.empty() ? "" : ": " + first));
}

}  // namespace

std::string DescribeStackResourceBody(const std::string& stack, const std::string& resource) {
  return "Action=DescribeStackResource&StackName=" + FormEncode(stack) +
         "&LogicalResourceId=" + FormEncode(resource) + "&Version=" + kVersion +
         "&ContentType=JSON";
}

std::string SignalResourceBody(const SignalRequest& s) {
  std::string body = "Action=SignalResource&StackName=" + FormEncode(s.stack) +
                     "&LogicalResourceId=" + FormEncode(s.resource) +
                     "&UniqueId=" + FormEncode(s.unique_id) +
                     "&Status=" + (s.success ? "SUCCESS" : "FAILURE");
  if (!s.reason.empty()) body += "&Reason=" + FormEncode(s.reason);
  return body + "&Version=" + kVersion + "&ContentType=JSON";
}

StatusOr<ResourceDetail> ParseDescribeStackResource(const HttpResponse& response) {
  if (response.status != 200) return ErrorOf(response, "DescribeStackResource");
  json parsed = json::parse(response.body, nullptr, false);
  const json* detail = nullptr;
  if (parsed.is_object()) {
    auto r = parsed.find("DescribeStackResourceResponse");
    if (r != parsed.end() && r->is_object()) {
      auto res = r->find("DescribeStackResourceResult");
      if (res != r->end() && res->is_object()) {
        auto d = res->find("StackResourceDetail");
        if (d != res->end() && d->is_object()) detail = &*d;
      }
    }
  }
  if (detail == nullptr) {
    return Error("DescribeStackResource: the answer is not a DescribeStackResourceResponse");
  }
  ResourceDetail out;
  out.stack_id = Field(*detail, "StackId");
  out.stack_name = Field(*detail, "StackName");
  out.logical_id = Field(*detail, "LogicalResourceId");
  out.physical_id = Field(*detail, "PhysicalResourceId");
  out.resource_type = Field(*detail, "ResourceType");
  out.status = Field(*detail, "ResourceStatus");
  auto m = detail->find("Metadata");
  if (m != detail->end() && m->is_string() && !m->get<std::string>().empty()) {
    out.metadata = json::parse(m->get<std::string>(), nullptr, false);
    if (out.metadata.is_discarded()) {
      return Error("DescribeStackResource: the resource's Metadata is not JSON");
    }
  } else if (m != detail->end() && m->is_object()) {
    out.metadata = *m;  // tolerated: an endpoint that nests the object itself
  }
  return out;
}

Status ParseSignalResponse(const HttpResponse& response) {
  if (response.status != 200) return ErrorOf(response, "SignalResource");
  return OkStatus();
}

std::string ActionUrl(const std::string& base_url) {
  std::string url = base_url;
  if (url.empty() || url.back() != '/') url += '/';
  return url;
}

namespace {

StatusOr<HttpResponse> SendWithRetry(const HttpRequest& request, const RetryPolicy& retry) {
  std::chrono::milliseconds delay = retry.first_delay;
  for (int attempt = 1;; ++attempt) {
    StatusOr<HttpResponse> response = SendHttp(request);
    bool again = !response.ok() || response->status >= 500;
    if (!again || attempt >= retry.attempts) return response;
    std::this_thread::sleep_for(delay);
    delay *= 2;
  }
}

StatusOr<HttpResponse> PostForm(const std::string& base_url, const std::string& body,
                                const RetryPolicy& retry) {
  HttpRequest request;
  request.method = "POST";
  request.url = ActionUrl(base_url);
  request.headers["Content-Type"] = "application/x-www-form-urlencoded";
  request.headers["Accept"] = "application/json";
  request.body = body;
  return SendWithRetry(request, retry);
}

}  // namespace

StatusOr<ResourceDetail> DescribeStackResource(const std::string& base_url,
                                               const std::string& stack,
                                               const std::string& resource,
                                               const RetryPolicy& retry) {
  auto response = PostForm(base_url, DescribeStackResourceBody(stack, resource), retry);
  if (!response.ok()) return response.status();
  return ParseDescribeStackResource(*response);
}

Status SignalResource(const std::string& base_url, const SignalRequest& signal,
                      const RetryPolicy& retry) {
  auto response = PostForm(base_url, SignalResourceBody(signal), retry);
  if (!response.ok()) return response.status();
  return ParseSignalResponse(*response);
}

std::string WaitConditionBody(bool success, const std::string& reason, const std::string& unique_id,
                              const std::string& data) {
  json body = {{"Status", success ? "SUCCESS" : "FAILURE"},
               {"Reason", reason},
               {"UniqueId", unique_id},
               {"Data", data}};
  return body.dump();
}

Status SignalWaitCondition(const std::string& handle_url, const std::string& body,
                           const RetryPolicy& retry) {
  HttpRequest request;
  request.method = "PUT";
  request.url = handle_url;
  // Like a presigned URL's PUT: the body is JSON, no content type is claimed.
  request.headers["Content-Type"] = "";
  request.body = body;
  auto response = SendWithRetry(request, retry);
  if (!response.ok()) return response.status();
  if (response->status < 200 || response->status > 299) {
    return ErrorOf(*response, "WaitCondition signal");
  }
  return OkStatus();
}

StatusOr<std::string> InstanceIdFromImds(const std::string& imds_base) {
  HttpRequest token_request;
  token_request.method = "PUT";
  token_request.url = imds_base + "/latest/api/token";
  token_request.headers["X-aws-ec2-metadata-token-ttl-seconds"] = "60";
  token_request.timeout = std::chrono::milliseconds(3000);
  HttpRequest id_request;
  id_request.url = imds_base + "/latest/meta-data/instance-id";
  id_request.timeout = std::chrono::milliseconds(5000);
  auto token = SendHttp(token_request);
  if (token.ok() && token->status == 200 && !token->body.empty()) {
    id_request.headers["X-aws-ec2-metadata-token"] = token->body;
  }
  auto id = SendHttp(id_request);
  if (!id.ok()) return id.status().WithContext("instance id from the metadata service");
  if (id->status != 200 || id->body.empty()) {
    return Error("instance id from the metadata service: HTTP " + std::to_string(id->status));
  }
  return id->body;
}

StatusOr<json> LookupKey(const json& root, const std::string& dotted) {
  const json* at = &root;
  size_t start = 0;
  while (start <= dotted.size()) {
    size_t dot = dotted.find('.', start);
    std::string part = dotted.substr(start, dot == std::string::npos ? dot : dot - start);
    if (at->is_object() && at->contains(part)) {
      at = &(*at)[part];
    } else if (at->is_array() && !part.empty() && part.size() < 10 &&
               part.find_first_not_of("0123456789") == std::string::npos &&
               std::stoul(part) < at->size()) {
      at = &(*at)[std::stoul(part)];
    } else {
      return Error("key " + dotted + ": no " + part + " in the metadata");
    }
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return *at;
}

}  // namespace minicloud::guest
