// bench_placement's entry point: the flags, then the library line, the service line, or both in
// paired rounds (--rounds) with the ratio of their committed placements/s.

#include <stdlib.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bench/placement/library_bench.h"
#include "bench/placement/ratio_stats.h"
#include "bench/placement/service_bench.h"

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  minicloud::scheduler::Options o;
  if (!minicloud::scheduler::ParseFlags(argc, argv, o)) {
    std::fprintf(
        stderr,
        "usage: bench_placement [--mode=both|library|service|large-count] [--hosts=N] "
        "[--prefill=N] [--launches=N] [--seed=N] [--clients=N] [--dir=DIR] "
        "[--db_bench=PATH] [--db_bench_num=N] [--large_count=N] [--large_rounds=N] [--rounds=N] "
        "[--keep]\n");
    return 2;
  }
  if (o.mode == "library") {
    std::printf("=== library line: scheduler::Fleet + synthetic records via GroupCommitter ===\n");
    double rate = 0;
    return minicloud::scheduler::RunLibraryLine(o, &rate);
  }
  minicloud::bench::ServiceBenchOptions so;
  so.hosts = o.hosts;
  so.prefill = o.prefill;
  so.launches = o.launches;
  so.clients = o.clients;
  so.seed = o.seed;
  std::string base = o.dir;
  if (base.empty()) {
    char tmpl[] = "/var/tmp/minicloud-bench-placement.XXXXXX";
    if (mkdtemp(tmpl) == nullptr) return 2;
    base = tmpl;
  }
  if (o.mode == "large-count") {
    so.dir = base + "/service";
    std::filesystem::create_directories(so.dir);
    so.launches = 0;
    so.prefill = 0;
    so.large_count = o.large_count;
    so.large_rounds = o.large_rounds;
    std::printf(
        "=== large count: RunInstances of %d instances x %d while DescribeHosts loops ===\n",
        o.large_count, o.large_rounds);
    const bool ok = minicloud::bench::RunLargeCountBench(so);
    if (!o.keep) std::filesystem::remove_all(so.dir);
    return ok ? 0 : 1;
  }
  // Paired rounds: each round runs both lines from scratch (own stores, same seed), library
  // first in odd rounds and service first in even ones, so drift of the shared disk and CPU
  // over a round hits both lines alike; the ratio is judged over the rounds.
  const bool both = o.mode == "both";
  const int rounds = both ? o.rounds : 1;
  std::vector<double> ratios;
  int rc = 0;
  for (int r = 0; r < rounds; ++r) {
    const std::string round_dir = rounds > 1 ? absl::StrCat(base, "/round-", r + 1) : base;
    double loadavg = 0;
    if (FILE* f = std::fopen("/proc/loadavg", "r")) {
      if (std::fscanf(f, "%lf", &loadavg) != 1) loadavg = 0;
      std::fclose(f);
    }
    double library_rate = 0, service_rate = 0;
    auto run_library = [&] {
      std::printf(
          "=== library line: scheduler::Fleet + synthetic records via GroupCommitter ===\n");
      minicloud::scheduler::Options lo = o;
      lo.dir = round_dir + "/library";
      std::filesystem::create_directories(lo.dir);
      rc = std::max(rc, minicloud::scheduler::RunLibraryLine(lo, &library_rate));
      if (!o.keep) std::filesystem::remove_all(lo.dir);
    };
    auto run_service = [&] {
      std::printf(
          "=== service line: ComputeService::RunInstances (CloudState, RocksDbStore) ===\n");
      so.dir = round_dir + "/service";
      std::filesystem::create_directories(so.dir);
      std::printf("service_dir=%s\n", so.dir.c_str());
      const auto service = minicloud::bench::RunServiceBench(so);
      if (!service.ok) rc = std::max(rc, 1);
      service_rate = service.committed_placements_per_s;
      if (!o.keep) std::filesystem::remove_all(so.dir);
    };
    const bool library_first = !both || r % 2 == 0;
    if (both && library_first) run_library();
    run_service();
    if (both && !library_first) run_library();
    if (both && library_rate > 0) {
      ratios.push_back(service_rate / library_rate);
      std::printf(
          "round %d first=%s loadavg_1min=%.2f library_per_s=%.1f service_per_s=%.1f "
          "ratio=%.3f\n",
          r + 1, library_first ? "library" : "service", loadavg, library_rate, service_rate,
          ratios.back());
      std::printf("ratio service_vs_library committed_placements_per_s=%.3f (%.1f / %.1f)\n",
                  ratios.back(), service_rate, library_rate);
    }
  }
  if (!o.keep && o.dir.empty()) std::filesystem::remove_all(base);
  if (ratios.size() > 1) {
    const auto sum = minicloud::bench::SummarizeRatios(ratios);
    std::printf(
        "ratio_over_rounds rounds=%d geometric_mean=%.3f ci95_low=%.3f ci95_high=%.3f   "
        "(service / library committed placements/s; t-interval on log ratios)\n",
        sum.rounds, sum.geometric_mean, sum.low, sum.high);
  }
  return rc;
}
