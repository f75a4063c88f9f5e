#include "bench/placement/ratio_stats.h"

#include <cmath>

namespace minicloud::bench {

double TQuantile975(int df) {
  // t_{0.975, df} for df = 1..30 (standard tables); the normal quantile above that.
  static constexpr double kT[] = {12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306,
                                  2.262,  2.228, 2.201, 2.179, 2.160, 2.145, 2.131, 2.120,
                                  2.110,  2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064,
                                  2.060,  2.056, 2.052, 2.048, 2.045, 2.042};
  if (df < 1) return 0;
  return df <= 30 ? kT[df - 1] : 1.960;
}

RatioSummary SummarizeRatios(const std::vector<double>& ratios) {
  RatioSummary s;
  std::vector<double> logs;
  for (double r : ratios) {
    if (r > 0) logs.push_back(std::log(r));
  }
  s.rounds = static_cast<int>(logs.size());
  if (logs.empty()) return s;
  double mean = 0;
  for (double l : logs) mean += l;
  mean /= logs.size();
  s.geometric_mean = std::exp(mean);
  if (logs.size() < 2) return s;
  double var = 0;
  for (double l : logs) var += (l - mean) * (l - mean);
  var /= logs.size() - 1;
  const double half = TQuantile975(s.rounds - 1) * std::sqrt(var / logs.size());
  s.low = std::exp(mean - half);
  s.high = std::exp(mean + half);
  return s;
}

}  // namespace minicloud::bench
