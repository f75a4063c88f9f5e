// The EBS disks of the libvirt adapter: AttachDisk and DetachDisk (contract in hypervisor.h).

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "agent/hypervisor/ebs_disk.h"
#include "agent/hypervisor/libvirt/crypt_disks.h"
#include "agent/hypervisor/libvirt/libvirt_hypervisor.h"
#include "agent/hypervisor/libvirt/libvirt_internal.h"
#include "common/string_view_compat.h"

namespace minicloud::hypervisor {

using libvirt_internal::CryptDisks;
using libvirt_internal::PlugCryptDisk;
using libvirt_internal::ReleaseUnpluggedCryptNodes;
using libvirt_internal::UnplugCryptDisk;

namespace {

// The disks of `dom`: its persistent definition (`inactive`) or the running guest.
absl::StatusOr<std::vector<DomainDisk>> DisksOf(virDomainPtr dom, bool inactive,
                                                absl::string_view context) {
  char* xml = virDomainGetXMLDesc(dom, inactive ? VIR_DOMAIN_XML_INACTIVE : 0);
  if (xml == nullptr) return LastError(absl::StrCat(context, ": read domain XML"));
  std::vector<DomainDisk> disks = DisksInDomainXml(xml);
  free(xml);
  return disks;
}

const DomainDisk* FindTarget(const std::vector<DomainDisk>& disks, std::string_view target) {
  for (const DomainDisk& d : disks) {
    if (d.target_dev == target) return &d;
  }
  return nullptr;
}

// What the disks at `target` are in the definition and in the running guest (empty when the
// domain is not running).
struct DiskPlaces {
  bool active = false;
  std::vector<DomainDisk> config;
  std::vector<DomainDisk> live;
};
absl::StatusOr<DiskPlaces> PlacesOf(virDomainPtr dom, absl::string_view context) {
  DiskPlaces p;
  p.active = virDomainIsActive(dom) == 1;
  virResetLastError();
  absl::StatusOr<std::vector<DomainDisk>> config = DisksOf(dom, /*inactive=*/true, context);
  if (!config.ok()) return config.status();
  p.config = std::move(*config);
  if (p.active) {
    absl::StatusOr<std::vector<DomainDisk>> live = DisksOf(dom, /*inactive=*/false, context);
    if (!live.ok()) return live.status();
    p.live = std::move(*live);
  }
  return p;
}

}  // namespace

absl::Status LibvirtHypervisor::AttachDisk(std::string_view instance_id, const EbsDisk& disk) {
  const std::string id(instance_id);
  const std::string context = absl::StrCat("attach ", disk.volume_id, " to ", id);
  if (!disk.luks_key.empty()) return AttachCryptDisk(id, disk, context);
  absl::StatusOr<std::string> element = BuildEbsDiskXml(disk);
  if (!element.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(context, ": ", element.status().message()));
  }
  Impl::IdLock id_lock(*impl_, id);
  absl::StatusOr<Domain> dom = impl_->OwnedDomain(id, context);
  if (!dom.ok()) return dom.status();
  absl::StatusOr<DiskPlaces> places = PlacesOf(dom->get(), context);
  if (!places.ok()) return places.status();
  if (places->active) {
    absl::StatusOr<std::vector<AttachedEbsDisk>> crypt = CryptDisks(dom->get(), context);
    if (!crypt.ok()) return crypt.status();
    for (const AttachedEbsDisk& d : *crypt) {
      if (d.target_dev == disk.target_dev) {
        return absl::FailedPreconditionError(absl::StrCat(context, ": target ", disk.target_dev,
                                                          " holds the encrypted ", d.export_name));
      }
    }
  }
  absl::StatusOr<AttachPlan> plan = PlanAttach(disk, places->config, places->live, places->active);
  if (!plan.ok()) {
    return WithContext(context, plan.status());
  }
  const unsigned int flags = (plan->config ? unsigned{VIR_DOMAIN_AFFECT_CONFIG} : 0u) |
                             (plan->live ? unsigned{VIR_DOMAIN_AFFECT_LIVE} : 0u);
  if (flags == 0) return absl::OkStatus();  // already attached, live and persistent
  if (virDomainAttachDeviceFlags(dom->get(), element->c_str(), flags) < 0) {
    return LastError(context);
  }
  spdlog::info("hypervisor: attached {} to {} as {}{}", disk.volume_id, id, disk.target_dev,
               (flags & VIR_DOMAIN_AFFECT_LIVE) ? " (hot-plug)" : "");
  return absl::OkStatus();
}

