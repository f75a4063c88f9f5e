#pragma once

// The transport of minicloud-volumed's VolumeService (SECURITY.md, "The volume service"): mutual
// TLS with the files `minicloud-controller issue-volume-service-cert` wrote, where only the
// controller's client certificate from the CA in tls_client_ca gets in
// (common/crypto/controller_peer.h, the check an agent's port makes too); plain text only where
// ResolveVolumedSettings allowed it (loopback, or --insecure-plaintext).

#include <grpcpp/grpcpp.h>

#include <memory>
#include <optional>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/storage/nbd_tls.h"
#include "volume/config/volumed_settings.h"

namespace minicloud::volume {

// Server credentials for resolved `settings`. With TLS files the certificate is checked before
// the service starts, so a mistake is an error at start rather than refused handshakes later:
// FailedPrecondition (naming the file) unless it is for the key, chains to tls_client_ca, is a
// server certificate valid at `now`, and names crypto::VolumeServiceName of the service's zone
// (the name the controller checks).
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> VolumeServiceCredentials(
    const VolumedSettings& settings, absl::Time now);

// The NBD server's credentials for resolved `settings`: the same three files as the
// VolumeService's (the certificate names the service and the --nbd-advertise names; clients
// show a certificate from tls_client_ca), or nullopt when NbdTlsOf is false. Call after
// VolumeServiceCredentials checked the files.
absl::StatusOr<std::optional<storage::QemuTlsFiles>> NbdTlsFiles(const VolumedSettings& settings);

}  // namespace minicloud::volume
