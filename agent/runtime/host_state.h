#pragma once

// What an agent leaves on its host besides running guests: the state directory, the libvirt
// domains it defined and the host network of its subnet. `minicloud-agent cleanup` (used by
// `cloud down`) removes all of it.

#include <sys/types.h>

#include <string>

#include "absl/status/status.h"
#include "agent/hypervisor/hypervisor.h"
#include "agent/runtime/agent.h"

namespace minicloud::agent {

// The state directory's mode: searchable by everyone, listable and writable by root only.
// Accounts that open files below it by name need to pass through it: QEMU's (instances/,
// images/ and libvirt/ are 0710 to its group) and dnsmasq's (the network directory). Every
// file the agent writes is 0600 (umask 077), so passing through reads nothing else.
inline constexpr mode_t kStateDirMode = 0711;

// Creates the state directory (and parents) with kStateDirMode, also setting that mode when it
// already existed with another one. Idempotent. The error names the directory.
absl::Status EnsureStateDir(const std::string& state_dir);

// Destroys every domain `hypervisor` lists, deletes <state_dir>/instances and tears down the
// host network whose subnet <state_dir>/subnet records (built by `network_factory`), removing
// that file once the network is gone. Keeps going after a failed step; each failure is logged.
// Returns OK when every step succeeded, otherwise an error counting the failed steps (a failed
// domain listing stops at once: nothing is known to destroy).
absl::Status CleanupHost(hypervisor::Hypervisor& hypervisor, const std::string& state_dir,
                         const NetworkFactory& network_factory);

}  // namespace minicloud::agent
