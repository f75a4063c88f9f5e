#pragma once

// VolumeServiceClient over gRPC: the controller's calls to one availability zone's
// minicloud-volumed (proto/minicloud/v1/volume_service.proto, package minicloud.volume.v1).
//
// Status mapping (the contract in volume_fleet.h):
//  - UNAVAILABLE, DEADLINE_EXCEEDED and CANCELLED become Unavailable: the daemon was not reached
//    or its answer was lost. Every daemon call is idempotent by id, so the controller keeps the
//    volume in its transitional state and asks again (VolumeService::Reconcile).
//  - Every other code is the daemon's final answer and keeps its code (NOT_FOUND,
//    ALREADY_EXISTS, INVALID_ARGUMENT, FAILED_PRECONDITION, ...), with the call and volume id
//    added to the message.
// Each call carries a deadline; the channel does not wait for a daemon that is down (fail fast).

#include <memory>
#include <string>

#include "absl/time/time.h"
#include "controller/volumes/volume_fleet.h"

namespace minicloud::controller {

struct GrpcVolumeServiceOptions {
  std::string endpoint;                         // host:port of minicloud-volumed's gRPC listener
  absl::Duration deadline = absl::Seconds(30);  // per call
};

std::shared_ptr<VolumeServiceClient> MakeGrpcVolumeServiceClient(
    const GrpcVolumeServiceOptions& options);

// Parses one --volume-service value, "<zone>=<host:port>"; InvalidArgument naming the value
// when it is malformed (no '=', an empty zone, no port).
struct VolumeServiceFlag {
  std::string zone;
  std::string endpoint;
};
absl::StatusOr<VolumeServiceFlag> ParseVolumeServiceFlag(const std::string& value);

// InvalidArgument unless `zone` names an availability zone of `region` the way EC2 names them:
// the region's name and one lowercase letter ("home-1a" in "home-1").
absl::Status CheckZoneOfRegion(const std::string& zone, const std::string& region);

// The zone the daemon at `endpoint` says it serves (GetVolumeServiceStatus); Unavailable when
// it cannot be reached within `deadline`.
absl::StatusOr<std::string> ProbeVolumeServiceZone(const std::string& endpoint,
                                                   absl::Duration deadline);

}  // namespace minicloud::controller
