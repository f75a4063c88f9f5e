#pragma once

// No placement group: EC2's default spread. No group rules. Per instance the host that ranks
// first on (preferred-host, rack-request-instances, host-request-instances, free-memory-after,
// free-vcpus-after, tie hash): spread over racks, then hosts, then the most free capacity.

#include "controller/scheduler/strategy.h"

namespace minicloud::scheduler {

class NoGroupStrategy : public StrategyBase {
 public:
  using StrategyBase::StrategyBase;
  static const ScoreSchema& Schema();

  FilterResult Filter(Candidate&) const { return {}; }
  void Rank(const Candidate& c, Score& s) const {
    s.part = {NotPreferred(c),      st_.req_on_rack[c.h->rack], c.on_host,
              -c.free_memory_after, -c.free_vcpus_after,        0};
  }
  std::string Account(const Candidate& c, const Score& s, int partition) const;
};

}  // namespace minicloud::scheduler
