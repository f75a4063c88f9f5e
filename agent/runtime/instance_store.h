#pragma once

// An instance's instance-store volumes on this host: sparse raw files in its state directory
// (ephemeral0.img, ...), one per DesiredInstance.instance_store entry. Lifetime, as on EC2:
// created empty at each boot (Agent::Launch; a domain found running, as after an agent
// restart, keeps its files), kept across reboots, deleted when the instance stops (RunStop) or
// terminates (the directory goes). Nothing but these functions touches them: no API detaches
// them.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "agent/hypervisor/hypervisor.h"
#include "minicloud/v1/host.pb.h"

namespace minicloud::agent {

inline constexpr int64_t kMaxInstanceStoreGb = 1 << 16;  // far above any type's volume

struct InstanceStoreFile {
  hypervisor::InstanceStoreDisk disk;  // path, virtio target, serial
  int64_t size_bytes = 0;
};

// Pure. The files for `want` under `dir`, checked (the desired state is input from the
// network): virtual names ephemeral0..ephemeral23, each once; device names sd[b-z] or xvd[b-z]
// (with or without "/dev/"), each slot once, mapped to the virtio target vd[b-z]; sizes
// 1..kMaxInstanceStoreGb GiB. InvalidArgument naming the entry otherwise.
absl::StatusOr<std::vector<InstanceStoreFile>> PlanInstanceStore(const v1::DesiredInstance& want,
                                                                 const std::string& dir);

// Creates every file sparse at its size. `fresh`: an existing file is emptied (a new boot gets
// empty volumes); otherwise an existing file is kept as it is. Files are 0600.
absl::Status CreateInstanceStore(const std::vector<InstanceStoreFile>& files, bool fresh);

// Deletes every instance-store file in `dir` (ephemeral*.img). Missing files are fine.
absl::Status RemoveInstanceStore(const std::string& dir);

}  // namespace minicloud::agent
