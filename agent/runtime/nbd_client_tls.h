#pragma once

// The host's NBD client certificate (SECURITY.md, "The volume service"): what this host's QEMU
// and qemu-img show a volume service's NBD port, in QEMU's layout (common/storage/nbd_tls.h):
//   <state_dir>/nbd-tls/            0710 root:<QEMU group> (search only)
//     client-key.pem                a key of its own (not tls/host.key, the host's identity
//                                   towards the controller), 0440 root:<QEMU group>
//     client-cert.pem               common name nbd-client.<host id>, clientAuth only, issued
//                                   by the controller (HostService.IssueNbdClientCertificate)
//     ca-cert.pem                   the controller's CA (checks the volume service)
// QEMU runs under its own account (hypervisor/qemu_account.h), so it reads these through its
// group. A certificate that is there, for the key, of this host and from the CA is kept;
// otherwise a fresh key is made here and a certificate asked for (the key never leaves the host).

#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "agent/hypervisor/qemu_account.h"
#include "agent/runtime/controller_tls.h"

namespace minicloud::agent {

std::string NbdClientTlsDir(const std::string& state_dir);

// OK when <state_dir>/nbd-tls holds a client certificate of `host` (crypto::NbdClientName of
// its id), for the key next to it, from host.ca_pem and valid at `now`; FailedPrecondition
// (saying what is wrong) otherwise. Pure over the files.
absl::Status CheckNbdClientCredentials(const std::string& state_dir, const HostCredentials& host,
                                       absl::Time now);

// Makes the directory (shared with `qemu`'s group) and, unless CheckNbdClientCredentials passes,
// asks the controller at `endpoint` (over the host's mutual TLS) for a certificate for a fresh
// key. The controller's answer is checked like the join's. Errors of the call are returned as
// they are (the caller retries).
absl::Status EnsureNbdClientCredentials(const std::string& endpoint, const HostCredentials& host,
                                        const std::string& state_dir,
                                        const hypervisor::QemuAccount& qemu);

}  // namespace minicloud::agent
