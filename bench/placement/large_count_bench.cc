// --mode=large-count (service_bench.h, RunLargeCountBench): RunInstances calls of many instances
// while DescribeHosts loops on another thread; how long each call holds the state lock and what
// DescribeHosts costs meanwhile, against DescribeHosts alone.

#include "bench/placement/service_bench_internal.h"

namespace minicloud::bench {
namespace service_line {

bool ServiceBench::RunLargeCount() {
  if (!Setup()) return false;
  // DescribeHosts in a loop on its own thread; each call's start and end (steady clock).
  struct Call {
    Steady::time_point start, end;
  };
  std::atomic<bool> stop{false};
  std::mutex calls_mu;
  std::vector<Call> calls;
  std::atomic<bool> describe_failed{false};
  auto describe_loop = [&] {
    while (!stop.load()) {
      const auto t0 = Steady::now();
      auto d = compute_->DescribeHosts({});
      const auto t1 = Steady::now();
      if (!d.ok() || d->hosts_size() != o_.hosts) describe_failed = true;
      std::lock_guard<std::mutex> lock(calls_mu);
      calls.push_back({t0, t1});
    }
  };
  auto micros = [](const Call& c) {
    return std::chrono::duration<double, std::micro>(c.end - c.start).count();
  };
  // Alone first: 200 calls.
  {
    std::thread reader(describe_loop);
    while (true) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      std::lock_guard<std::mutex> lock(calls_mu);
      if (calls.size() >= 200) break;
    }
    stop = true;
    reader.join();
  }
  std::vector<double> alone;
  for (const auto& c : calls) alone.push_back(micros(c));
  std::printf(
      "large_count_describe_hosts_alone hosts=%d calls=%zu p50_us=%.1f p99_us=%.1f max_us=%.1f\n",
      o_.hosts, alone.size(), Percentile(alone, 0.5), Percentile(alone, 0.99),
      Percentile(alone, 1.0));

  bool ok = true;
  for (int round = 1; round <= o_.large_rounds && ok; ++round) {
    {
      std::lock_guard<std::mutex> lock(calls_mu);
      calls.clear();
    }
    stop = false;
    std::thread reader(describe_loop);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // the reader is looping
    v1::RunInstancesRequest req;
    req.set_image_id(image_id_);
    req.set_instance_type("t3.micro");
    req.set_min_count(1);
    req.set_max_count(o_.large_count);
    const auto t0 = Steady::now();
    auto res = compute_->RunInstances(req);
    const auto t1 = Steady::now();
    const ctl::RunInstancesTimings timings = ctl::LastRunInstancesTimings();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    stop = true;
    reader.join();
    if (!res.ok()) {
      std::fprintf(stderr, "large RunInstances: %s\n", res.status().ToString().c_str());
      ok = false;
      break;
    }
    // DescribeHosts calls that overlapped the RunInstances call.
    std::vector<double> during;
    for (const auto& c : calls) {
      if (c.end > t0 && c.start < t1) during.push_back(micros(c));
    }
    std::printf(
        "large_count round=%d requested=%d launched=%d call_ms=%.1f lock_held_ms=%.1f "
        "durable_wait_ms=%.1f\n",
        round, o_.large_count, res->instances_size(),
        std::chrono::duration<double, std::milli>(t1 - t0).count(), timings.locked_us / 1e3,
        timings.durable_wait_us / 1e3);
    std::printf(
        "large_count_describe_hosts_during round=%d calls=%zu p50_us=%.1f p99_us=%.1f "
        "max_us=%.1f\n",
        round, during.size(), Percentile(during, 0.5), Percentile(during, 0.99),
        Percentile(during, 1.0));
  }
  if (describe_failed) {
    std::fprintf(stderr, "a DescribeHosts call failed or listed the wrong number of hosts\n");
    ok = false;
  }
  return ok;
}

}  // namespace service_line

bool RunLargeCountBench(const ServiceBenchOptions& options) {
  return service_line::ServiceBench(options).RunLargeCount();
}

}  // namespace minicloud::bench
