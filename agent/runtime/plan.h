#pragma once

#include <map>
#include <string>
#include <vector>

#include "agent/hypervisor/hypervisor.h"
#include "common/volume_limits.h"
#include "minicloud/v1/host.pb.h"

namespace minicloud::agent {

// What the agent remembers of one instance between reconcile passes.
struct LocalInstance {
  v1::ObservedState state = v1::OBSERVED_STATE_UNSPECIFIED;
  std::string message;
  v1::LaunchTimeline timeline;
  bool busy = false;       // a launch, stop or teardown is in flight
  bool has_files = false;  // the instance directory exists on disk
  int booted = 0;          // the highest DesiredInstance.boot_count this host has booted
  int rebooted = 0;        // the highest DesiredInstance.reboot_count carried out (or booted)
  int failed_boot = 0;     // with state FAILED: the boot_count whose launch failed
  v1::BootFailure failure = v1::BOOT_FAILURE_UNSPECIFIED;  // with state FAILED: its kind
  bool admitted = false;  // the boot in flight passed the host's re-check (admission.h)
  // EBS disks (ebs_sync.h): what the domain had at the last sync, valid with ebs_known; the last
  // attach/detach failure per volume; when each target's hot-unplug was last asked for (Unix
  // ms), so a guest that takes its time is not asked every pass.
  bool ebs_known = false;
  std::vector<v1::ObservedEbsDisk> ebs;
  std::map<std::string, std::string> ebs_errors;
  std::map<std::string, int64_t> detach_asked_ms;
  // The I/O limits this agent set on each EBS disk (by target) by hot-plug or SetDiskLimits;
  // a disk missing here (plugged at the boot, or before the agent restarted) gets them once.
  std::map<std::string, volumes::IoTune> ebs_limits;
  // Hibernation: the last stop saved the RAM (this many bytes) onto the hibernation volume;
  // the last boot resumed the saved RAM (false: a cold boot).
  bool hibernated = false;
  int64_t saved_state_bytes = 0;
  bool resumed = false;
};

// kLaunch boots an instance (creating its disk the first time); kStop shuts a running domain
// down and keeps it; kTeardown destroys the domain and deletes its disks; kReboot reboots a
// running domain (RebootInstances).
enum class ActionKind { kLaunch, kStop, kTeardown, kReboot };

// An instance whose disks are not all there yet: a volume of its block device mapping is not
// made or exported (DesiredInstance.volumes_pending), or its EBS root has no endpoint. It cannot
// boot, and waits (reported PREPARING) instead of failing.
bool DisksPending(const v1::DesiredInstance& want);

struct Action {
  ActionKind kind;
  std::string instance_id;
};

// Pure reconcile step: compares desired instances with the domains the hypervisor has and the
// agent's local knowledge, and returns what to start. Never touches domains the controller did
// not mention (they are reported as orphans by the caller instead).
//
// A shut-off domain with goal RUNNING is booted again only when the controller asked for a boot
// this host has not done yet (boot_count above `booted`): a guest that powered itself off stays
// off until StartInstances, as on EC2. A failed launch is not retried for the same boot_count.
// A running domain reboots once for a reboot_count above `rebooted`; a boot counts as every
// reboot asked for before it.
std::vector<Action> PlanActions(const v1::DesiredState& desired,
                                const std::map<std::string, hypervisor::DomainInfo>& domains,
                                const std::map<std::string, LocalInstance>& local);

// The observed state to report for one desired instance.
v1::ObservedState ObserveInstance(const v1::DesiredInstance& want,
                                  const hypervisor::DomainInfo* domain, const LocalInstance* local);

}  // namespace minicloud::agent
