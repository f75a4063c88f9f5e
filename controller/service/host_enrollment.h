#pragma once

// Joining: how an agent gets the client certificate it makes every other HostService call with
// (SECURITY.md, "Controller and agents"). Transport-free; the gRPC edge (api/host_peer.h) calls
// CheckHostKey for every call that names a host.

#include <mutex>
#include <string>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "common/ids.h"
#include "controller/pki/certificate_authority.h"
#include "minicloud/v1/host.pb.h"

namespace minicloud::controller {

class HostEnrollment {
 public:
  // `pki_dir` holds the CA's files and enrollment_files.h's.
  HostEnrollment(const CertificateAuthority& ca, std::string pki_dir, Clock& clock,
                 IdGenerator& ids)
      : ca_(ca), pki_dir_(std::move(pki_dir)), clock_(clock), ids_(ids) {}

  // Checks the token (format, this controller's CA hash, a recorded secret), then signs a
  // client certificate for the request's key naming the host: the id asked for (a host that
  // had one before mTLS or lost its certificate), or a new one. The id is then bound to that
  // key: the same id with another key is PermissionDenied until an admin runs
  // `minicloud-controller forget-host`; the same key gets a fresh certificate.
  // Errors: InvalidArgument (malformed token, id or request), PermissionDenied (wrong token,
  // token of another CA, id bound to another key).
  absl::StatusOr<v1::JoinResponse> Join(const v1::JoinRequest& req);

  // The NBD client certificate of `host_id` (already checked to be the caller, by its host
  // certificate) for the key in the request's CSR (CertificateAuthority::
  // IssueNbdClientCertificate). InvalidArgument for a malformed request, or the host's own
  // identity key (bound to the host id): QEMU would then hold the key that authenticates the
  // host to the controller.
  absl::StatusOr<v1::NbdClientCertificate> IssueNbdClientCertificate(
      const std::string& host_id, const v1::NbdClientCertificateRequest& req);

  // OK when `key_sha256` is the key bound to `host_id` (the certificate was issued by Join and
  // the host has not been forgotten since); PermissionDenied otherwise.
  absl::Status CheckHostKey(const std::string& host_id, const std::string& key_sha256) const;

  const std::string& pki_dir() const { return pki_dir_; }

 private:
  const CertificateAuthority& ca_;
  const std::string pki_dir_;
  Clock& clock_;
  IdGenerator& ids_;
  std::mutex mu_;  // one join at a time: binding is check-then-write
};

}  // namespace minicloud::controller
