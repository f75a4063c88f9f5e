#pragma once

// cluster: one AZ (the AZ filter holds the request to the group's lock); no other group rule.
// Packs: (preferred-host, rack-has-group, fits-remaining-on-rack, host-has-group,
// free-memory-after (least first: best fit), free-vcpus-after (least first), tie hash). A rack
// "has the group" when it holds an active member or an instance this request already planned;
// fits-remaining-on-rack asks whether the rack's hosts that pass the filters can still take
// every instance the request has left.

#include <vector>

#include "controller/scheduler/strategy.h"

namespace minicloud::scheduler {

class ClusterStrategy : public StrategyBase {
 public:
  ClusterStrategy(const PlanContext& ctx, const AzState& st);
  static const ScoreSchema& Schema();

  // A host outside the plan's racks ranks as (not preferred, rack without the group, ...), so
  // the free-capacity order alone can not decide; see OutsiderMayWin.
  static constexpr bool kWalkIndex = false;
  bool OutsiderMayWin(const Score& best) const {
    return best.host < 0 || (best.part[0] != 0 && best.part[1] != 0);
  }
  // The instances a rack still fits are computed when the rack is first evaluated (indexed) or
  // for every rack up front (reference scan), then kept up to date by Apply.
  void PrepareRack(int rack) {
    if (fit_known_.empty() || fit_known_[rack]) return;
    fit_known_[rack] = 1;
    for (int index : ctx_.racks[rack].hosts) AddFit(index, +1);
  }
  void PrepareAz() {
    for (int r = 0; r < static_cast<int>(fit_known_.size()); ++r) {
      if (ctx_.racks[r].az == st_.az) PrepareRack(r);
    }
  }
  FilterResult Filter(Candidate&) const { return {}; }
  void Rank(const Candidate& c, Score& s) const {
    const int rack = c.h->rack;
    const bool rack_has = st_.grp_on_rack[rack] + st_.req_on_rack[rack] > 0;
    const bool host_has = st_.grp_on_host[c.slot] + c.on_host > 0;
    s.part = {NotPreferred(c),  rack_has ? 0 : 1,    rack_fit_[rack] >= st_.remaining ? 0 : 1,
              host_has ? 0 : 1, c.free_memory_after, c.free_vcpus_after};
  }
  void Apply(const Candidate& c, int) {
    rack_fit_[c.h->rack] -= FitsOn(*c.h, c.on_host, *ctx_.request);
    if (HostFilters(*c.h, c.on_host + 1, *ctx_.request).ok()) {
      rack_fit_[c.h->rack] += FitsOn(*c.h, c.on_host + 1, *ctx_.request);
    }
  }
  std::string Account(const Candidate& c, const Score& s, int partition) const;

 private:
  // Adds (sign +1) the instances the host still fits, when it passes the host filters.
  void AddFit(int index, int sign) {
    const Fleet::Host& h = ctx_.hosts[index];
    const int on_host = st_.instances[h.az_slot];
    if (HostFilters(h, on_host, *ctx_.request).ok()) {
      rack_fit_[h.rack] += sign * FitsOn(h, on_host, *ctx_.request);
    }
  }

  std::vector<int64_t> rack_fit_;  // per rack index: instances of the request it still fits
  std::vector<char> fit_known_;    // indexed: per rack index, rack_fit_ computed
};

}  // namespace minicloud::scheduler
