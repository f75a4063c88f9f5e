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
//
// Transport (SECURITY.md, "The volume service"): mutual TLS when `tls` is set: the controller
// shows its client certificate, trusts only its CA and checks that the server certificate names
// crypto::VolumeServiceName(zone), whatever the address. A daemon of another zone, an agent, or a
// certificate of another CA fails the handshake: Unavailable, as an unreachable daemon. Plain text
// only when `tls` is empty (a volumed on loopback without TLS files).

#include <memory>
#include <optional>
#include <string>

#include "absl/time/time.h"
#include "controller/volumes/volume_fleet.h"

namespace minicloud::controller {

// The controller's side of the mutual TLS: its CA and its client certificate
// (CertificateAuthority::IssueControllerClientCertificate).
struct VolumeServiceTls {
  std::string ca_pem;
  std::string certificate_chain_pem = {};
  std::string private_key_pem = {};
};

struct GrpcVolumeServiceOptions {
  std::string endpoint;                         // host:port of minicloud-volumed's gRPC listener
  std::string zone;                             // the zone it serves: its certificate must name it
  std::optional<VolumeServiceTls> tls;          // nullopt: plain text
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

// The zone the daemon at options.endpoint says it serves (GetVolumeServiceStatus, over the
// transport of `options`); Unavailable when it cannot be reached (or, with TLS, fails the
// handshake) within options.deadline.
absl::StatusOr<std::string> ProbeVolumeServiceZone(const GrpcVolumeServiceOptions& options);

}  // namespace minicloud::controller
