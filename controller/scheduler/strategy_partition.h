#pragma once

// partition: a rack holding an active member of partition p only takes partition p
// (partition-rack-taken; a rack holding several partitions takes none). A requested partition
// number targets that partition; 0 spreads evenly: per instance the partition with the fewest
// members (active + stopped, in the AZ), ties by the request's seed, that can take it. Within a
// partition: (preferred-host, rack-owned-by-partition (its own racks first, free racks are kept
// for the others), free-memory-after, free-vcpus-after, tie hash).

#include <array>
#include <vector>

#include "controller/scheduler/strategy.h"

namespace minicloud::scheduler {

class PartitionStrategy : public StrategyBase {
 public:
  PartitionStrategy(const PlanContext& ctx, const AzState& st)
      : StrategyBase(ctx, st), count_(ctx.group->partition_count), rack_mask_(ctx.rack_count) {}
  static const ScoreSchema& Schema();

  void AddMember(const Member& m) {
    if (m.partition >= 1 && m.partition <= kMaxPartitions) ++size_[m.partition];
    if (m.active && m.rack >= 0) rack_mask_[m.rack] |= PartitionBit(m.partition);
  }
  void BeginSlot();
  FilterResult Filter(Candidate& c) const {
    c.owner = RackOwner(rack_mask_[c.h->rack]);
    return PartitionRackFilter(c.owner, count_, ctx_.target_partition);
  }
  void Rank(const Candidate& c, Score& s) const {
    s.part = {
        NotPreferred(c), c.owner > 0 ? 0 : 1, -c.free_memory_after, -c.free_vcpus_after, 0, 0};
  }
  // A host on a rack of partition p competes on podium p, a host on a free rack on podium 0.
  int Bucket(const Candidate& c) const { return c.owner > 0 ? c.owner : 0; }
  int Choose(const Podiums& podiums, Score& chosen, Score& runner_up) const;
  void Apply(const Candidate& c, int partition) {
    rack_mask_[c.h->rack] |= PartitionBit(partition);
    ++size_[partition];
  }
  std::string Account(const Candidate& c, const Score& s, int partition) const;

 private:
  static int PartitionBit(int p) { return (p >= 1 && p <= kMaxPartitions) ? (1 << p) : 1; }

  const int count_;
  std::vector<int> rack_mask_;                  // per rack index: bit p = holds partition p
  std::array<int, kMaxPartitions + 1> size_{};  // members (active + stopped) per partition
  std::array<int, kMaxPartitions> order_{};     // this slot's partitions, in the order tried
  int order_n_ = 0;
};

}  // namespace minicloud::scheduler
