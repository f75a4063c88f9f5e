#include "agent/hypervisor/hypervisor.h"

namespace minicloud::hypervisor {

std::string_view AcceleratorName(Accelerator a) {
  switch (a) {
    case Accelerator::kKvm:
      return "kvm";
    case Accelerator::kTcg:
      return "tcg";
  }
  return "unknown";
}

std::string_view DomainStateName(DomainState s) {
  switch (s) {
    case DomainState::kRunning:
      return "running";
    case DomainState::kPaused:
      return "paused";
    case DomainState::kShutoff:
      return "shutoff";
    case DomainState::kCrashed:
      return "crashed";
    case DomainState::kOther:
      return "other";
  }
  return "unknown";
}

}  // namespace minicloud::hypervisor
