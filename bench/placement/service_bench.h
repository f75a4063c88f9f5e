#pragma once

#include <string>

namespace minicloud::bench {

struct ServiceBenchOptions {
  int hosts = 10000;
  int prefill = 20000;   // instances launched through RunInstances before the measured run
  int launches = 50000;  // measured RunInstances calls
  int clients = 8;
  unsigned seed = 1;
  std::string dir;  // work directory on a real disk (store, identity key)
  // --mode=large-count: instances per RunInstances call, and how many such calls in a row.
  int large_count = 3000;
  int large_rounds = 3;
};

struct ServiceBenchResult {
  bool ok = false;  // setup worked and the checker found nothing
  double committed_placements_per_s = 0;
  long long placements_committed = 0;
  long long placements_failed = 0;
  long long instances_committed = 0;
};

// The controller's own RunInstances path, in process: RocksDbStore + GroupCommitter + CloudState
// on `dir`, hosts registered through FleetService::RegisterHost, the real CloudIdentitySigner
// and address allocation, requests from `clients` threads calling ComputeService::RunInstances.
// Prints "service_*" key=value lines; see placement_bench.cc for what each spans.
ServiceBenchResult RunServiceBench(const ServiceBenchOptions& options);

// One client launching `large_count` instances per RunInstances call, `large_rounds` times,
// while another thread calls DescribeHosts in a loop: how long the large call holds the state
// lock and what a DescribeHosts call costs meanwhile, against DescribeHosts alone before.
// Prints "large_count_*" lines. Returns false when setup or a call failed.
bool RunLargeCountBench(const ServiceBenchOptions& options);

}  // namespace minicloud::bench
