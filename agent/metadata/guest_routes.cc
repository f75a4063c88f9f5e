#include "agent/metadata/guest_routes.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace minicloud::metadata {

namespace {

constexpr absl::string_view kTextPlain = "text/plain; charset=utf-8";

Response Text(int status, std::string body) {
  Response r;
  r.status = status;
  r.headers.Add("Content-Type", kTextPlain);
  r.body = std::move(body);
  return r;
}

// The path of the target, without query or fragment.
absl::string_view PathOf(absl::string_view target) {
  const size_t q = target.find_first_of("?#");
  return q == absl::string_view::npos ? target : target.substr(0, q);
}

// Refused before any route-specific check: no instance owns the source, or the instance turned
// its metadata endpoint off (HttpEndpoint=disabled switches off the whole address).
std::optional<Response> RefuseSource(const InstanceMetadata* instance) {
  if (instance == nullptr) {
    return Text(403, "Forbidden: no instance owns this source address.\n");
  }
  if (instance->options.http_endpoint == HttpEndpoint::kDisabled) {
    return Text(403, "Forbidden: the instance metadata endpoint of this instance is disabled.\n");
  }
  return std::nullopt;
}

}  // namespace

GuestRoute RouteOf(absl::string_view target) {
  const absl::string_view path = PathOf(target);
  if (path == kCfnBootstrapPath) return GuestRoute::kCfnBootstrap;
  if (!absl::StartsWith(path, kCloudFormationPrefix)) return GuestRoute::kImds;
  const absl::string_view rest = path.substr(kCloudFormationPrefix.size());
  if (rest.empty() || rest.front() == '/') return GuestRoute::kCloudFormation;
  return GuestRoute::kImds;
}

size_t BodyLimitFor(absl::string_view target, size_t imds_limit) {
  return RouteOf(target) == GuestRoute::kCloudFormation ? kMaxCloudFormationBody : imds_limit;
}

CloudFormationDecision DecideCloudFormation(const Request& request, size_t body_size,
                                            const InstanceMetadata* instance) {
  CloudFormationDecision d;
  if (auto refused = RefuseSource(instance)) {
    d.answer = std::move(refused);
    return d;
  }
  if (request.headers.Has("X-Forwarded-For")) {
    d.answer = Text(403,
                    "Forbidden: requests relayed by a proxy (X-Forwarded-For) are not accepted "
                    "by the CloudFormation endpoint.\n");
    return d;
  }
  if (body_size > kMaxCloudFormationBody) {
    d.answer = Text(413, absl::StrCat("Payload Too Large: the CloudFormation endpoint accepts at "
                                      "most ",
                                      kMaxCloudFormationBody, " bytes of body.\n"));
    return d;
  }
  absl::string_view rest = request.target;
  rest.remove_prefix(kCloudFormationPrefix.size());
  d.target = rest.empty() || rest.front() != '/' ? absl::StrCat("/", rest) : std::string(rest);
  return d;
}

std::optional<Response> DecideCfnBootstrap(const Request& request,
                                           const InstanceMetadata* instance) {
  if (request.method != "GET" && request.method != "HEAD") {
    Response r = Text(405, "Method Not Allowed: the helper archive answers GET and HEAD.\n");
    r.headers.Add("Allow", "GET, HEAD");
    return r;
  }
  return RefuseSource(instance);
}

Response ForwardFailure(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kUnauthenticated:
      return Text(
          403,
          absl::StrCat("Forbidden: the controller refused this request: ", status.message(), "\n"));
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kUnimplemented:
    case absl::StatusCode::kCancelled:
    case absl::StatusCode::kResourceExhausted:
      return Text(503, absl::StrCat("Service Unavailable: the CloudFormation endpoint cannot "
                                    "reach the controller; try again later (",
                                    status.message(), ")\n"));
    default:
      return Text(502, absl::StrCat("Bad Gateway: the controller did not answer the "
                                    "CloudFormation request (",
                                    status.message(), ")\n"));
  }
}

Response ForwardedResponse(int status, absl::string_view content_type, std::string body) {
  // 1xx, 204 and 304 carry no body in HTTP/1.1 (RFC 9112 section 6.3): one with a body would
  // desynchronise the guest's connection. CloudFormation answers none of them.
  if (status < 200 || status > 599 || status == 204 || status == 304) {
    return Text(
        502, absl::StrCat("Bad Gateway: the controller answered with HTTP status ", status, "\n"));
  }
  Response r;
  r.status = status;
  const bool splits = content_type.find_first_of("\r\n") != absl::string_view::npos;
  r.headers.Add("Content-Type", content_type.empty() || splits ? kTextPlain : content_type);
  r.body = std::move(body);
  return r;
}

Response ArchiveMissing() {
  return Text(404,
              "Not Found: this host has no cfn-bootstrap archive (set cfn_bootstrap_archive in "
              "the agent's configuration to the file built as guest/cfn-bootstrap.tar.gz).\n");
}

Response ArchiveFound(size_t size) {
  Response r;
  r.status = 200;
  r.headers.Add("Content-Type", "application/gzip");
  r.content_length = size;
  return r;
}

}  // namespace minicloud::metadata
