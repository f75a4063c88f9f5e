#pragma once

// The strategy objects: one per placement strategy (no group, cluster, spread, partition). Each
// supplies the group rules a host must pass after the host filters (filters.h) and the score
// parts hosts are ranked by (score.h), and keeps the strategy's own tentative state for one AZ's
// plan. The planner (planner.cc) is a template over the strategy type, so the per-candidate
// calls (Filter, Rank, Bucket) are inlined: no virtual call and no allocation per candidate.
//
// A strategy type provides (StrategyBase supplies the defaults):
//   Strategy(const PlanContext&, const AzState&)
//   static const ScoreSchema& Schema()            the names and meaning of its score parts
//   static constexpr bool kWalkIndex              see planner.cc: true when every host outside the
//                                                 racks the plan touches ranks only by free
//                                                 memory, free vCPU and the tie hash
//   void AddMember(const Member&)                 each member of the group in this AZ
//   void BeginSlot()                              before each instance slot
//   bool MustScan() const                         the slot must evaluate every host of the AZ
//   bool OutsiderMayWin(const Score& best) const  (kWalkIndex false) a host outside the touched
//                                                 racks could still rank before `best`
//   void PrepareRack(int rack), PrepareAz()       before hosts of a rack / the AZ are evaluated
//   FilterResult Filter(Candidate&) const         the group rules
//   void Rank(const Candidate&, Score&) const     the score parts
//   int Bucket(const Candidate&) const            which podium the candidate competes on
//   int Choose(podiums, chosen, runner_up) const  the slot's winner; returns its partition
//   void Apply(const Candidate&, int partition)   the winner, before the shared state counts it
//   std::string Account(const Candidate&, const Score&, int partition) const
//                                                 explain: the strategy's words for a winner

#include <array>
#include <string>

#include "absl/strings/str_cat.h"
#include "controller/scheduler/az_plan.h"
#include "controller/scheduler/filters.h"
#include "controller/scheduler/score.h"

namespace minicloud::scheduler {

// One podium per partition (index p) plus the shared one (index 0).
using Podiums = std::array<Podium, kMaxPartitions + 1>;

class StrategyBase {
 public:
  StrategyBase(const PlanContext& ctx, const AzState& st) : ctx_(ctx), st_(st) {}

  static constexpr bool kWalkIndex = true;
  void AddMember(const Member&) {}
  void BeginSlot() {}
  bool MustScan() const { return false; }
  bool OutsiderMayWin(const Score&) const { return true; }
  void PrepareRack(int) {}
  void PrepareAz() {}
  int Bucket(const Candidate&) const { return 0; }
  int Choose(const Podiums& podiums, Score& chosen, Score& runner_up) const {
    chosen = podiums[0].first;
    runner_up = podiums[0].second;
    return 0;
  }
  void Apply(const Candidate&, int) {}

 protected:
  // Score part 0 of every strategy: the request's preferred host (a restart's last host) first.
  static int64_t NotPreferred(const Candidate& c) { return c.preferred ? 0 : 1; }
  static constexpr ScorePartInfo kPreferredPart{"preferred-host", PartOrder::kYesFirst};
  // "preferred host (where it last ran); " when the winner won as the preferred host.
  static std::string PreferredPrefix(const Score& s) {
    return s.part[0] == 0 ? "preferred host (where it last ran); " : "";
  }
  std::string GroupName() const {
    return ctx_.group != nullptr ? absl::StrCat("'", ctx_.group->name, "'") : "";
  }
  const std::string& RackName(const Candidate& c) const { return ctx_.racks[c.h->rack].name; }

  const PlanContext& ctx_;
  const AzState& st_;
};

}  // namespace minicloud::scheduler
