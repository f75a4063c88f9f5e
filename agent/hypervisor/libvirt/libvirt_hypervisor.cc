#include "agent/hypervisor/libvirt/libvirt_hypervisor.h"

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "agent/hypervisor/domain_xml.h"
#include "agent/hypervisor/ebs_disk.h"
#include "agent/hypervisor/libvirt/libvirt_internal.h"
#include "agent/hypervisor/libvirt/qmp_disks.h"
#include "common/string_view_compat.h"
#include "spdlog/spdlog.h"

namespace minicloud::hypervisor {
namespace {

// --- Process-wide libvirt setup. ---------------------------------------------------------------

void SilentErrorHandler(void* /*user_data*/, virErrorPtr /*error*/) {
  // Errors are reported through absl::Status (virGetLastError is thread-local).
}

absl::Status InitLibvirtOnce(const LibvirtOptions& options) {
  static std::once_flag once;
  static absl::Status* init_status = nullptr;
  std::call_once(once, [&options] {
    if (!options.libvirt_log_file.empty() && getenv("LIBVIRT_LOG_OUTPUTS") == nullptr) {
      // Level 3 = warnings and errors. Must precede virInitialize, which reads the variable.
      setenv("LIBVIRT_LOG_OUTPUTS", absl::StrCat("3:file:", options.libvirt_log_file).c_str(), 0);
    }
    // A write to a QEMU monitor or libvirtd socket whose peer died must be an error, not a
    // process-killing SIGPIPE (libvirtd ignores it too). Only changes the default action.
    struct sigaction current {};
    if (sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL) {
      signal(SIGPIPE, SIG_IGN);
    }
    if (virInitialize() < 0) {
      init_status = new absl::Status(absl::InternalError(
          absl::StrCat("libvirt: virInitialize failed: ", virGetLastErrorMessage())));
      return;
    }
    virSetErrorFunc(nullptr, SilentErrorHandler);
    if (virEventRegisterDefaultImpl() < 0) {
      init_status = new absl::Status(absl::InternalError(
          absl::StrCat("libvirt: cannot register the event loop: ", virGetLastErrorMessage())));
      return;
    }
    // The loop runs for the life of the process; the embedded QEMU driver needs it to talk to
    // QEMU monitors, remote connections need it for keepalives.
    std::thread([] {
      pthread_setname_np(pthread_self(), "libvirt-events");
      while (true) {
        if (virEventRunDefaultImpl() < 0) {
          virResetLastError();
          usleep(100'000);  // do not spin if the loop is broken
        }
      }
    }).detach();
    init_status = new absl::Status();
  });
  return *init_status;
}

// --- Errors. -------------------------------------------------------------------------------------

int LastErrorCode() {
  virErrorPtr e = virGetLastError();
  return e == nullptr ? VIR_ERR_OK : e->code;
}

absl::StatusCode MapErrorCode(int code) {
  switch (code) {
    case VIR_ERR_NO_DOMAIN:
    case VIR_ERR_NO_DOMAIN_METADATA:
      return absl::StatusCode::kNotFound;
    case VIR_ERR_OPERATION_INVALID:
      return absl::StatusCode::kFailedPrecondition;
    case VIR_ERR_INVALID_ARG:
    case VIR_ERR_XML_ERROR:
    case VIR_ERR_XML_DETAIL:
    case VIR_ERR_XML_INVALID_SCHEMA:
    case VIR_ERR_CONFIG_UNSUPPORTED:
    case VIR_ERR_INVALID_DOMAIN:
      return absl::StatusCode::kInvalidArgument;
    case VIR_ERR_NO_SUPPORT:
      return absl::StatusCode::kUnimplemented;
    case VIR_ERR_OPERATION_DENIED:
    case VIR_ERR_AUTH_FAILED:
    case VIR_ERR_AUTH_CANCELLED:
    case VIR_ERR_ACCESS_DENIED:
      return absl::StatusCode::kPermissionDenied;
    case VIR_ERR_OPERATION_TIMEOUT:
    case VIR_ERR_AGENT_UNRESPONSIVE:
      return absl::StatusCode::kDeadlineExceeded;
    case VIR_ERR_NO_CONNECT:
    case VIR_ERR_INVALID_CONN:
    case VIR_ERR_RPC:
    case VIR_ERR_AUTH_UNAVAILABLE:
      return absl::StatusCode::kUnavailable;
    case VIR_ERR_DOM_EXIST:
      return absl::StatusCode::kAlreadyExists;
    default:
      return absl::StatusCode::kInternal;
  }
}

}  // namespace

// Declared in libvirt_internal.h.
absl::Status libvirt_internal::LastError(absl::string_view context) {
  const int code = LastErrorCode();
  absl::Status status(code == VIR_ERR_OK ? absl::StatusCode::kInternal : MapErrorCode(code),
                      absl::StrCat(context, ": ", virGetLastErrorMessage()));
  virResetLastError();
  return status;
}

namespace {

DomainState MapState(int state) {
  switch (state) {
    case VIR_DOMAIN_RUNNING:
    case VIR_DOMAIN_BLOCKED:
      return DomainState::kRunning;
    case VIR_DOMAIN_PAUSED:
      return DomainState::kPaused;
    case VIR_DOMAIN_SHUTOFF:
      return DomainState::kShutoff;
    case VIR_DOMAIN_CRASHED:
      return DomainState::kCrashed;
    default:  // NOSTATE, SHUTDOWN (being shut down), PMSUSPENDED
      return DomainState::kOther;
  }
}

absl::StatusOr<DomainState> StateOf(virDomainPtr dom, absl::string_view context) {
  int state = 0;
  int reason = 0;
  if (virDomainGetState(dom, &state, &reason, 0) < 0) return LastError(context);
  return MapState(state);
}

// Owned = our metadata marker is present and names this domain.
absl::StatusOr<bool> IsOwned(virDomainPtr dom, absl::string_view name, absl::string_view context) {
  static const std::string kUri(kOwnerNamespaceUri);
  char* metadata = virDomainGetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, kUri.c_str(),
                                        VIR_DOMAIN_AFFECT_CURRENT);
  if (metadata == nullptr) {
    if (LastErrorCode() == VIR_ERR_NO_DOMAIN_METADATA) {
      virResetLastError();
      return false;
    }
    return LastError(absl::StrCat(context, ": read metadata"));
  }
  const std::optional<std::string> id = ParseOwnerMetadata(metadata);
  free(metadata);
  return id.has_value() && *id == name;
}

}  // namespace

// Declared in libvirt_internal.h.
absl::StatusOr<Domain> libvirt_internal::LookupOwned(virConnectPtr conn, const std::string& id,
                                                     absl::string_view context) {
  Domain dom(virDomainLookupByName(conn, id.c_str()));
  if (!dom) {
    if (LastErrorCode() == VIR_ERR_NO_DOMAIN) {
      virResetLastError();
      return absl::NotFoundError(absl::StrCat(context, ": no such owned domain"));
    }
    return LastError(absl::StrCat(context, ": look up"));
  }
  absl::StatusOr<bool> owned = IsOwned(dom.get(), id, context);
  if (!owned.ok()) return owned.status();
  if (!*owned) return absl::NotFoundError(absl::StrCat(context, ": no such owned domain"));
  return dom;
}

namespace {

// Undefines with every cleanup flag the driver supports (managed save, snapshot and checkpoint
// metadata, NVRAM); drivers that reject some flags (the test driver) get fewer.
absl::Status UndefineAll(virDomainPtr dom, absl::string_view context) {
  static constexpr unsigned int kFlagSets[] = {
      VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA |
          VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA | VIR_DOMAIN_UNDEFINE_NVRAM,
      VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA,
      0,
  };
  for (unsigned int flags : kFlagSets) {
    if (virDomainUndefineFlags(dom, flags) == 0) return absl::OkStatus();
    const int code = LastErrorCode();
    if (code == VIR_ERR_NO_DOMAIN) {
      virResetLastError();
      return absl::OkStatus();
    }
    if (code != VIR_ERR_INVALID_ARG && code != VIR_ERR_NO_SUPPORT) break;
    virResetLastError();
  }
  return LastError(absl::StrCat(context, ": undefine"));
}

// The EBS disks of `spec` that `dom` (running, maybe paused at its start) lacks, plugged over
// QMP; then, if the domain is still paused at its start, a machine reset when the root is an EBS
// disk (the firmware's boot order is rebuilt at reset) and the resume.
absl::Status PlugEbsAndResume(virDomainPtr dom, const DomainSpec& spec,
                              const std::string& nbd_tls_dir, const std::string& context) {
  absl::StatusOr<std::vector<AttachedEbsDisk>> have = libvirt_internal::QmpEbsDisks(dom, context);
  if (!have.ok()) return have.status();
  // A guest whose kernel is loaded directly boots no disk: QEMU's kernel loader holds boot
  // index 0, so its root is plugged as a plain disk and needs no reset.
  const bool firmware_boot = spec.kernel.empty();
  bool ebs_root = false;
  for (const EbsDisk& disk : spec.ebs_disks) {
    ebs_root = ebs_root || (disk.boot && firmware_boot);
    bool present = false;
    for (const AttachedEbsDisk& h : *have) present = present || h.target_dev == disk.target_dev;
    if (present) continue;
    if (absl::Status s = libvirt_internal::PlugEbsDisk(
            dom, disk, nbd_tls_dir, absl::StrCat(context, ": ", disk.volume_id), firmware_boot);
        !s.ok()) {
      return s;
    }
  }
  int state = 0;
  int reason = 0;
  if (virDomainGetState(dom, &state, &reason, 0) < 0) return LastError(context);
  if (state != VIR_DOMAIN_PAUSED) return absl::OkStatus();
  if (ebs_root) {
    if (absl::Status s = libvirt_internal::ResetMachine(dom, context); !s.ok()) return s;
  }
  if (virDomainResume(dom) < 0) return LastError(absl::StrCat(context, ": resume"));
  return absl::OkStatus();
}

}  // namespace

// --- LibvirtHypervisor. --------------------------------------------------------------------------

absl::StatusOr<std::unique_ptr<LibvirtHypervisor>> LibvirtHypervisor::Open(
    const LibvirtOptions& options) {
  if (options.uri.empty()) return absl::InvalidArgumentError("libvirt: empty connection URI");
  if (absl::Status s = InitLibvirtOnce(options); !s.ok()) return s;
  absl::StatusOr<virConnectPtr> conn = Impl::OpenConnection(options.uri);
  if (!conn.ok()) return conn.status();
  spdlog::info("hypervisor: connected to {}", options.uri);
  return std::unique_ptr<LibvirtHypervisor>(
      new LibvirtHypervisor(std::make_unique<Impl>(options.uri, *conn, options.nbd_tls_dir)));
}

absl::StatusOr<std::unique_ptr<LibvirtHypervisor>> LibvirtHypervisor::Open(std::string uri) {
  LibvirtOptions options;
  options.uri = std::move(uri);
  return Open(options);
}

LibvirtHypervisor::LibvirtHypervisor(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
LibvirtHypervisor::~LibvirtHypervisor() = default;

const std::string& LibvirtHypervisor::uri() const { return impl_->uri(); }

absl::Status LibvirtHypervisor::CreateAndStart(const DomainSpec& spec) {
  const std::string context = absl::StrCat("create ", spec.instance_id);
  // EBS disks are not in the XML; they are plugged over QMP into the domain started paused,
  // before its first instruction (ebs_qmp.h, PlugEbsAndResume).
  const bool ebs = !spec.ebs_disks.empty();
  absl::StatusOr<std::string> xml = BuildDomainXml(spec);
  if (!xml.ok()) return WithContext(context, xml.status());
  Impl::IdLock id_lock(*impl_, spec.instance_id);
  absl::StatusOr<Connection> conn = impl_->Conn(context);
  if (!conn.ok()) return conn.status();

  if (Domain existing(virDomainLookupByName(conn->get(), spec.instance_id.c_str())); existing) {
    absl::StatusOr<bool> owned = IsOwned(existing.get(), spec.instance_id, context);
    if (!owned.ok()) return owned.status();
    if (!*owned) {
      return absl::AlreadyExistsError(
          absl::StrCat(context, ": a domain of that name exists and is not owned by minicloud"));
    }
    const int active = virDomainIsActive(existing.get());
    if (active < 0) return LastError(context);
    // Idempotent: it already runs. A start interrupted between the paused start and the resume
    // (the agent died) is completed.
    if (active == 1)
      return ebs ? PlugEbsAndResume(existing.get(), spec, impl_->nbd_tls_dir(), context)
                 : absl::OkStatus();
    // Defined but stopped (e.g. the guest powered off): redefine with this spec and start.
  } else if (LastErrorCode() != VIR_ERR_NO_DOMAIN) {
    return LastError(absl::StrCat(context, ": look up"));
  } else {
    virResetLastError();
  }

  Domain dom(virDomainDefineXMLFlags(conn->get(), xml->c_str(), VIR_DOMAIN_DEFINE_VALIDATE));
  if (!dom && (LastErrorCode() == VIR_ERR_INVALID_ARG || LastErrorCode() == VIR_ERR_NO_SUPPORT)) {
    virResetLastError();  // a driver without schema validation
    dom.reset(virDomainDefineXML(conn->get(), xml->c_str()));
  }
  if (!dom) return LastError(absl::StrCat(context, ": define"));

  absl::Status start_error;
  if (virDomainCreateWithFlags(dom.get(), ebs ? VIR_DOMAIN_START_PAUSED : 0) < 0) {
    start_error = LastError(absl::StrCat(context, ": start"));
  } else if (ebs) {
    start_error = PlugEbsAndResume(dom.get(), spec, impl_->nbd_tls_dir(), context);
  }
  if (!start_error.ok()) {
    // Leave nothing behind: stop whatever may have started, then undefine.
    if (virDomainIsActive(dom.get()) == 1 && virDomainDestroy(dom.get()) < 0) virResetLastError();
    if (absl::Status s = UndefineAll(dom.get(), context); !s.ok()) {
      spdlog::error("hypervisor: rollback of {} failed: {}", spec.instance_id, s.ToString());
    }
    return start_error;
  }
  spdlog::info("hypervisor: started {} ({}, {} vCPU, {} MiB)", spec.instance_id,
               AcceleratorName(spec.accelerator), spec.vcpus, spec.memory_mib);
  return absl::OkStatus();
}

absl::Status LibvirtHypervisor::Destroy(std::string_view instance_id) {
  const std::string id(instance_id);
  const std::string context = absl::StrCat("destroy ", id);
  Impl::IdLock id_lock(*impl_, id);
  absl::StatusOr<Connection> conn = impl_->Conn(context);
  if (!conn.ok()) return conn.status();
  Domain dom(virDomainLookupByName(conn->get(), id.c_str()));
  if (!dom) {
    if (LastErrorCode() == VIR_ERR_NO_DOMAIN) {
      virResetLastError();
      return absl::OkStatus();  // idempotent
    }
    return LastError(absl::StrCat(context, ": look up"));
  }
  absl::StatusOr<bool> owned = IsOwned(dom.get(), id, context);
  if (!owned.ok()) return owned.status();
  if (!*owned) {
    return absl::FailedPreconditionError(
        absl::StrCat(context, ": domain is not owned by minicloud"));
  }
  if (virDomainIsActive(dom.get()) == 1 && virDomainDestroy(dom.get()) < 0) {
    // Capture the error first: every libvirt API call resets the thread's last error.
    absl::Status stop_error = LastError(absl::StrCat(context, ": stop"));
    // The domain may have stopped in the meantime. With the embedded driver this is the norm
    // right after connecting: the driver reconnects to running QEMUs on a background thread,
    // and a destroy racing with that reconnect kills QEMU, the reconnect then fails and marks
    // the domain stopped, and the destroy reports "domain is not running". Only a domain that
    // is still active is an error.
    if (virDomainIsActive(dom.get()) == 1) return stop_error;
    virResetLastError();
    spdlog::info("hypervisor: {} stopped concurrently with destroy ({})", id,
                 StdView(stop_error.message()));
  }
  if (absl::Status s = UndefineAll(dom.get(), context); !s.ok()) return s;
  spdlog::info("hypervisor: destroyed {}", id);
  return absl::OkStatus();
}

namespace {

// What StopDomain and RebootDomain share: under the instance's lock and on a live connection, the
// minicloud-owned domain `id` (NotFound when there is none, FailedPrecondition when it is not
// ours); `act` runs only while it is running, otherwise the result is `when_off`.
absl::Status WithRunningDomain(LibvirtHypervisor::Impl& impl, const std::string& id,
                               const std::string& context, absl::Status when_off,
                               absl::FunctionRef<absl::Status(virDomainPtr)> act) {
  LibvirtHypervisor::Impl::IdLock id_lock(impl, id);
  absl::StatusOr<Connection> conn = impl.Conn();
  if (!conn.ok()) return WithContext(context, conn.status());
  absl::StatusOr<Domain> found = LookupOwned(conn->get(), id, context);
  if (!found.ok()) return found.status();
  if (virDomainIsActive(found->get()) != 1) {
    virResetLastError();
    return when_off;
  }
  return act(found->get());
}

// Asks the running domain to reboot: ACPI first, the driver's default method, then the reset
// button.
absl::Status RequestReboot(virDomainPtr dom, const std::string& id, const std::string& context) {
  if (virDomainReboot(dom, VIR_DOMAIN_REBOOT_ACPI_POWER_BTN) == 0) {
    spdlog::info("hypervisor: asked {} to reboot (ACPI)", id);
    return absl::OkStatus();
  }
  // Drivers without a choice of method take the default one; a driver or guest that cannot
  // take a reboot request gets the reset button.
  if ((LastErrorCode() == VIR_ERR_INVALID_ARG || LastErrorCode() == VIR_ERR_NO_SUPPORT) &&
      virDomainReboot(dom, 0) == 0) {
    virResetLastError();
    spdlog::info("hypervisor: asked {} to reboot", id);
    return absl::OkStatus();
  }
  spdlog::warn("hypervisor: {}: reboot request refused ({}); resetting", id,
               std::string(LastError(context).message()));
  if (virDomainReset(dom, 0) == 0) {
    virResetLastError();
    spdlog::info("hypervisor: reset {}", id);
    return absl::OkStatus();
  }
  return LastError(absl::StrCat(context, ": reset"));
}

// Stops the running domain: the ACPI power button (kGraceful) or pulling the plug.
absl::Status RequestStop(virDomainPtr dom, StopMode mode, const std::string& id,
                         const std::string& context) {
  if (mode == StopMode::kGraceful) {
    if (virDomainShutdownFlags(dom, VIR_DOMAIN_SHUTDOWN_ACPI_POWER_BTN) == 0) {
      spdlog::info("hypervisor: asked {} to shut down (ACPI power button)", id);
      return absl::OkStatus();
    }
    // Drivers without a choice of method (the test driver) take the default one.
    if ((LastErrorCode() == VIR_ERR_INVALID_ARG || LastErrorCode() == VIR_ERR_NO_SUPPORT) &&
        virDomainShutdown(dom) == 0) {
      virResetLastError();
      spdlog::info("hypervisor: asked {} to shut down", id);
      return absl::OkStatus();
    }
    absl::Status s = LastError(absl::StrCat(context, ": ACPI shutdown"));
    if (virDomainIsActive(dom) != 1) {
      virResetLastError();
      return absl::OkStatus();  // it went down meanwhile
    }
    return s;
  }
  // A persistent domain stays defined after virDomainDestroy: only the QEMU process goes.
  if (virDomainDestroy(dom) < 0) {
    absl::Status s = LastError(absl::StrCat(context, ": power off"));
    if (virDomainIsActive(dom) == 1) return s;
    virResetLastError();
  }
  spdlog::info("hypervisor: powered off {}", id);
  return absl::OkStatus();
}

}  // namespace

absl::Status LibvirtHypervisor::RebootDomain(std::string_view instance_id) {
  const std::string id(instance_id);
  const std::string context = absl::StrCat("reboot ", id);
  return WithRunningDomain(
      *impl_, id, context,
      absl::FailedPreconditionError(absl::StrCat(context, ": the domain is not running")),
      [&](virDomainPtr dom) { return RequestReboot(dom, id, context); });
}

absl::Status LibvirtHypervisor::StopDomain(std::string_view instance_id, StopMode mode) {
  const std::string id(instance_id);
  const std::string context = absl::StrCat("stop ", id);
  return WithRunningDomain(*impl_, id, context, absl::OkStatus() /* already off */,
                           [&](virDomainPtr dom) { return RequestStop(dom, mode, id, context); });
}

absl::StatusOr<std::vector<DomainInfo>> LibvirtHypervisor::List() {
  constexpr absl::string_view kContext = "list domains";
  absl::StatusOr<Connection> conn = impl_->Conn(kContext);
  if (!conn.ok()) return conn.status();
  virDomainPtr* doms = nullptr;
  const int n = virConnectListAllDomains(conn->get(), &doms, 0);
  if (n < 0) return LastError(kContext);
  std::vector<Domain> owned_handles;
  for (int i = 0; i < n; ++i) owned_handles.emplace_back(doms[i]);
  free(doms);

  std::vector<DomainInfo> out;
  for (const Domain& dom : owned_handles) {
    const char* name = virDomainGetName(dom.get());
    if (name == nullptr) {
      virResetLastError();
      continue;
    }
    absl::StatusOr<bool> owned = IsOwned(dom.get(), name, kContext);
    if (!owned.ok()) {
      if (owned.status().code() == absl::StatusCode::kNotFound) continue;  // vanished meanwhile
      return owned.status();
    }
    if (!*owned) continue;
    absl::StatusOr<DomainState> state = StateOf(dom.get(), kContext);
    if (!state.ok()) {
      if (state.status().code() == absl::StatusCode::kNotFound) continue;
      return state.status();
    }
    out.push_back({.instance_id = name, .state = *state});
  }
  std::sort(out.begin(), out.end(),
            [](const DomainInfo& a, const DomainInfo& b) { return a.instance_id < b.instance_id; });
  return out;
}

absl::StatusOr<DomainInfo> LibvirtHypervisor::Get(std::string_view instance_id) {
  const std::string id(instance_id);
  const std::string context = absl::StrCat("get ", id);
  absl::StatusOr<Domain> dom = impl_->OwnedDomain(id, context);
  if (!dom.ok()) return dom.status();
  absl::StatusOr<DomainState> state = StateOf(dom->get(), context);
  if (!state.ok()) return state.status();
  return DomainInfo{.instance_id = id, .state = *state};
}

absl::StatusOr<HostResources> LibvirtHypervisor::GetHostResources() {
  constexpr absl::string_view kContext = "host resources";
  absl::StatusOr<Connection> conn = impl_->Conn(kContext);
  if (!conn.ok()) return conn.status();
  virNodeInfo info;
  if (virNodeGetInfo(conn->get(), &info) < 0) return LastError(kContext);
  return HostResources{.cpus = static_cast<int>(info.cpus),
                       .memory_mib = static_cast<int64_t>(info.memory / 1024)};
}

}  // namespace minicloud::hypervisor
