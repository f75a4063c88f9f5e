#pragma once

// The host's own re-check before it boots an instance. The controller decides placement and
// reserves capacity in one commit under its lock; the agent still refuses a boot that would
// break what it can see locally (a stale or restored controller, a bug): the host's allocatable
// vCPU and memory, and the placement rules that hold within one host — a spread group has at
// most one active member per host (a rack holds at least one host), and a host never holds two
// partitions of one partition group.

#include <map>
#include <string>

#include "absl/status/status.h"
#include "agent/hypervisor/hypervisor.h"
#include "agent/runtime/plan.h"
#include "minicloud/v1/host.pb.h"

namespace minicloud::agent {

// Instances that occupy this host: desired RUNNING with a running (or paused) domain, or with a
// boot in flight that already passed this check (LocalInstance::admitted). `want` itself is
// never counted. FailedPrecondition (message starting "admission:") names the broken rule; the
// agent reports the refusal as a FAILED boot of kind v1::BOOT_FAILURE_ADMISSION, which the
// controller turns into Server.InsufficientInstanceCapacity (controller/lifecycle/).
absl::Status CheckAdmission(const v1::DesiredInstance& want, const v1::DesiredState& desired,
                            const std::map<std::string, hypervisor::DomainInfo>& domains,
                            const std::map<std::string, LocalInstance>& local);

}  // namespace minicloud::agent
