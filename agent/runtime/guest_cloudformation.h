#pragma once

// The agent's side of the CloudFormation endpoint on the metadata address: what the metadata
// server forwards (agent/metadata/guest_routes.h) goes to the controller as
// HostService.GuestCloudFormation with this host's id and the instance id the server found for
// the request's source address; the controller's answer, or why there is none, goes back to the
// guest. Nothing here blocks: the link's call is asynchronous.

#include <string>

#include "absl/status/statusor.h"
#include "agent/metadata/server.h"
#include "agent/runtime/agent.h"
#include "agent/runtime/controller_link.h"
#include "minicloud/v1/host.pb.h"

namespace minicloud::agent {

// The RPC's request for a forwarded guest request (field by field; nothing added or dropped).
v1::GuestCloudFormationRequest ToGuestCloudFormationRequest(const std::string& host_id,
                                                            metadata::ForwardRequest request);

// What the guest is answered: the controller's response as it is, or the kind of failure
// (metadata::ForwardFailure: 503 when the controller cannot be reached, 403 when it refused),
// without the error's text (it names the controller's address; the agent logs it).
metadata::Response ToGuestResponse(const absl::StatusOr<v1::GuestCloudFormationResponse>& result);

// The forwarder for metadata::ServerOptions::cloudformation. `agent` and `link` must outlive the
// server; an agent that has not registered yet answers 503.
metadata::Forwarder CloudFormationForwarder(const Agent& agent, ControllerLink& link);

}  // namespace minicloud::agent
