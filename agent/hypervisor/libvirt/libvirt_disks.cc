// The EBS disks of the libvirt adapter: AttachDisk, DetachDisk and ListEbsDisks (contract in
// hypervisor.h), over QMP (ebs_qmp.h, qmp_disks.h).

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "agent/hypervisor/ebs_disk.h"
#include "agent/hypervisor/ebs_qmp.h"
#include "agent/hypervisor/libvirt/libvirt_hypervisor.h"
#include "agent/hypervisor/libvirt/libvirt_internal.h"
#include "agent/hypervisor/libvirt/qmp_disks.h"
#include "common/string_view_compat.h"

namespace minicloud::hypervisor {

using libvirt_internal::PlugEbsDisk;
using libvirt_internal::QmpEbsDisks;
using libvirt_internal::QmpEbsDiskSizes;
using libvirt_internal::ReleaseUnpluggedEbsNodes;
using libvirt_internal::UnplugEbsDisk;

namespace {

// Whether a <disk> of `dom` (its persistent definition with `inactive`, else the running guest)
// is at `target`: the root or instance store.
absl::StatusOr<bool> HasDiskAt(virDomainPtr dom, bool inactive, std::string_view target,
                               absl::string_view context) {
  char* xml = virDomainGetXMLDesc(dom, inactive ? VIR_DOMAIN_XML_INACTIVE : 0);
  if (xml == nullptr) return LastError(absl::StrCat(context, ": read domain XML"));
  const std::vector<std::string> targets = DiskTargetsInDomainXml(xml);
  free(xml);
  return std::find(targets.begin(), targets.end(), target) != targets.end();
}

}  // namespace

// EBS disks are plugged over QMP into the running guest only (ebs_qmp.h); a domain that is not
// running gets them when it starts (CreateAndStart with the disk in DomainSpec::ebs_disks).
absl::Status LibvirtHypervisor::AttachDisk(std::string_view instance_id, const EbsDisk& disk) {
  const std::string id(instance_id);
  const std::string context = absl::StrCat("attach ", disk.volume_id, " to ", id);
  if (absl::Status s = ValidateEbsDisk(disk); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(context, ": ", s.message()));
  }
  Impl::IdLock id_lock(*impl_, id);
  absl::StatusOr<Domain> dom = impl_->OwnedDomain(id, context);
  if (!dom.ok()) return dom.status();
  if (virDomainIsActive(dom->get()) != 1) {
    // No definition holds an EBS disk: CreateAndStart plugs it when the domain starts
    // (DomainSpec::ebs_disks). Until then the disk is not listed, so it stays "attaching".
    virResetLastError();
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<AttachedEbsDisk>> plugged = QmpEbsDisks(dom->get(), context);
  if (!plugged.ok()) return plugged.status();
  for (const AttachedEbsDisk& d : *plugged) {
    if (d.target_dev != disk.target_dev) continue;
    if (d.export_name == disk.export_name) return absl::OkStatus();  // already plugged
    return absl::FailedPreconditionError(
        absl::StrCat(context, ": target ", disk.target_dev, " holds ", d.export_name));
  }
  absl::StatusOr<bool> taken = HasDiskAt(dom->get(), /*inactive=*/false, disk.target_dev, context);
  if (!taken.ok()) return taken.status();
  if (*taken) {
    return absl::FailedPreconditionError(
        absl::StrCat(context, ": target ", disk.target_dev, " is in use"));
  }
  if (absl::Status s = PlugEbsDisk(dom->get(), disk, impl_->nbd_tls_dir(), context); !s.ok()) {
    return s;
  }
  spdlog::info("hypervisor: attached {} to {} as {}{} (hot-plug)", disk.volume_id, id,
               disk.target_dev, disk.luks_key.empty() ? "" : ", encrypted");
  return absl::OkStatus();
}

absl::Status LibvirtHypervisor::DetachDisk(std::string_view instance_id,
                                           std::string_view target_dev) {
  const std::string id(instance_id);
  const std::string context = absl::StrCat("detach ", AbslView(target_dev), " from ", id);
  if (target_dev == "vda") {
    return absl::FailedPreconditionError(absl::StrCat(context, ": the root disk stays"));
  }
  Impl::IdLock id_lock(*impl_, id);
  absl::StatusOr<Domain> dom = impl_->OwnedDomain(id, context);
  if (!dom.ok()) return dom.status();
  const bool active = virDomainIsActive(dom->get()) == 1;
  virResetLastError();
  if (active) {
    absl::StatusOr<std::vector<AttachedEbsDisk>> plugged = QmpEbsDisks(dom->get(), context);
    if (!plugged.ok()) return plugged.status();
    for (const AttachedEbsDisk& d : *plugged) {
      if (d.target_dev != target_dev) continue;
      if (absl::Status s = UnplugEbsDisk(dom->get(), d, context); !s.ok()) return s;
      spdlog::info("hypervisor: detached {} from {} (hot-unplug requested)",
                   std::string(target_dev), id);
      return absl::OkStatus();
    }
  }
  // Not an EBS disk: instance store (a local file disk of the domain) cannot be detached.
  absl::StatusOr<bool> local = HasDiskAt(dom->get(), !active, target_dev, context);
  if (!local.ok()) return local.status();
  if (*local) {
    return absl::FailedPreconditionError(
        absl::StrCat(context, ": instance store stays with its instance"));
  }
  return absl::OkStatus();  // nothing there: detached
}

absl::StatusOr<std::vector<AttachedEbsDisk>> LibvirtHypervisor::ListEbsDisks(
    std::string_view instance_id) {
  const std::string id(instance_id);
  const std::string context = absl::StrCat("list the disks of ", id);
  Impl::IdLock id_lock(*impl_, id);
  absl::StatusOr<Domain> dom = impl_->OwnedDomain(id, context);
  if (!dom.ok()) return dom.status();
  if (virDomainIsActive(dom->get()) != 1) {
    virResetLastError();
    return std::vector<AttachedEbsDisk>{};  // EBS disks live in the running QEMU only
  }
  absl::StatusOr<std::vector<AttachedEbsDisk>> disks = QmpEbsDisks(dom->get(), context);
  if (!disks.ok()) return disks;
  // Nodes of a finished unplug (no device left) go.
  ReleaseUnpluggedEbsNodes(dom->get(), *disks, context);
  absl::StatusOr<std::vector<EbsDiskSize>> sizes = QmpEbsDiskSizes(dom->get(), context);
  if (!sizes.ok()) return sizes.status();
  for (AttachedEbsDisk& d : *disks) {
    for (const EbsDiskSize& z : *sizes) {
      if (z.target_dev == d.target_dev) d.size_bytes = z.bytes;
    }
  }
  return disks;
}

absl::Status LibvirtHypervisor::GrowDisk(std::string_view instance_id, std::string_view target_dev,
                                         int64_t bytes) {
  const std::string id(instance_id);
  const std::string context =
      absl::StrCat("grow ", AbslView(target_dev), " of ", id, " to ", bytes, " bytes");
  Impl::IdLock id_lock(*impl_, id);
  absl::StatusOr<Domain> dom = impl_->RunningDomain(id, context);
  if (!dom.ok()) return dom.status();
  absl::StatusOr<std::vector<EbsDiskSize>> sizes = QmpEbsDiskSizes(dom->get(), context);
  if (!sizes.ok()) return sizes.status();
  const EbsDiskSize* disk = nullptr;
  for (const EbsDiskSize& z : *sizes) {
    if (z.target_dev == target_dev) disk = &z;
  }
  if (disk == nullptr) return absl::NotFoundError(absl::StrCat(context, ": no EBS disk there"));
  if (disk->bytes >= bytes) return absl::OkStatus();
  // The read's own outcome does not matter (HMP reports it as text): block_resize says whether
  // the client now knows the larger export.
  (void)libvirt_internal::Qmp(dom->get(), NbdReconnectCommand(target_dev), context, "qemu-io read");
  absl::Status s = libvirt_internal::Qmp(dom->get(), GrowCommand(disk->node_name, bytes), context,
                                         "block_resize")
                       .status();
  if (!s.ok()) return absl::FailedPreconditionError(s.message());
  spdlog::info("hypervisor: grew {} of {} from {} to {} bytes", std::string(target_dev), id,
               disk->bytes, bytes);
  return absl::OkStatus();
}

absl::Status LibvirtHypervisor::SetDiskLimits(std::string_view instance_id,
                                              std::string_view target_dev,
                                              const volumes::IoTune& iotune) {
  const std::string id(instance_id);
  const std::string context =
      absl::StrCat("set the I/O limits of ", AbslView(target_dev), " of ", id);
  Impl::IdLock id_lock(*impl_, id);
  absl::StatusOr<Domain> dom = impl_->RunningDomain(id, context);
  if (!dom.ok()) return dom.status();
  absl::StatusOr<std::vector<AttachedEbsDisk>> plugged = QmpEbsDisks(dom->get(), context);
  if (!plugged.ok()) return plugged.status();
  for (const AttachedEbsDisk& d : *plugged) {
    if (d.target_dev != target_dev) continue;
    if (absl::Status s = ValidateIoTune(d.export_name, iotune); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(context, ": ", s.message()));
    }
    EbsDisk disk;  // what ThrottleCommand needs: the device's target and export
    disk.target_dev = d.target_dev;
    disk.export_name = d.export_name;
    disk.iotune = iotune;
    return libvirt_internal::Qmp(dom->get(), ThrottleCommand(disk), context,
                                 "block_set_io_throttle")
        .status();
  }
  return absl::NotFoundError(absl::StrCat(context, ": no EBS disk there"));
}

}  // namespace minicloud::hypervisor
