#include "cli/suggest.h"

#include <algorithm>

namespace minicloud::cli {

double Similarity(const std::string& a, const std::string& b) {
  if (a.empty() && b.empty()) return 1;
  std::vector<size_t> prev(b.size() + 1, 0), cur(b.size() + 1, 0);
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      cur[j] = a[i - 1] == b[j - 1] ? prev[j - 1] + 1 : std::max(prev[j], cur[j - 1]);
    }
    std::swap(prev, cur);
  }
  return 2.0 * static_cast<double>(prev[b.size()]) / static_cast<double>(a.size() + b.size());
}

std::vector<std::string> ClosestNames(const std::string& typed,
                                      const std::vector<std::string>& names) {
  std::vector<std::pair<double, std::string>> scored;
  for (const auto& n : names) {
    const double s = Similarity(typed, n);
    if (s >= 0.8) scored.emplace_back(s, n);
  }
  std::stable_sort(scored.begin(), scored.end(),
                   [](const auto& x, const auto& y) { return x.first > y.first; });
  std::vector<std::string> out;
  for (size_t i = 0; i < scored.size() && i < 3; ++i) out.push_back(scored[i].second);
  return out;
}

}  // namespace minicloud::cli
