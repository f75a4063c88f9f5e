// Hibernation on the libvirt adapter: SaveDomain and RestoreDomain (contract in hypervisor.h).
//
// virDomainSaveFlags writes libvirt's save image (a header with the domain XML, then QEMU's
// migration stream) into a file and stops the domain; virDomainRestoreFlags starts a domain from
// it. The file must be a regular file: libvirt rewrites the header once the stream is complete,
// so a FIFO or a pipe cannot take it (libvirt 9.0). Where the file lives and where it goes
// afterwards is the caller's business (agent/runtime/hibernation.h streams it to a volume).

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <sys/stat.h>

#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "agent/hypervisor/domain_xml.h"
#include "agent/hypervisor/libvirt/crypt_disks.h"
#include "agent/hypervisor/libvirt/libvirt_hypervisor.h"
#include "agent/hypervisor/libvirt/libvirt_internal.h"
#include "common/logging.h"
#include "common/string_view_compat.h"

namespace minicloud::hypervisor {

absl::Status LibvirtHypervisor::SaveDomain(std::string_view instance_id, const std::string& path) {
  const std::string id(instance_id);
  const std::string context = absl::StrCat("save ", id);
  Impl::IdLock id_lock(*impl_, id);
  absl::StatusOr<Connection> conn = impl_->Conn();
  if (!conn.ok())
    return absl::Status(conn.status().code(), absl::StrCat(context, ": ", conn.status().message()));
  absl::StatusOr<Domain> dom = LookupOwned(conn->get(), id, context);
  if (!dom.ok()) return dom.status();
  if (virDomainIsActive(dom->get()) != 1) {
    virResetLastError();
    return absl::FailedPreconditionError(absl::StrCat(context, ": the domain is not running"));
  }
  // Encrypted disks are plugged over QMP and are not in the domain's XML (crypt_disks.h), so
  // libvirt's save image could not be restored: QEMU would meet their device state with no
  // device to load it into. Refused before anything is paused.
  absl::StatusOr<std::vector<AttachedEbsDisk>> crypt =
      libvirt_internal::CryptDisks(dom->get(), context);
  if (!crypt.ok()) return crypt.status();
  if (!crypt->empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat(context, ": ", crypt->size(),
                     " encrypted disk(s) plugged over QMP, which libvirt's save image cannot "
                     "carry on the embedded driver"));
  }
  std::error_code ec;
  std::filesystem::remove(path, ec);
  // Paused while the state is written (the default for a running domain), so the image is one
  // point in time; the running guest goes on if the save fails.
  if (virDomainSaveFlags(dom->get(), path.c_str(), nullptr, VIR_DOMAIN_SAVE_RUNNING) < 0) {
    absl::Status s = LastError(absl::StrCat(context, ": to ", path));
    std::filesystem::remove(path, ec);
    return s;
  }
  chmod(path.c_str(), 0600);
  spdlog::info("hypervisor: saved {} to {}", id, path);
  return absl::OkStatus();
}

absl::Status LibvirtHypervisor::RestoreDomain(const DomainSpec& wanted, const std::string& path) {
  const std::string context = absl::StrCat("restore ", wanted.instance_id);
  const DomainSpec& spec = wanted;
  for (const EbsDisk& disk : spec.ebs_disks) {
    if (!disk.luks_key.empty()) {
      // SaveDomain refuses domains with encrypted disks: no save image of one exists.
      return absl::FailedPreconditionError(
          absl::StrCat(context, ": encrypted disk ", disk.volume_id,
                       " cannot be restored from libvirt's save image"));
    }
  }
  absl::StatusOr<std::string> xml = BuildDomainXml(spec);
  if (!xml.ok())
    return absl::Status(xml.status().code(), absl::StrCat(context, ": ", xml.status().message()));
  Impl::IdLock id_lock(*impl_, spec.instance_id);
  absl::StatusOr<Connection> conn = impl_->Conn();
  if (!conn.ok())
    return absl::Status(conn.status().code(), absl::StrCat(context, ": ", conn.status().message()));
  if (Domain existing(virDomainLookupByName(conn->get(), spec.instance_id.c_str())); existing) {
    absl::StatusOr<Domain> owned = LookupOwned(conn->get(), spec.instance_id, context);
    if (!owned.ok()) return owned.status();
    if (virDomainIsActive(existing.get()) == 1) return absl::OkStatus();  // restored before
  } else {
    virResetLastError();
  }
  // The persistent definition first (this host's paths), then the saved state with the same
  // XML: libvirt checks that the guest's ABI (devices, addresses) matches the saved one.
  Domain dom(virDomainDefineXML(conn->get(), xml->c_str()));
  if (!dom) return LastError(absl::StrCat(context, ": define"));
  if (virDomainRestoreFlags(conn->get(), path.c_str(), xml->c_str(), VIR_DOMAIN_SAVE_RUNNING) < 0) {
    absl::Status s = LastError(absl::StrCat(context, ": from ", path));
    if (virDomainIsActive(dom.get()) == 1 && virDomainDestroy(dom.get()) < 0) virResetLastError();
    return s;
  }
  spdlog::info("hypervisor: restored {} from {}", spec.instance_id, path);
  return absl::OkStatus();
}

}  // namespace minicloud::hypervisor
