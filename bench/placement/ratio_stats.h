#pragma once

// The ratio of two lines measured in paired rounds (service / library in bench_placement): the
// geometric mean of the per-round ratios and a 95% t-interval on their logarithms, so a round
// where the shared disk was slow for both lines counts as what it is, one paired observation.

#include <vector>

namespace minicloud::bench {

struct RatioSummary {
  int rounds = 0;
  double geometric_mean = 0;
  double low = 0;   // 95% interval (t distribution, rounds - 1 degrees of freedom); 0 if < 2
  double high = 0;  // rounds
};

RatioSummary SummarizeRatios(const std::vector<double>& ratios);

// Two-sided 95% quantile of Student's t with `df` degrees of freedom (df >= 1).
double TQuantile975(int df);

}  // namespace minicloud::bench
