#pragma once

// The real Hypervisor: libvirt's C API. This header deliberately has no libvirt includes; only
// libvirt_hypervisor.cc sees them.
//
// URIs:
//   qemu:///embed?root=DIR   in-process QEMU driver, no daemon (call PrepareEmbedRoot first)
//   qemu:///system           a libvirtd/virtqemud run by the host
//   test:///default          libvirt's in-memory test driver (unit tests; no QEMU)
//
// Process-wide effects of the first Open(): virInitialize(); a silent default error handler
// (errors are returned as absl::Status with virGetLastErrorMessage(), never printed); libvirt's
// default event loop is registered and run on a detached thread "libvirt-events" for the life of
// the process (the embedded driver talks to QEMU monitors through it). Do not register another
// libvirt event loop implementation in the same process. SIGPIPE is set to SIG_IGN if it still
// has its default action (a dead peer must not kill the agent).
//
// Ownership: domains carry the metadata marker of domain_xml.h; List()/Get() ignore and
// Destroy() refuses everything else.
//
// Lifetime: destroying the object closes the connection; domains keep running (QEMU is
// daemonised and, with the embedded driver, placed in its own cgroup). A new object on the same
// URI - in this process or in the next agent process - re-adopts them through List(); the
// embedded driver reconnects to the running QEMUs' monitors on a background thread at startup.
//
// Embedded driver caveats (libvirt 9.0, verified):
// - ONE embed root per process, for the life of the process: the driver is initialised by the
//   first Open() and is not shut down when the last connection closes. Re-opening the same root
//   works; another root fails ("Cannot open embedded driver at path X, already open with path
//   Y"); another process on the same root fails until this one exits ("Failed to acquire pid
//   file DIR/run/qemu/driver.pid"). Both come back as Unavailable.
// - Right after startup, a destroy can race with the driver's reconnect to that QEMU; libvirt
//   then kills QEMU but reports "domain is not running". Destroy() treats that as success.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "agent/hypervisor/hypervisor.h"

namespace minicloud::hypervisor {

struct LibvirtOptions {
  std::string uri;  // required; see above
  // If non-empty and LIBVIRT_LOG_OUTPUTS is unset, libvirt's own log (warnings and errors of
  // the embedded driver, which otherwise go to stderr) is written to this file. Only the first
  // Open() of a process applies it, before virInitialize().
  std::string libvirt_log_file;
  // QEMU's NBD client credentials (agent/runtime/nbd_client_tls.h) for EBS disks over TLS,
  // which are plugged over QMP (ebs_qmp.h).
  std::string nbd_tls_dir;
};

class LibvirtHypervisor final : public Hypervisor {
 public:
  // Connects (read-write). Unavailable with the libvirt message if the connection fails.
  static absl::StatusOr<std::unique_ptr<LibvirtHypervisor>> Open(const LibvirtOptions& options);
  static absl::StatusOr<std::unique_ptr<LibvirtHypervisor>> Open(std::string uri);

  ~LibvirtHypervisor() override;
  LibvirtHypervisor(const LibvirtHypervisor&) = delete;
  LibvirtHypervisor& operator=(const LibvirtHypervisor&) = delete;

  absl::Status CreateAndStart(const DomainSpec& spec) override;
  absl::Status Destroy(std::string_view instance_id) override;
  absl::Status StopDomain(std::string_view instance_id, StopMode mode) override;
  // virDomainReboot (ACPI request); virDomainReset when the driver or guest cannot take it.
  absl::Status RebootDomain(std::string_view instance_id) override;
  absl::StatusOr<std::vector<DomainInfo>> List() override;
  absl::StatusOr<DomainInfo> Get(std::string_view instance_id) override;
  absl::StatusOr<HostResources> GetHostResources() override;
  // virDomainAttachDeviceFlags / virDomainDetachDeviceFlags with VIR_DOMAIN_AFFECT_LIVE (when
  // running and the guest lacks it) | VIR_DOMAIN_AFFECT_CONFIG (when the definition lacks it).
  absl::Status AttachDisk(std::string_view instance_id, const EbsDisk& disk) override;
  absl::Status DetachDisk(std::string_view instance_id, std::string_view target_dev) override;
  absl::StatusOr<std::vector<AttachedEbsDisk>> ListEbsDisks(std::string_view instance_id) override;
  absl::Status GrowDisk(std::string_view instance_id, std::string_view target_dev,
                        int64_t bytes) override;
  absl::Status SetDiskLimits(std::string_view instance_id, std::string_view target_dev,
                             const volumes::IoTune& iotune) override;
  // virDomainSaveFlags / virDomainRestoreFlags (libvirt_save.cc): a regular file only.
  absl::Status SaveDomain(std::string_view instance_id, const std::string& path) override;
  absl::Status RestoreDomain(const DomainSpec& spec, const std::string& path) override;

  const std::string& uri() const;

  class Impl;  // public only so the .cc's helpers can name it

 private:
  explicit LibvirtHypervisor(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace minicloud::hypervisor
