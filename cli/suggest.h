#pragma once

// "maybe you meant": the known names closest to a mistyped one, as the aws CLI suggests them
// (similarity at least 0.8, at most three, closest first).

#include <string>
#include <vector>

namespace minicloud::cli {

// 2 * (longest common subsequence) / (total length): 1 for equal strings, 0 for disjoint ones.
double Similarity(const std::string& a, const std::string& b);

std::vector<std::string> ClosestNames(const std::string& typed,
                                      const std::vector<std::string>& names);

}  // namespace minicloud::cli
