#pragma once

// The service line's internals, shared by its files: service_bench.cc (setup, the clients, the
// measured run), service_checks.cc (delivery and the state read back from disk),
// large_count_bench.cc (--mode=large-count). Not an interface: only bench_placement uses it.

#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bench/placement/bench_util.h"
#include "bench/placement/service_bench.h"
#include "common/clock.h"
#include "common/ec2_names.h"
#include "common/ids.h"
#include "controller/agent_client/agent_client.h"
#include "controller/identity/cloud_identity_signer.h"
#include "controller/identity/identity_signer.h"
#include "controller/scheduler/checker.h"
#include "controller/scheduler/scheduler.h"
#include "controller/service/cloud_state.h"
#include "controller/service/compute_service.h"
#include "controller/service/fleet_service.h"
#include "controller/service/identity_document.h"
#include "controller/service/instance_state.h"
#include "controller/service/instance_types.h"
#include "controller/store/rocksdb_store.h"
#include "spdlog/spdlog.h"

namespace minicloud::bench::service_line {

using Steady = std::chrono::steady_clock;
namespace ctl = controller;

// No agents: console reads are never made by this bench.
class NoAgents final : public ctl::AgentClient {
 public:
  absl::StatusOr<std::string> GetConsoleOutput(const ctl::AgentAddress&, const std::string&,
                                               int64_t) override {
    return absl::UnavailableError("no agents in the bench");
  }
};

// The library line's six sizes, as catalog types (vCPU / MiB / instance store GB).
constexpr const char* kTypes[] = {"t3.small",  "t3.medium",  "t3.large",
                                  "m5.xlarge", "m5.2xlarge", "m5d.large"};
enum Class { kNone = 0, kSpread, kPartition, kCluster, kClasses };
constexpr const char* kClassNames[] = {"none", "spread", "partition", "cluster"};

struct Group {
  std::string name;
  Class cls = kNone;
  int partition_count = 0;
  int members = 0;
  std::string locked_az;
  bool closed = false;
};

struct Stats {
  std::vector<double> request_us, lock_wait_us, locked_us, durable_us;
  int64_t ok[kClasses] = {}, failed[kClasses] = {};
  int64_t instances = 0;
  void Add(const Stats& o) {
    request_us.insert(request_us.end(), o.request_us.begin(), o.request_us.end());
    lock_wait_us.insert(lock_wait_us.end(), o.lock_wait_us.begin(), o.lock_wait_us.end());
    locked_us.insert(locked_us.end(), o.locked_us.begin(), o.locked_us.end());
    durable_us.insert(durable_us.end(), o.durable_us.begin(), o.durable_us.end());
    for (int c = 0; c < kClasses; ++c) {
      ok[c] += o.ok[c];
      failed[c] += o.failed[c];
    }
    instances += o.instances;
  }
};

class ServiceBench {
 public:
  explicit ServiceBench(const ServiceBenchOptions& o) : o_(o), rng_(o.seed), ids_(o.seed) {}
  ServiceBenchResult Run();
  bool RunLargeCount();

 private:
  int Uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  bool Chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }
  ctl::ControllerConfig Config() const;
  bool Setup();
  // Draws one request (requires mu_). Returns the group index or -1.
  int Draw(v1::RunInstancesRequest& req, Class& cls);
  // Runs requests from the client threads until `instances` instances (when > 0) or `requests`
  // requests were issued. Returns the wall seconds.
  double RunClients(int64_t requests, int64_t instances, Stats* stats);
  bool Verify();
  void MeasureDelivery();

  const ServiceBenchOptions o_;
  std::mutex mu_;  // the bench's own state below (RNG, groups); never held during a call
  std::mt19937_64 rng_;
  std::vector<Group> groups_;
  std::vector<int> open_[kClasses];
  size_t next_group_[kClasses] = {};
  std::vector<std::vector<int>> pool_;  // per class: indices of groups not used yet
  std::vector<std::string> azs_;

  RealClock& clock_ = RealClock::Get();
  IdGenerator ids_;
  NoAgents agents_;
  scheduler::SpreadScheduler scheduler_;
  std::unique_ptr<ctl::RocksDbStore> store_;
  std::unique_ptr<ctl::CloudState> state_;
  std::unique_ptr<ctl::CloudIdentitySigner> signer_;
  std::unique_ptr<ctl::ComputeService> compute_;
  std::unique_ptr<ctl::FleetService> fleet_;
  std::string image_id_;
  std::vector<std::string> host_ids_;
};

}  // namespace minicloud::bench::service_line
