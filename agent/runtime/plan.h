#pragma once

#include <map>
#include <string>
#include <vector>

#include "agent/hypervisor/hypervisor.h"
#include "minicloud/v1/host.pb.h"

namespace minicloud::agent {

// What the agent remembers of one instance between reconcile passes.
struct LocalInstance {
  v1::ObservedState state = v1::OBSERVED_STATE_UNSPECIFIED;
  std::string message;
  v1::LaunchTimeline timeline;
  bool busy = false;       // a launch or teardown is in flight
  bool has_files = false;  // the instance directory exists on disk
};

enum class ActionKind { kLaunch, kTeardown };

struct Action {
  ActionKind kind;
  std::string instance_id;
};

// Pure reconcile step: compares desired instances with the domains the hypervisor has and the
// agent's local knowledge, and returns what to start. Never touches domains the controller did
// not mention (they are reported as orphans by the caller instead).
std::vector<Action> PlanActions(const v1::DesiredState& desired,
                                const std::map<std::string, hypervisor::DomainInfo>& domains,
                                const std::map<std::string, LocalInstance>& local);

// The observed state to report for one desired instance.
v1::ObservedState ObserveInstance(const v1::DesiredInstance& want,
                                  const hypervisor::DomainInfo* domain, const LocalInstance* local);

}  // namespace minicloud::agent
