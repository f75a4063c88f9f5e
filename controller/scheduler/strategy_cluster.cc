#include "controller/scheduler/strategy_cluster.h"

namespace minicloud::scheduler {

ClusterStrategy::ClusterStrategy(const PlanContext& ctx, const AzState& st)
    : StrategyBase(ctx, st), rack_fit_(ctx.rack_count) {
  if (ctx.indexed) {
    fit_known_ = std::vector<char>(ctx.rack_count);
    return;
  }
  for (int r = 0; r < ctx.rack_count; ++r) {
    if (ctx.racks[r].az != st.az) continue;
    for (int index : ctx.racks[r].hosts) AddFit(index, +1);
  }
}

const ScoreSchema& ClusterStrategy::Schema() {
  static constexpr ScoreSchema kSchema{6,
                                       {{kPreferredPart,
                                         {"rack-has-group", PartOrder::kYesFirst},
                                         {"fits-remaining-on-rack", PartOrder::kYesFirst},
                                         {"host-has-group", PartOrder::kYesFirst},
                                         {"free-memory-after", PartOrder::kLessFirst},
                                         {"free-vcpus-after", PartOrder::kLessFirst}}}};
  return kSchema;
}

std::string ClusterStrategy::Account(const Candidate& c, const Score& s, int) const {
  const bool rack_has = s.part[1] == 0;
  return absl::StrCat(PreferredPrefix(s), rack_has ? "rack " : "new rack ", RackName(c),
                      rack_has ? " already holds the group" : "",
                      s.part[2] == 0 ? absl::StrCat("; rack fits the remaining ", st_.remaining)
                                     : absl::StrCat("; rack fits only ", rack_fit_[c.h->rack]),
                      s.part[3] == 0 ? "; host already holds the group" : "", "; best fit");
}

}  // namespace minicloud::scheduler
