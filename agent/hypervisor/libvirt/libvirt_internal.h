#pragma once

// What the files of the libvirt adapter share, and nothing else includes: RAII for libvirt
// objects, the connection and per-instance locks (LibvirtHypervisor::Impl), and the error and
// lookup helpers. libvirt_hypervisor.cc has the lifecycle calls, libvirt_disks.cc the EBS disks.

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <memory>
#include <set>
#include <string>
#include <type_traits>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "agent/hypervisor/libvirt/libvirt_hypervisor.h"
#include "spdlog/spdlog.h"

namespace minicloud::hypervisor {
namespace libvirt_internal {

// --- RAII for libvirt objects. -------------------------------------------------------------------

struct DomainFree {
  void operator()(virDomainPtr d) const { virDomainFree(d); }
};
using Domain = std::unique_ptr<std::remove_pointer_t<virDomainPtr>, DomainFree>;

struct ConnectClose {
  void operator()(virConnectPtr c) const { virConnectClose(c); }
};
using Connection = std::unique_ptr<std::remove_pointer_t<virConnectPtr>, ConnectClose>;

// "<context>: <libvirt message>", with a canonical code derived from the libvirt error code.
// Consumes (resets) the thread's last libvirt error.
absl::Status LastError(absl::string_view context);

// `s` with "<context>: " in front of its message, same code.
inline absl::Status WithContext(absl::string_view context, const absl::Status& s) {
  return absl::Status(s.code(), absl::StrCat(context, ": ", s.message()));
}

// The owned domain named `id`; NotFound when there is none or it is not minicloud's.
absl::StatusOr<Domain> LookupOwned(virConnectPtr conn, const std::string& id,
                                   absl::string_view context);

}  // namespace libvirt_internal

using libvirt_internal::Connection;
using libvirt_internal::Domain;
using libvirt_internal::LastError;
using libvirt_internal::LookupOwned;
using libvirt_internal::WithContext;

// --- Impl. ---------------------------------------------------------------------------------------

class LibvirtHypervisor::Impl {
 public:
  Impl(std::string uri, virConnectPtr conn, std::string nbd_tls_dir = "")
      : uri_(std::move(uri)), nbd_tls_dir_(std::move(nbd_tls_dir)), conn_(conn) {}
  ~Impl() {
    absl::MutexLock lock(&conn_mu_);
    if (conn_ != nullptr) virConnectClose(conn_);
  }

  const std::string& uri() const { return uri_; }
  const std::string& nbd_tls_dir() const { return nbd_tls_dir_; }

  static absl::StatusOr<virConnectPtr> OpenConnection(const std::string& uri) {
    virConnectPtr conn = virConnectOpen(uri.c_str());
    if (conn == nullptr) {
      absl::Status s = LastError(absl::StrCat("connect to ", uri));
      return absl::Status(absl::StatusCode::kUnavailable, s.message());
    }
    // Daemon connections (qemu:///system, qemu+ssh://...) detect a dead daemon through
    // keepalives. In-process drivers do not support them (and libvirt would log an error).
    const bool in_process = absl::StartsWith(uri, "test:") || absl::StrContains(uri, "embed");
    if (!in_process && virConnectSetKeepAlive(conn, 5, 3) < 0) virResetLastError();
    return conn;
  }

  // A referenced, live connection. Reconnects (once, under the lock) when a remote connection
  // died, e.g. because libvirtd restarted; concurrent callers keep their reference to the old
  // connection until they are done with it.
  // Conn(), its errors prefixed with `context`.
  absl::StatusOr<Connection> Conn(absl::string_view context) {
    absl::StatusOr<Connection> c = Conn();
    if (!c.ok()) return libvirt_internal::WithContext(context, c.status());
    return c;
  }

  // The owned domain named `id` over Conn(context) (LookupOwned); the domain keeps its
  // connection referenced.
  absl::StatusOr<Domain> OwnedDomain(const std::string& id, absl::string_view context) {
    absl::StatusOr<Connection> c = Conn(context);
    if (!c.ok()) return c.status();
    return libvirt_internal::LookupOwned(c->get(), id, context);
  }

  // OwnedDomain, and FailedPrecondition unless it is running.
  absl::StatusOr<Domain> RunningDomain(const std::string& id, absl::string_view context) {
    absl::StatusOr<Domain> dom = OwnedDomain(id, context);
    if (!dom.ok()) return dom;
    if (virDomainIsActive(dom->get()) != 1) {
      virResetLastError();
      return absl::FailedPreconditionError(absl::StrCat(context, ": the domain is not running"));
    }
    return dom;
  }

  absl::StatusOr<Connection> Conn() {
    absl::MutexLock lock(&conn_mu_);
    if (conn_ != nullptr && virConnectIsAlive(conn_) != 1) {
      virResetLastError();
      spdlog::warn("hypervisor: connection to {} is dead, reconnecting", uri_);
      virConnectClose(conn_);
      conn_ = nullptr;
    }
    if (conn_ == nullptr) {
      absl::StatusOr<virConnectPtr> conn = OpenConnection(uri_);
      if (!conn.ok()) return conn.status();
      conn_ = *conn;
    }
    if (virConnectRef(conn_) < 0) return LastError("reference connection");
    return Connection(conn_);
  }

  // Serialises mutating operations on one instance id within this process (a concurrent
  // CreateAndStart must not roll back a domain another call just started).
  class IdLock {
   public:
    IdLock(Impl& impl, std::string id) : impl_(impl), id_(std::move(id)) {
      Waiter w{&impl_.busy_ids_, &id_};
      impl_.ids_mu_.LockWhen(absl::Condition(&Waiter::Free, &w));
      impl_.busy_ids_.insert(id_);
      impl_.ids_mu_.Unlock();
    }
    ~IdLock() {
      absl::MutexLock lock(&impl_.ids_mu_);
      impl_.busy_ids_.erase(id_);
    }

   private:
    struct Waiter {
      const std::set<std::string>* busy;
      const std::string* id;
      static bool Free(Waiter* w) { return w->busy->count(*w->id) == 0; }
    };
    Impl& impl_;
    std::string id_;
  };

 private:
  const std::string uri_;
  const std::string nbd_tls_dir_;
  absl::Mutex conn_mu_;
  virConnectPtr conn_ ABSL_GUARDED_BY(conn_mu_);
  absl::Mutex ids_mu_;
  std::set<std::string> busy_ids_ ABSL_GUARDED_BY(ids_mu_);
};

}  // namespace minicloud::hypervisor
