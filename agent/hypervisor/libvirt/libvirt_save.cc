// Hibernation on the libvirt adapter: SaveDomain and RestoreDomain (contract in hypervisor.h).
//
// A domain without EBS disks is saved with libvirt's own save image: virDomainSaveFlags
// writes a header with the domain XML, then QEMU's migration stream, and stops the domain;
// virDomainRestoreFlags starts a domain from it. The file must be a regular file: libvirt
// rewrites the header once the stream is complete, so a FIFO or a pipe cannot take it (libvirt
// 9.0). A domain with EBS disks (plugged over QMP, outside the XML) is saved over QMP
// instead, in a file of our own (qmp_save.h says why and how). RestoreDomain tells the two apart
// by the file's first bytes. Where the file lives and where it goes afterwards is the caller's
// business (agent/runtime/hibernation.h streams it to a volume).

#include <fcntl.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "agent/hypervisor/domain_xml.h"
#include "agent/hypervisor/libvirt/libvirt_hypervisor.h"
#include "agent/hypervisor/libvirt/libvirt_internal.h"
#include "agent/hypervisor/libvirt/qmp_disks.h"
#include "agent/hypervisor/qmp_save.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "common/string_view_compat.h"

namespace minicloud::hypervisor {
namespace {

using libvirt_internal::Qmp;

// How long a save or restore may take to move the RAM image (a few GiB through tmpfs).
constexpr auto kMigrationTimeout = std::chrono::minutes(10);
constexpr char kStateFd[] = "mcx-state";  // the name QEMU knows the file by (getfd)

class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  ~FileDescriptor() {
    if (fd_ >= 0) close(fd_);
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

absl::Status Errno(absl::string_view context) {
  return absl::InternalError(absl::StrCat(context, ": ", strerror(errno)));
}

// Polls query-migrate until QEMU says the stream is complete (either direction).
absl::Status AwaitMigration(virDomainPtr dom, absl::string_view context) {
  const auto deadline = std::chrono::steady_clock::now() + kMigrationTimeout;
  while (true) {
    absl::StatusOr<std::string> r = Qmp(dom, QueryMigrateCommand(), context, "query-migrate");
    if (!r.ok()) return r.status();
    absl::StatusOr<bool> done = MigrationCompleted(*r);
    if (!done.ok()) {
      return WithContext(context, done.status());
    }
    if (*done) return absl::OkStatus();
    if (std::chrono::steady_clock::now() > deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat(context, ": the state took over ", kMigrationTimeout.count(), " minutes"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

// SaveDomain of a running domain with EBS disks (qmp_save.h).
absl::Status SaveOverQmp(virDomainPtr dom, const std::string& path, const std::string& context) {
  absl::StatusOr<std::string> pci = Qmp(dom, R"({"execute":"query-pci"})", context, "query-pci");
  if (!pci.ok()) return pci.status();
  absl::StatusOr<std::map<std::string, int>> slots = EbsDiskSlots(*pci);
  if (!slots.ok()) return slots.status();
  absl::StatusOr<std::string> head = EncodeQmpSaveHeader({.ebs_slots = *slots});
  if (!head.ok()) return head.status();
  FileDescriptor fd(open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (fd.get() < 0) return Errno(absl::StrCat(context, ": create ", path));
  std::error_code ec;
  if (write(fd.get(), head->data(), head->size()) != static_cast<ssize_t>(head->size())) {
    absl::Status s = Errno(absl::StrCat(context, ": write ", path));
    std::filesystem::remove(path, ec);
    return s;
  }
  // Paused while the state is written, so the image is one point in time.
  if (virDomainSuspend(dom) < 0) {
    absl::Status s = LastError(absl::StrCat(context, ": pause"));
    std::filesystem::remove(path, ec);
    return s;
  }
  absl::Status s =
      Qmp(dom, UnlimitedMigrationSpeedCommand(), context, "migrate-set-parameters").status();
  if (s.ok()) s = Qmp(dom, GetFdCommand(kStateFd), context, "getfd", fd.get()).status();
  if (s.ok()) s = Qmp(dom, MigrateToFdCommand(kStateFd), context, "migrate").status();
  if (s.ok()) s = AwaitMigration(dom, context);
  if (s.ok() && fdatasync(fd.get()) != 0) s = Errno(absl::StrCat(context, ": sync ", path));
  if (s.ok() && virDomainDestroy(dom) < 0) s = LastError(absl::StrCat(context, ": stop"));
  if (!s.ok()) {
    // The guest goes on where it was; nothing of the attempt is left.
    (void)Qmp(dom, MigrateCancelCommand(), context, "migrate_cancel");
    (void)Qmp(dom,
              absl::StrCat(R"({"execute":"closefd","arguments":{"fdname":")", kStateFd, R"("}})"),
              context, "closefd");
    if (virDomainResume(dom) < 0) virResetLastError();
    std::filesystem::remove(path, ec);
  }
  return s;
}

// RestoreDomain from a file SaveOverQmp wrote: `fd` is positioned after its header.
absl::Status RestoreOverQmp(virConnectPtr conn, const DomainSpec& spec, const QmpSaveHeader& header,
                            const std::string& nbd_tls_dir, int fd, const std::string& context) {
  for (const EbsDisk& disk : spec.ebs_disks) {
    if (!header.ebs_slots.contains(disk.target_dev)) {
      return absl::FailedPreconditionError(absl::StrCat(context, ": EBS disk ", disk.volume_id,
                                                        " at ", disk.target_dev,
                                                        " was not in the guest when it was saved"));
    }
  }
  if (spec.ebs_disks.size() != header.ebs_slots.size()) {
    return absl::FailedPreconditionError(
        absl::StrCat(context, ": the guest was saved with ", header.ebs_slots.size(),
                     " EBS disk(s), the spec has ", spec.ebs_disks.size()));
  }
  absl::StatusOr<std::string> incoming = BuildIncomingDomainXml(spec);
  absl::StatusOr<std::string> plain = BuildDomainXml(spec);
  if (!incoming.ok() || !plain.ok()) {
    const absl::Status& e = incoming.ok() ? plain.status() : incoming.status();
    return absl::Status(e.code(), absl::StrCat(context, ": ", e.message()));
  }
  Domain dom(virDomainDefineXML(conn, incoming->c_str()));
  if (!dom) return LastError(absl::StrCat(context, ": define"));
  absl::Status s;
  if (virDomainCreateWithFlags(dom.get(), VIR_DOMAIN_START_PAUSED) < 0) {
    s = LastError(absl::StrCat(context, ": start"));
  }
  // The persistent definition without `-incoming`: a later cold start must boot.
  if (Domain d(virDomainDefineXML(conn, plain->c_str())); !d && s.ok()) {
    s = LastError(absl::StrCat(context, ": define"));
  }
  const bool firmware_boot = spec.kernel.empty();
  for (const EbsDisk& disk : spec.ebs_disks) {
    if (!s.ok()) break;
    s = libvirt_internal::PlugEbsDisk(dom.get(), disk, nbd_tls_dir,
                                      absl::StrCat(context, ": ", disk.volume_id), firmware_boot,
                                      header.ebs_slots.at(disk.target_dev));
  }
  if (s.ok()) s = Qmp(dom.get(), GetFdCommand(kStateFd), context, "getfd", fd).status();
  if (s.ok()) {
    s = Qmp(dom.get(), MigrateIncomingFromFdCommand(kStateFd), context, "migrate-incoming")
            .status();
  }
  if (s.ok()) s = AwaitMigration(dom.get(), context);
  if (s.ok() && virDomainResume(dom.get()) < 0) s = LastError(absl::StrCat(context, ": resume"));
  if (!s.ok() && virDomainIsActive(dom.get()) == 1 && virDomainDestroy(dom.get()) < 0) {
    virResetLastError();
  }
  return s;
}

}  // namespace

absl::Status LibvirtHypervisor::SaveDomain(std::string_view instance_id, const std::string& path) {
  const std::string id(instance_id);
  const std::string context = absl::StrCat("save ", id);
  Impl::IdLock id_lock(*impl_, id);
  absl::StatusOr<Domain> dom = impl_->RunningDomain(id, context);
  if (!dom.ok()) return dom.status();
  absl::StatusOr<std::vector<AttachedEbsDisk>> ebs =
      libvirt_internal::QmpEbsDisks(dom->get(), context);
  if (!ebs.ok()) return ebs.status();
  if (!ebs->empty()) {
    MC_RETURN_IF_ERROR(SaveOverQmp(dom->get(), path, context));
    spdlog::info("hypervisor: saved {} with {} EBS disk(s) to {}", id, ebs->size(), path);
    return absl::OkStatus();
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
  // Ours (a guest with EBS disks) or libvirt's save image: the first bytes tell.
  FileDescriptor fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return Errno(absl::StrCat(context, ": open ", path));
  std::string head(kQmpSaveHeaderBytes, '\0');
  const ssize_t got = read(fd.get(), head.data(), head.size());
  if (got < 0) return Errno(absl::StrCat(context, ": read ", path));
  head.resize(static_cast<size_t>(got));
  absl::StatusOr<QmpSaveHeader> header = DecodeQmpSaveHeader(head);
  if (!header.ok() && header.status().code() != absl::StatusCode::kNotFound) {
    return WithContext(context, header.status());
  }
  if (!header.ok() && !spec.ebs_disks.empty()) {
    // libvirt's image never holds a guest with EBS disks (SaveDomain saves those itself).
    return absl::FailedPreconditionError(
        absl::StrCat(context, ": EBS disk ", spec.ebs_disks.front().volume_id,
                     " cannot be restored from libvirt's save image"));
  }
  absl::StatusOr<std::string> xml = BuildDomainXml(spec);
  if (!xml.ok()) return WithContext(context, xml.status());
  Impl::IdLock id_lock(*impl_, spec.instance_id);
  absl::StatusOr<Connection> conn = impl_->Conn(context);
  if (!conn.ok()) return conn.status();
  if (Domain existing(virDomainLookupByName(conn->get(), spec.instance_id.c_str())); existing) {
    absl::StatusOr<Domain> owned = LookupOwned(conn->get(), spec.instance_id, context);
    if (!owned.ok()) return owned.status();
    if (virDomainIsActive(existing.get()) == 1) return absl::OkStatus();  // restored before
  } else {
    virResetLastError();
  }
  if (header.ok()) {
    MC_RETURN_IF_ERROR(
        RestoreOverQmp(conn->get(), spec, *header, impl_->nbd_tls_dir(), fd.get(), context));
    spdlog::info("hypervisor: restored {} with its EBS disks from {}", spec.instance_id, path);
    return absl::OkStatus();
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
