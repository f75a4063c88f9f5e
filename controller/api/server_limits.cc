#include "controller/api/server_limits.h"

#include <grpcpp/resource_quota.h>

namespace minicloud::controller {

void ApplyServerLimits(grpc::ServerBuilder& builder, const WatchLimits& watch) {
  builder.SetMaxReceiveMessageSize(kMaxRequestBytes);
  grpc::ResourceQuota quota("minicloud-controller");
  quota.SetMaxThreads(watch.max_waiting + kApiThreads);
  builder.SetResourceQuota(quota);
}

}  // namespace minicloud::controller
