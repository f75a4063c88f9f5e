#pragma once

// spread: at most 7 active members per AZ (spread-az-full), each on a rack (rack level,
// spread-rack-taken) or host (host level, spread-host-taken) holding no other active member or
// planned instance. Among the hosts that pass: (preferred-host, free-memory-after,
// free-vcpus-after, tie hash).

#include "controller/scheduler/strategy.h"

namespace minicloud::scheduler {

class SpreadStrategy : public StrategyBase {
 public:
  using StrategyBase::StrategyBase;
  static const ScoreSchema& Schema();

  // Every host fails spread-az-full: the scan names each one's reason.
  bool MustScan() const { return st_.active_in_az + st_.placed >= kMaxSpreadInstancesPerAz; }
  FilterResult Filter(Candidate& c) const {
    if (FilterResult f = SpreadAzFullFilter(st_.active_in_az + st_.placed); !f.ok()) return f;
    if (ctx_.group->spread_level == SpreadLevel::kRack) {
      return SpreadRackFilter(st_.grp_on_rack[c.h->rack] + st_.req_on_rack[c.h->rack]);
    }
    return SpreadHostFilter(st_.grp_on_host[c.slot] + c.on_host);
  }
  void Rank(const Candidate& c, Score& s) const {
    s.part = {NotPreferred(c), -c.free_memory_after, -c.free_vcpus_after, 0, 0, 0};
  }
  std::string Account(const Candidate& c, const Score& s, int partition) const;
};

}  // namespace minicloud::scheduler
