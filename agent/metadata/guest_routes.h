#pragma once

// What the metadata address serves besides the instance metadata, decided as pure functions (the
// server does the I/O):
//
//  * /cloudformation[/...]  the CloudFormation endpoint guests' helpers (cfn-init, cfn-signal,
//    cfn-get-metadata, cfn-hup) talk to. The host forwards the request to the controller with the
//    instance id it verified from the source address (HostService.GuestCloudFormation); the
//    controller answers as that instance (controller/query/guest_cloudformation.h).
//  * /minicloud/cfn-bootstrap.tar.gz  the helpers themselves, a file on the host (agent config
//    `cfn_bootstrap_archive`), for a one-line install from user data.
//
// Both answer only a known instance whose metadata endpoint is enabled, need no IMDSv2 token
// (aws-cfn-bootstrap sends none), and share the server's per-instance rate limit and
// connection caps with IMDS.

#include <cstddef>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "agent/metadata/handler.h"
#include "agent/metadata/instance_metadata.h"

namespace minicloud::metadata {

inline constexpr absl::string_view kCloudFormationPrefix = "/cloudformation";
inline constexpr absl::string_view kCfnBootstrapPath = "/minicloud/cfn-bootstrap.tar.gz";
// The largest body forwarded to the controller; more is refused with 413 (IMDS keeps its own,
// smaller limit: ServerOptions::max_body_bytes).
inline constexpr size_t kMaxCloudFormationBody = 64 * 1024;

enum class GuestRoute {
  kImds,            // everything else: Handle() (handler.h)
  kCloudFormation,  // forwarded to the controller
  kCfnBootstrap,    // the helper archive
};

// The route of a request-target. Only origin-form targets whose path is exactly
// "/cloudformation" or starts with "/cloudformation/" (a query may follow either) are
// CloudFormation's; "/cloudformationx" and proxy forms stay with IMDS (which answers 404 / 403).
GuestRoute RouteOf(absl::string_view target);

// The body limit a request with this target may have (read before the body).
size_t BodyLimitFor(absl::string_view target, size_t imds_limit);

// A CloudFormation request either answered at once (an error) or forwarded with `target`.
struct CloudFormationDecision {
  std::optional<Response> answer;
  // The path after "/cloudformation", always starting with '/', with the query string:
  // "/cloudformation" -> "/", "/cloudformation?Action=X" -> "/?Action=X".
  std::string target;
};

// The checks before forwarding: 403 when no instance owns the source or its metadata endpoint is
// disabled (the whole metadata address is off then), 403 for a request that came through a proxy
// (X-Forwarded-For, as IMDS refuses token requests that carry it: it keeps a web application on
// the guest from being turned into a signalling relay), 413 for a body over
// kMaxCloudFormationBody. Methods are the endpoint's business (it answers 405 itself).
CloudFormationDecision DecideCloudFormation(const Request& request, size_t body_size,
                                            const InstanceMetadata* instance);

// The checks before serving the archive: GET and HEAD only (405), a known instance with the
// metadata endpoint enabled (403). nullopt: serve the file.
std::optional<Response> DecideCfnBootstrap(const Request& request,
                                           const InstanceMetadata* instance);

// The answer when forwarding failed: 503 (text/plain) saying the controller could not be reached,
// 403 when the controller refused the host's claim (PermissionDenied), 502 for anything else.
Response ForwardFailure(const absl::Status& status);

// The controller's answer as written to the guest: a status outside 200..599, or one that has no
// body in HTTP (204, 304), becomes 502; a content type that could split the header is replaced by
// text/plain.
Response ForwardedResponse(int status, absl::string_view content_type, std::string body);

// 404 when the archive's file is missing or unreadable (text/plain, naming the config key, not
// the host's path), 200 application/gzip with `size` as content length otherwise.
Response ArchiveMissing();
Response ArchiveFound(size_t size);

}  // namespace minicloud::metadata
