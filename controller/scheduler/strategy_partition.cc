#include "controller/scheduler/strategy_partition.h"

#include <algorithm>

namespace minicloud::scheduler {

const ScoreSchema& PartitionStrategy::Schema() {
  static constexpr ScoreSchema kSchema{4,
                                       {{kPreferredPart,
                                         {"rack-owned-by-partition", PartOrder::kYesFirst},
                                         {"free-memory-after", PartOrder::kMoreFirst},
                                         {"free-vcpus-after", PartOrder::kMoreFirst}}}};
  return kSchema;
}

void PartitionStrategy::BeginSlot() {
  order_n_ = 0;
  if (ctx_.target_partition > 0) {
    order_[order_n_++] = ctx_.target_partition;
    return;
  }
  for (int p = 1; p <= count_; ++p) order_[order_n_++] = p;
  std::sort(order_.begin(), order_.begin() + order_n_, [&](int a, int b) {
    if (size_[a] != size_[b]) return size_[a] < size_[b];
    const uint64_t ha = MixHash(ctx_.seed, static_cast<uint64_t>(a));
    const uint64_t hb = MixHash(ctx_.seed, static_cast<uint64_t>(b));
    return ha != hb ? ha < hb : a < b;
  });
}

int PartitionStrategy::Choose(const Podiums& podiums, Score& chosen, Score& runner_up) const {
  // The first partition (in order) that can take the instance: its own racks' best, or the best
  // on a free rack, whichever ranks first.
  for (int k = 0; k < order_n_; ++k) {
    const int p = order_[k];
    const std::array<const Score*, 4> entrants = {&podiums[p].first, &podiums[p].second,
                                                  &podiums[0].first, &podiums[0].second};
    const Score* best = nullptr;
    for (const Score* s : entrants) {
      if (s->host >= 0 && (best == nullptr || RanksBefore(*s, *best, ctx_.hosts))) best = s;
    }
    if (best == nullptr) continue;
    const Score* second = nullptr;
    for (const Score* s : entrants) {
      if (s->host >= 0 && s->host != best->host &&
          (second == nullptr || RanksBefore(*s, *second, ctx_.hosts))) {
        second = s;
      }
    }
    chosen = *best;
    runner_up = second != nullptr ? *second : Score{};
    return p;
  }
  chosen = Score{};
  runner_up = Score{};
  return 0;
}

std::string PartitionStrategy::Account(const Candidate& c, const Score& s, int partition) const {
  return absl::StrCat(PreferredPrefix(s), "partition ", partition,
                      ctx_.target_partition > 0
                          ? " (requested)"
                          : absl::StrCat(" (", size_[partition], " member(s), fewest first)"),
                      s.part[1] == 0 ? "; rack " : "; free rack ", RackName(c),
                      s.part[1] == 0 ? " already belongs to it" : " now belongs to it");
}

}  // namespace minicloud::scheduler
