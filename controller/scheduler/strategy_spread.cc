#include "controller/scheduler/strategy_spread.h"

namespace minicloud::scheduler {

const ScoreSchema& SpreadStrategy::Schema() {
  static constexpr ScoreSchema kSchema{3,
                                       {{kPreferredPart,
                                         {"free-memory-after", PartOrder::kMoreFirst},
                                         {"free-vcpus-after", PartOrder::kMoreFirst}}}};
  return kSchema;
}

std::string SpreadStrategy::Account(const Candidate& c, const Score& s, int) const {
  const bool rack = ctx_.group->spread_level == SpreadLevel::kRack;
  return absl::StrCat(PreferredPrefix(s), rack ? "rack " : "host ", rack ? RackName(c) : c.h->id,
                      " holds no other instance of spread group ", GroupName(), " (",
                      st_.active_in_az + st_.placed + 1, " of ", kMaxSpreadInstancesPerAz, ")");
}

}  // namespace minicloud::scheduler
