#pragma once

// The account QEMU runs under, and the one place that decides which files of the agent's state
// directory that account may open.
//
// The agent runs as root with umask 077: everything it writes is 0600 and every directory it
// makes 0700. QEMU parses everything a guest does (devices, disks, the monitor), so it runs
// under its own unprivileged account (`minicloud-qemu` by default; qemu.conf of the embedded
// libvirt driver, see libvirt/embed_root.h). That account reaches only what its guests need,
// through its group, and owns nothing the agent relies on:
//
//   directory on the way to a guest's files   0710 root:<group>  (search, no listing)
//   shared AMI blob (backing file, kernel,    0440 root:<group>  (read; QEMU cannot write or
//     initrd)                                                    chmod a file it does not own)
//   a guest's root overlay                    0660 root:<group>  (read and write)
//   everything else (desired state, console,  0600 root          (libvirt opens console and
//     metadata, host identity)                                   QEMU log files as root and
//                                                                passes QEMU the descriptor)
//
// With the account "root" (an explicit opt-out) QEMU runs as root, nothing is shared with a
// group, and the same calls only set the owner-only modes (0700 / 0400 / 0600).
//
// Not confined by this: every QEMU of a host runs under the same account, so a guest that
// escapes into its QEMU can read and write the root overlays of the host's other guests (they
// share the group) and read every AMI blob of the host. No MAC policy (AppArmor/SELinux) is
// applied; see SECURITY.md.

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace minicloud::hypervisor {

inline constexpr char kDefaultQemuUser[] = "minicloud-qemu";

struct QemuAccount {
  std::string user = "root";
  std::string group = "root";
  uid_t uid = 0;
  gid_t gid = 0;
  // The user's supplementary groups (QEMU gets them too: libvirt sets the user's group list).
  std::vector<gid_t> groups;

  bool privileged() const { return uid == 0; }

  // Creates `dir` (and missing parents) and makes it searchable, but not listable, by the
  // account's group: 0710 root:<group> (0700 for root).
  absl::Status ShareDirectory(const std::string& dir) const;
  // Makes an existing file readable by the account's group: 0440 root:<group> (0400 for root).
  absl::Status ShareReadOnly(const std::string& path) const;
  // Makes an existing file readable and writable by the account's group: 0660 root:<group>
  // (0600 for root).
  absl::Status ShareWritable(const std::string& path) const;

  // OK when the account can search every directory from "/" down to `dir` (by its owner,
  // group or other bits). Otherwise FailedPrecondition naming the first directory in the way,
  // its mode, and what to do (the agent calls this for its state directory at start, before
  // any guest fails to boot with "Permission denied").
  absl::Status CheckCanReach(const std::string& dir) const;
  // OK when the account may open the character device `device` read-write by its mode bits
  // (e.g. /dev/kvm, usually 0660 root:kvm). Otherwise FailedPrecondition saying which group
  // to add the account to.
  absl::Status CheckCanOpenDevice(const std::string& device) const;
};

// The account named `user` with its primary group and supplementary groups. "root" is allowed
// (QEMU unconfined, an explicit choice). NotFound, with the commands that create it, when the
// account does not exist; InvalidArgument for an empty name.
absl::StatusOr<QemuAccount> LookupQemuAccount(const std::string& user);

}  // namespace minicloud::hypervisor
