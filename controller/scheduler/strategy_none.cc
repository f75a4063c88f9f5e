#include "controller/scheduler/strategy_none.h"

namespace minicloud::scheduler {

const ScoreSchema& NoGroupStrategy::Schema() {
  static constexpr ScoreSchema kSchema{5,
                                       {{kPreferredPart,
                                         {"rack-request-instances", PartOrder::kFewerFirst},
                                         {"host-request-instances", PartOrder::kFewerFirst},
                                         {"free-memory-after", PartOrder::kMoreFirst},
                                         {"free-vcpus-after", PartOrder::kMoreFirst}}}};
  return kSchema;
}

std::string NoGroupStrategy::Account(const Candidate& c, const Score& s, int) const {
  return absl::StrCat(PreferredPrefix(s), "rack ", RackName(c), " had ", s.part[1],
                      " and the host ", s.part[2], " instance(s) of this request");
}

}  // namespace minicloud::scheduler
