#include "agent/runtime/guest_cloudformation.h"

#include <utility>

#include "agent/metadata/guest_routes.h"
#include "common/logging.h"

namespace minicloud::agent {

v1::GuestCloudFormationRequest ToGuestCloudFormationRequest(const std::string& host_id,
                                                            metadata::ForwardRequest request) {
  v1::GuestCloudFormationRequest out;
  out.set_host_id(host_id);
  out.set_instance_id(std::move(request.instance_id));
  out.set_method(std::move(request.method));
  out.set_target(std::move(request.target));
  for (const auto& [name, value] : request.headers.fields()) {
    v1::GuestHttpHeader* h = out.add_headers();
    h->set_name(name);
    h->set_value(value);
  }
  out.set_body(std::move(request.body));
  return out;
}

metadata::Response ToGuestResponse(const absl::StatusOr<v1::GuestCloudFormationResponse>& result) {
  // The guest learns the kind of failure, not the controller's address or other hosts' ids: the
  // details are in the agent's log.
  if (!result.ok()) {
    return metadata::ForwardFailure(
        absl::Status(result.status().code(), "details are in the host agent's log"));
  }
  return metadata::ForwardedResponse(result->status(), result->content_type(), result->body());
}

metadata::Forwarder CloudFormationForwarder(const Agent& agent, ControllerLink& link) {
  return [&agent, &link](metadata::ForwardRequest request, metadata::ForwardDone done) {
    const std::string host_id = agent.host_id();
    if (host_id.empty()) {
      done(metadata::ForwardFailure(
          absl::UnavailableError("this host has not registered with the controller yet")));
      return;
    }
    link.GuestCloudFormation(
        ToGuestCloudFormationRequest(host_id, std::move(request)),
        [done = std::move(done)](absl::StatusOr<v1::GuestCloudFormationResponse> result) {
          if (!result.ok()) {
            spdlog::warn("{}", result.status().message());
          }
          done(ToGuestResponse(result));
        });
  };
}

}  // namespace minicloud::agent
