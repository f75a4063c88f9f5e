#include "agent/runtime/desired_check.h"

#include "absl/strings/str_cat.h"
#include "common/ids.h"

namespace minicloud::agent {

std::vector<std::string> DropMalformedInstances(v1::DesiredState& desired) {
  std::vector<std::string> refused;
  auto* instances = desired.mutable_instances();
  int kept = 0;
  for (int i = 0; i < instances->size(); ++i) {
    if (absl::Status s = CheckId(IdKind::kInstance, instances->Get(i).instance_id()); !s.ok()) {
      refused.push_back(absl::StrCat("desired state entry ", i, " ignored: ", s.message()));
      continue;
    }
    if (kept != i) instances->SwapElements(kept, i);
    ++kept;
  }
  instances->DeleteSubrange(kept, instances->size() - kept);
  return refused;
}

}  // namespace minicloud::agent
