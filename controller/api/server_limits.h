#pragma once

#include <grpcpp/grpcpp.h>

#include "controller/service/fleet_service.h"

namespace minicloud::controller {

// The largest request message the controller's gRPC server accepts. The largest legitimate
// unary requests are far below it: RunInstances carries at most 16 KiB of user data and 50 tags;
// an agent's ReportStatus lists its instances at a few hundred bytes each (4 MiB is over 10,000
// instances on one host); streamed uploads send chunks of at most 1 MiB. Larger messages are
// refused by gRPC with RESOURCE_EXHAUSTED before any handler runs.
inline constexpr int kMaxRequestBytes = 4 << 20;

// Server threads kept for calls that do not wait (the API, registration, reports), on top of
// one per WatchDesired call allowed to wait.
inline constexpr int kApiThreads = 256;

// Applies the controller's limits to its gRPC server: the request size above, and at most
// watch.max_waiting + kApiThreads threads (gRPC answers a call that would need one more with
// RESOURCE_EXHAUSTED). Used by the controller's main and by tests that build its server.
void ApplyServerLimits(grpc::ServerBuilder& builder, const WatchLimits& watch);

}  // namespace minicloud::controller
