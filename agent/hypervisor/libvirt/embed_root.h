#pragma once

// Helpers for libvirt's embedded QEMU driver, `qemu:///embed?root=DIR`: the QEMU driver runs
// inside the agent process (no libvirtd), keeps all its state under DIR, and the QEMU processes
// it starts are daemonised so they outlive the agent.
//
// Facts (libvirt 9.0, Debian 12), found by experiment:
// - The driver reads DIR/etc/qemu.conf (NOT DIR/etc/qemu/qemu.conf; DIR/etc/qemu/ holds the
//   persistent domain definitions).
// - As root the driver resolves the compiled-in default user "libvirt-qemu" BEFORE reading
//   qemu.conf and fails with "Failed to parse user 'libvirt-qemu'" when that account does not
//   exist (it is created by libvirt-daemon-system, which an embed-only host need not install).
//   PrepareEmbedRoot checks for it and says how to create it.
// - Serial/console files: with the default stdio_handler="logd" the driver sends file-backed
//   chardevs and QEMU's stderr through virtlogd, and as root it ALWAYS connects to the system
//   socket /run/libvirt/virtlogd-sock (no per-root socket, no auto-spawn). We write
//   stdio_handler = "file" instead: libvirt opens the console file itself and hands QEMU the fd
//   (-add-fd ... path=/dev/fdset/N), and QEMU's stderr goes to DIR/log/qemu/<name>.log. No
//   daemon to start, nothing shared between agents on one machine, and nothing that can die
//   under a running guest (with virtlogd, killing virtlogd breaks every guest's console).
//   Trade-off: console files are not rotated by libvirt, so the runtime must cap their size.
// - Only one process may use a root at a time (DIR/run/qemu/driver.pid is locked).
// - The first connection to a fresh root probes QEMU's capabilities (~4 s, cached under
//   DIR/cache/qemu afterwards).

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "agent/hypervisor/qemu_account.h"

namespace minicloud::hypervisor {

// Creates DIR (and DIR/etc, DIR/lib) if needed and writes DIR/etc/qemu.conf for the embedded
// driver with QEMU running as `account` (DIR and DIR/lib searchable by its group, the rest the
// agent's own; see qemu_account.h). Idempotent; rewrites the file only when its content differs.
// InvalidArgument for a relative DIR or one longer than 50 characters (QEMU monitor sockets live
// under it and UNIX socket paths are limited to 107 bytes). FailedPrecondition if the libvirt-qemu
// account is missing (with the command that fixes it).
// No NBD TLS setting: EBS disks are plugged over QMP with their own tls-creds object
// (ebs_qmp.h), never by libvirt.
absl::Status PrepareEmbedRoot(std::string_view root_dir, const QemuAccount& account);

// "qemu:///embed?root=DIR". DIR must be absolute.
std::string EmbedUri(std::string_view root_dir);

// The qemu.conf PrepareEmbedRoot writes (exposed for tests).
std::string EmbedQemuConf(const QemuAccount& account);

}  // namespace minicloud::hypervisor
