// FormatExplanation: the text behind `--explain` and describe-placement. Stable: it depends only
// on its inputs, hosts come sorted by id, and nothing prints addresses, times or hash-map order.
// Each host that passed the filters gets a second line with its score parts (name=value in
// ranking order); a chosen host's line says, per instance, the first part where it beat the
// runner-up.

#include <algorithm>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "controller/scheduler/scheduler.h"

namespace minicloud::scheduler {

std::string FormatExplanation(const PlacementRequest& r, const PlacementExplanation& e) {
  std::string out =
      absl::StrCat("placement ", r.request_id.empty() ? "(no id)" : r.request_id, ": ", r.min_count,
                   "..", r.max_count, " x ", r.vcpus, " vCPU, ", r.memory_mib, " MiB");
  if (r.instance_store_gb > 0) absl::StrAppend(&out, ", ", r.instance_store_gb, " GB store");
  if (r.group != nullptr) {
    absl::StrAppend(&out, "; group '", r.group->name, "' (",
                    PlacementStrategyName(r.group->strategy));
    if (r.group->strategy == PlacementStrategy::kSpread) {
      absl::StrAppend(&out, ", ", SpreadLevelName(r.group->spread_level), " level");
    }
    if (r.group->strategy == PlacementStrategy::kPartition) {
      absl::StrAppend(&out, ", ", r.group->partition_count, " partitions");
    }
    if (!r.group->locked_az.empty()) absl::StrAppend(&out, ", locked to ", r.group->locked_az);
    absl::StrAppend(&out, ", ", r.group->members.size(), " members)");
  }
  if (r.partition_number > 0) absl::StrAppend(&out, "; partition ", r.partition_number);
  absl::StrAppend(&out, "; zone ", r.availability_zone.empty() ? "any" : r.availability_zone);
  if (!r.region.empty()) absl::StrAppend(&out, "; region ", r.region);
  if (!r.restart_instance_id.empty()) absl::StrAppend(&out, "; restart ", r.restart_instance_id);
  out += "\n";

  if (e.status.ok()) {
    absl::StrAppend(&out, "result: placed ", e.result.host_ids.size(), " in ",
                    e.result.availability_zone);
    if (!e.result.cluster_locked_az.empty()) {
      absl::StrAppend(&out, " (cluster group locked to ", e.result.cluster_locked_az, ")");
    }
    out += "\n";
  } else {
    absl::StrAppend(&out, "result: ", absl::StatusCodeToString(e.status.code()), ": ",
                    e.status.message(), "\n");
  }
  for (const auto& n : e.notes) absl::StrAppend(&out, "  note: ", n, "\n");
  size_t width = 0;
  for (const auto& h : e.hosts) width = std::max(width, h.host_id.size());
  for (const auto& h : e.hosts) {
    std::string id = h.host_id;
    id.resize(width, ' ');
    switch (h.verdict) {
      case Verdict::kChosen:
        absl::StrAppend(&out, "  chosen   ", id, "  x", h.instances, "  ", h.reason, "\n");
        break;
      case Verdict::kRejected:
        absl::StrAppend(&out, "  rejected ", id, "  [", RejectCodeName(h.code), "] ", h.reason,
                        "\n");
        break;
      case Verdict::kPassedOver:
        absl::StrAppend(&out, "  passed   ", id, "  ", h.reason, "\n");
        break;
    }
    if (!h.score.empty()) {
      absl::StrAppend(&out, std::string(11 + width, ' '), "  score: ",
                      absl::StrJoin(h.score, " ",
                                    [](std::string* o, const ScorePart& p) {
                                      absl::StrAppend(o, p.name, "=", p.value);
                                    }),
                      "\n");
    }
  }
  return out;
}

}  // namespace minicloud::scheduler
