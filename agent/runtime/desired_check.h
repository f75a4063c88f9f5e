#pragma once

#include <string>
#include <vector>

#include "minicloud/v1/host.pb.h"

namespace minicloud::agent {

// The boundary where the controller's desired state enters the agent. Every instance id in it
// will name a directory under the state directory, a domain and a tap, so a malformed one
// (`../../victim`, an empty id, a newline) is dropped here, before the agent acts on anything:
// the rest of the desired state is kept. Returns one message per dropped instance, for the log.
std::vector<std::string> DropMalformedInstances(v1::DesiredState& desired);

}  // namespace minicloud::agent
