#pragma once

#include "agent/metadata/server.h"
#include "agent/runtime/agent.h"

namespace minicloud::agent {

// The metadata server's source-address lookup over an Agent: the guest that owns the peer
// address (IPv4 peers may arrive v4-mapped on a dual-stack socket). `agent` must outlive the
// server.
metadata::Server::InstanceLookup MetadataLookup(const Agent& agent);

}  // namespace minicloud::agent
