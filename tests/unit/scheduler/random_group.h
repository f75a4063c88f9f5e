#pragma once

// A random placement group for the scheduler's randomized tests: any strategy, spread level
// host (30%) or rack, 1..7 partitions. Draws from `rng` in a fixed order, so a seed replays.

#include <random>
#include <string>

#include "controller/scheduler/scheduler.h"

namespace minicloud::scheduler::testing {

inline PlacementGroup RandomGroup(int index, std::mt19937& rng) {
  auto uniform = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  PlacementGroup pg;
  pg.name = "pg" + std::to_string(index);
  switch (uniform(0, 2)) {
    case 0:
      pg.strategy = PlacementStrategy::kCluster;
      break;
    case 1:
      pg.strategy = PlacementStrategy::kSpread;
      pg.spread_level = std::uniform_real_distribution<double>(0, 1)(rng) < 0.3
                            ? SpreadLevel::kHost
                            : SpreadLevel::kRack;
      break;
    default:
      pg.strategy = PlacementStrategy::kPartition;
      pg.partition_count = uniform(1, 7);
  }
  return pg;
}

}  // namespace minicloud::scheduler::testing