// An encrypted disk: plugged over QMP into the running guest only (ebs_crypt_qmp.h); a domain that
// is not running gets it when it starts (CreateAndStart with the disk in DomainSpec::ebs_disks).
absl::Status LibvirtHypervisor::AttachCryptDisk(const std::string& id, const EbsDisk& disk,
                                                const std::string& context) {
  if (absl::Status s = ValidateEbsDisk(disk); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(context, ": ", s.message()));
  }
  Impl::IdLock id_lock(*impl_, id);
  absl::StatusOr<Domain> dom = impl_->OwnedDomain(id, context);
  if (!dom.ok()) return dom.status();
  absl::StatusOr<DiskPlaces> places = PlacesOf(dom->get(), context);
  if (!places.ok()) return places.status();
  if (!places->active) {
    // No definition can hold an encrypted disk: CreateAndStart plugs it when the domain starts
    // (DomainSpec::ebs_disks). Until then the disk is not listed, so it stays "attaching".
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<AttachedEbsDisk>> crypt = CryptDisks(dom->get(), context);
  if (!crypt.ok()) return crypt.status();
  for (const AttachedEbsDisk& d : *crypt) {
    if (d.target_dev != disk.target_dev) continue;
    if (d.export_name == disk.export_name) return absl::OkStatus();  // already plugged
    return absl::FailedPreconditionError(
        absl::StrCat(context, ": target ", disk.target_dev, " holds ", d.export_name));
  }
  if (FindTarget(places->live, disk.target_dev) != nullptr ||
      FindTarget(places->config, disk.target_dev) != nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat(context, ": target ", disk.target_dev, " is in use"));
  }
  if (absl::Status s = PlugCryptDisk(dom->get(), disk, impl_->nbd_tls_dir(), context); !s.ok()) {
    return s;
  }
  spdlog::info("hypervisor: attached {} to {} as {} (encrypted, hot-plug)", disk.volume_id, id,
               disk.target_dev);
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
  absl::StatusOr<DiskPlaces> places = PlacesOf(dom->get(), context);
  if (!places.ok()) return places.status();
  if (places->active) {
    absl::StatusOr<std::vector<AttachedEbsDisk>> crypt = CryptDisks(dom->get(), context);
    if (!crypt.ok()) return crypt.status();
    for (const AttachedEbsDisk& d : *crypt) {
      if (d.target_dev != target_dev) continue;
      if (absl::Status s = UnplugCryptDisk(dom->get(), d, context); !s.ok()) return s;
      spdlog::info("hypervisor: detached {} from {} (encrypted, hot-unplug requested)",
                   std::string(target_dev), id);
      return absl::OkStatus();
    }
  }
  // The live element first (the running guest may differ from the definition).
  for (const auto& [disks, flag] : {std::pair{&places->live, VIR_DOMAIN_AFFECT_LIVE},
                                    std::pair{&places->config, VIR_DOMAIN_AFFECT_CONFIG}}) {
    const DomainDisk* present = FindTarget(*disks, target_dev);
    if (present == nullptr) continue;
    // Only EBS volumes (network disks) come and go; instance store is a local file disk.
    if (!present->network) {
      return absl::FailedPreconditionError(
          absl::StrCat(context, ": instance store stays with its instance"));
    }
    if (virDomainDetachDeviceFlags(dom->get(), present->element.c_str(), flag) < 0) {
      return LastError(
          absl::StrCat(context, flag == VIR_DOMAIN_AFFECT_LIVE ? ": hot-unplug" : ": definition"));
    }
    spdlog::info("hypervisor: detached {} from {}{}", std::string(target_dev), id,
                 flag == VIR_DOMAIN_AFFECT_LIVE ? " (hot-unplug requested)" : " (definition)");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<AttachedEbsDisk>> LibvirtHypervisor::ListEbsDisks(
    std::string_view instance_id) {
  const std::string id(instance_id);
  const std::string context = absl::StrCat("list the disks of ", id);
  Impl::IdLock id_lock(*impl_, id);
  absl::StatusOr<Domain> dom = impl_->OwnedDomain(id, context);
  if (!dom.ok()) return dom.status();
  const bool active = virDomainIsActive(dom->get()) == 1;
  virResetLastError();
  // The running guest's XML while it runs (a disk the guest has not released yet is there),
  // else the definition.
  absl::StatusOr<std::vector<DomainDisk>> disks = DisksOf(dom->get(), !active, context);
  if (!disks.ok()) return disks.status();
  std::vector<AttachedEbsDisk> out;
  for (const DomainDisk& d : *disks) {
    if (d.network) out.push_back({d.target_dev, d.source_name});
  }
  if (active) {
    // Encrypted disks live in QEMU only (ebs_crypt_qmp.h); nodes of a finished unplug go.
    ReleaseUnpluggedCryptNodes(dom->get(), context);
    absl::StatusOr<std::vector<AttachedEbsDisk>> crypt = CryptDisks(dom->get(), context);
    if (!crypt.ok()) return crypt.status();
    out.insert(out.end(), crypt->begin(), crypt->end());
  }
  return out;
}

}  // namespace minicloud::hypervisor
