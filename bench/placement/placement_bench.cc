// bench_placement: placement decisions on a 10,000-host fleet, each DURABLY committed to the
// controller's store (RocksDbStore through the controller's GroupCommitter), against RocksDB's own
// db_bench (fillrandom, sync) measured on the same disk in the same run.
//
// Setup: --hosts hosts in 3 AZs, racks of 20 hosts, four host sizes (some with instance store),
// pre-filled with --prefill instances (same request mix; committed in large groups: setup, not
// measured). Then --launches RunInstances-like requests: 40% without a group, 20% spread, 20%
// partition (30% of them targeting a partition), 20% cluster; 1 instance (60%), 2 (20%), 3 or 4
// (10% each); spread requests at most 2.
//
// Pipeline (what controller/service/cloud_state.h does for RunInstances): --clients threads each
// issue one request at a time and wait for its answer before issuing the next. A request takes
// the decision mutex, draws its parameters from the seeded RNG, decides on the kept
// scheduler::Fleet, applies the reservation to the Fleet at once (so the next decision sees it),
// builds ONE controller WriteBatch (instance records + the touched hosts' usage records + the
// group record when it changes) and enqueues it on the GroupCommitter, all under that mutex;
// then it releases the mutex and waits until its ticket is durable (Store::Commit is synced).
// One waiter at a time commits everything queued as one synced write. Decisions are serialized
// and happen in the same order with the same inputs whatever the thread interleaving, so the
// placements are the same as a one-at-a-time run with the same seed.
//
// At the end the store is closed, reopened and read back; the state read from disk is judged
// by the independent checker (library_verify.h: controller/scheduler/checker.h), including that
// each host's recorded usage equals the sum of its instances. Violations make the exit status 1.
//
// db_bench (db_bench_peer.h) runs in 6 slots interleaved with 5 segments of the placement run (A B
// A B ... A); each slot runs db_bench twice, --threads=1 (its default) and --threads=<clients>
// (RocksDB's own group commit as the peer), each writing --db_bench_num/6 synced records of
// --value_size = our mean WriteBatch payload (keys + values), so drift and noisy neighbours hit
// both sides alike. Decision latency is reported as wall time and as thread CPU time (the latter is
// immune to preemption on a loaded machine). Commit latency is enqueue -> durable.
//
// Usage: bench_placement [--hosts=10000] [--prefill=20000] [--launches=50000] [--seed=1]
//                        [--clients=8] [--dir=DIR] [--db_bench=PATH] [--db_bench_num=10000]
//                        [--keep]
// Output: plain "key=value" lines.

#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bench/placement/bench_util.h"
#include "bench/placement/db_bench_peer.h"
#include "bench/placement/library_bench.h"
#include "bench/placement/library_verify.h"
#include "controller/scheduler/fleet.h"
#include "controller/scheduler/scheduler.h"
#include "controller/store/group_commit.h"
#include "controller/store/rocksdb_store.h"

namespace minicloud::scheduler {
namespace {

using Clock = std::chrono::steady_clock;
using bench::Percentile;
using bench::ProcessCpuSeconds;
using bench::ThreadCpuMicros;
using controller::GroupCommitter;
using controller::RocksDbStore;
using controller::Table;
using controller::WriteBatch;

struct InstanceType {
  int vcpus;
  int64_t memory_mib;
  int64_t store_gb;
};
constexpr InstanceType kTypes[] = {{2, 2048, 0},  {2, 4096, 0},  {2, 8192, 0},
                                   {4, 16384, 0}, {8, 32768, 0}, {2, 8192, 75}};

enum Class { kNone = 0, kSpread, kPartition, kCluster, kClasses };
constexpr const char* kClassNames[] = {"none", "spread", "partition", "cluster"};

struct Instance {
  std::string host;
  std::string group;
  int partition = 0;
  int vcpus = 0;
  int64_t memory = 0;
  int64_t disk = 0;
};

std::string InstanceRecord(const Instance& i) {
  return absl::StrCat("host=", i.host, ";group=", i.group, ";partition=", i.partition,
                      ";vcpus=", i.vcpus, ";memory_mib=", i.memory, ";store_gb=", i.disk,
                      ";state=pending");
}

struct GroupState {
  std::shared_ptr<PlacementGroup> group;
  Class cls = kNone;
  int launches = 0;
  bool closed = false;
};

// What the client threads record; merged after each run.
struct ClientStats {
  std::vector<double> decisions[kClasses];  // wall us
  std::vector<double> decisions_cpu;        // thread CPU us
  std::vector<double> commits;              // enqueue -> durable, us
  double class_seconds[kClasses] = {};      // request latency (issue -> answer), summed
  double decider_seconds = 0;               // the decision mutex held (decide + enqueue)
  int64_t class_ok[kClasses] = {}, class_fail[kClasses] = {};

  void Add(const ClientStats& o) {
    for (int c = 0; c < kClasses; ++c) {
      decisions[c].insert(decisions[c].end(), o.decisions[c].begin(), o.decisions[c].end());
      class_seconds[c] += o.class_seconds[c];
      class_ok[c] += o.class_ok[c];
      class_fail[c] += o.class_fail[c];
    }
    decider_seconds += o.decider_seconds;
    decisions_cpu.insert(decisions_cpu.end(), o.decisions_cpu.begin(), o.decisions_cpu.end());
    commits.insert(commits.end(), o.commits.begin(), o.commits.end());
  }
};

class Bench {
 public:
  Bench(const Options& o) : o_(o), rng_(o.seed) {}

  int Run();
  double committed_per_s() const { return committed_per_s_; }

 private:
  int Uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  bool Chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }

  void BuildHosts();
  // One RunInstances-like request: draws it, decides, applies the reservation to the Fleet and
  // fills `batch` with the records to commit. Returns false when placement failed. Requires mu_.
  bool Decide(Class* cls_out, double* decision_us, double* decision_cpu_us, WriteBatch* batch);
  // Runs `n` requests from o_.clients client threads (each waits for its own commit before its
  // next request); returns the wall seconds.
  double RunClients(int n, ClientStats* stats);
  GroupState* PickGroup(Class cls);

  const Options o_;
  std::mutex mu_;  // the decision mutex: everything below up to committer_ (which has its own)
  std::mt19937_64 rng_;
  std::vector<HostSnapshot> hosts_;
  std::map<std::string, int> host_index_;
  std::unique_ptr<Fleet> fleet_;
  std::vector<GroupState> groups_;
  std::vector<int> open_[kClasses];
  int next_id_ = 0;
  int64_t instances_ = 0;
  int64_t batch_bytes_ = 0;  // keys + values of the batches decided since the last reset
  int64_t batches_ = 0;
  std::unique_ptr<RocksDbStore> store_;
  std::unique_ptr<GroupCommitter> committer_;
  std::string db_path_;
  double committed_per_s_ = 0;
};

void Bench::BuildHosts() {
  struct Size {
    int vcpus;
    int64_t memory;
    int64_t store;
  };
  constexpr Size kSizes[] = {
      {16, 65536, 0}, {32, 131072, 0}, {64, 262144, 1900}, {96, 393216, 3800}};
  const int per_az = (o_.hosts + 2) / 3;
  for (int i = 0; i < o_.hosts; ++i) {
    const int az = i / per_az;
    const int in_az = i % per_az;
    const Size& s = kSizes[Uniform(0, 3)];
    HostSnapshot h;
    h.host_id = absl::StrFormat("h%05d", i);
    h.region = "home-1";
    h.availability_zone = absl::StrCat("home-1", std::string(1, static_cast<char>('a' + az)));
    h.rack = absl::StrFormat("r%03d", in_az / 20);
    h.allocatable_vcpus = s.vcpus * 2;  // 2x CPU overcommit folded in
    h.allocatable_memory_mib = s.memory;
    h.instance_store_gb = s.store;
    host_index_[h.host_id] = i;
    hosts_.push_back(h);
  }
  fleet_ = std::make_unique<Fleet>(hosts_);
}

GroupState* Bench::PickGroup(Class cls) {
  auto& open = open_[cls];
  if (open.empty() || Chance(0.15)) {
    GroupState g;
    g.group = std::make_shared<PlacementGroup>();
    g.group->name = absl::StrCat(kClassNames[cls], "-", groups_.size());
    g.cls = cls;
    switch (cls) {
      case kSpread:
        g.group->strategy = PlacementStrategy::kSpread;
        g.group->spread_level = Chance(0.2) ? SpreadLevel::kHost : SpreadLevel::kRack;
        break;
      case kPartition:
        g.group->strategy = PlacementStrategy::kPartition;
        g.group->partition_count = Uniform(2, 7);
        break;
      default:
        g.group->strategy = PlacementStrategy::kCluster;
    }
    groups_.push_back(std::move(g));
    open.push_back(static_cast<int>(groups_.size()) - 1);
    return &groups_.back();
  }
  return &groups_[open[Uniform(0, static_cast<int>(open.size()) - 1)]];
}

bool Bench::Decide(Class* cls_out, double* decision_us, double* decision_cpu_us,
                   WriteBatch* batch) {
  const int roll = Uniform(0, 99);
  const Class cls = roll < 40 ? kNone : roll < 60 ? kSpread : roll < 80 ? kPartition : kCluster;
  *cls_out = cls;
  const InstanceType& t = kTypes[Uniform(0, std::size(kTypes) - 1)];
  PlacementRequest r;
  r.request_id = absl::StrCat("r-", next_id_++);
  r.vcpus = t.vcpus;
  r.memory_mib = t.memory_mib;
  r.instance_store_gb = t.store_gb;
  const int count_roll = Uniform(0, 9);  // 1 (60%), 2 (20%), 3 (10%), 4 (10%)
  r.max_count = count_roll < 6 ? 1 : count_roll < 8 ? 2 : count_roll < 9 ? 3 : 4;
  r.min_count = Chance(0.5) ? 1 : r.max_count;
  if (Chance(0.5)) r.availability_zone = hosts_[Uniform(0, o_.hosts - 1)].availability_zone;
  GroupState* g = nullptr;
  if (cls != kNone) {
    const size_t before = groups_.size();
    g = PickGroup(cls);
    const bool created = groups_.size() != before;
    if (cls == kSpread) r.max_count = r.min_count = std::min(r.max_count, 2);
    if (cls == kPartition && Chance(0.3))
      r.partition_number = Uniform(1, g->group->partition_count);
    if (cls == kCluster && !g->group->locked_az.empty()) r.availability_zone = g->group->locked_az;
    r.group = g->group;
    if (created) g->launches = -1;  // marks "write the group record in this batch"
  }

  const double c0 = ThreadCpuMicros();
  const auto t0 = Clock::now();
  auto res = fleet_->Place(r, {.rejections_on_success = false, .max_rejections = 20});
  const auto t1 = Clock::now();
  *decision_cpu_us = ThreadCpuMicros() - c0;
  *decision_us = std::chrono::duration<double, std::micro>(t1 - t0).count();
  const bool write_group = g != nullptr && g->launches == -1;
  if (g != nullptr) {
    g->launches = std::max(g->launches, 0) + 1;
  }
  if (!res.ok()) {
    if (res.status().code() != absl::StatusCode::kResourceExhausted) {
      std::fprintf(stderr, "unexpected error: %s\n", std::string(res.status().message()).c_str());
      std::exit(2);
    }
    if (g != nullptr && !g->closed) {  // a group that no longer fits takes no more launches
      g->closed = true;
      auto& open = open_[cls];
      open.erase(std::remove(open.begin(), open.end(), static_cast<int>(g - groups_.data())),
                 open.end());
    }
    return false;
  }

  // The reservation is applied at once (the next decision sees it), as CloudState stages it.
  std::set<std::string> touched;
  for (const auto& p : res->placements) {
    Instance inst{p.host_id,    g ? g->group->name : "", p.partition_number, r.vcpus,
                  r.memory_mib, r.instance_store_gb};
    const std::string id = absl::StrFormat("i-%017x", instances_++);
    batch->Put(Table::kInstances, id, InstanceRecord(inst));
    HostSnapshot& h = hosts_[host_index_.at(p.host_id)];
    h.used_vcpus += r.vcpus;
    h.used_memory_mib += r.memory_mib;
    h.used_instance_store_gb += r.instance_store_gb;
    touched.insert(p.host_id);
    if (g != nullptr) {
      GroupMember m;
      m.instance_id = id;
      m.host_id = p.host_id;
      m.availability_zone = p.availability_zone;
      m.rack = p.rack;
      m.partition_number = p.partition_number;
      g->group->members.push_back(std::move(m));
    }
    (void)fleet_->Adjust(p.host_id, r.vcpus, r.memory_mib, r.instance_store_gb);
  }
  for (const auto& id : touched) {
    const HostSnapshot& h = hosts_[host_index_.at(id)];
    batch->Put(Table::kHosts, id,
               absl::StrCat("used_vcpus=", h.used_vcpus, ";used_memory_mib=", h.used_memory_mib,
                            ";used_store_gb=", h.used_instance_store_gb));
  }
  bool lock_changed = false;
  if (g != nullptr && cls == kCluster && g->group->locked_az.empty()) {
    g->group->locked_az = res->cluster_locked_az;
    lock_changed = true;
  }
  if (write_group || lock_changed) {
    const PlacementGroup& pg = *g->group;
    batch->Put(Table::kPlacementGroups, pg.name,
               absl::StrCat("strategy=", PlacementStrategyName(pg.strategy),
                            ";level=", SpreadLevelName(pg.spread_level),
                            ";partitions=", pg.partition_count, ";locked_az=", pg.locked_az));
  }
  for (const auto& op : batch->ops()) {
    batch_bytes_ += static_cast<int64_t>(op.key.size() + (op.value ? op.value->size() : 0));
  }
  ++batches_;
  // Groups stop taking launches at a size typical of their kind.
  const size_t cap = cls == kSpread ? 21 : cls == kPartition ? 120 : 48;
  if (g != nullptr && !g->closed && g->group->members.size() >= cap) {
    g->closed = true;
    auto& open = open_[cls];
    open.erase(std::remove(open.begin(), open.end(), static_cast<int>(g - groups_.data())),
               open.end());
  }
  return true;
}

double Bench::RunClients(int n, ClientStats* stats) {
  int issued = 0;  // guarded by mu_
  std::vector<ClientStats> per(o_.clients);
  std::vector<std::thread> threads;
  const auto w0 = Clock::now();
  for (int c = 0; c < o_.clients; ++c) {
    threads.emplace_back([&, c] {
      ClientStats& st = per[c];
      while (true) {
        const auto l0 = Clock::now();  // the request is issued: queueing for the decider counts
        Class cls = kNone;
        double d = 0, cpu = 0;
        bool ok = false;
        uint64_t ticket = 0;
        Clock::time_point e0;
        {
          std::lock_guard<std::mutex> lock(mu_);
          if (issued >= n) return;
          ++issued;
          const auto h0 = Clock::now();
          WriteBatch batch;
          ok = Decide(&cls, &d, &cpu, &batch);
          if (ok) {
            e0 = Clock::now();
            ticket = committer_->Enqueue(std::move(batch));  // in decision order
          }
          st.decider_seconds += std::chrono::duration<double>(Clock::now() - h0).count();
        }
        if (ok) {
          const absl::Status s = committer_->Wait(ticket);
          if (!s.ok()) {
            std::fprintf(stderr, "commit failed: %s\n", s.ToString().c_str());
            std::exit(2);
          }
          st.commits.push_back(
              std::chrono::duration<double, std::micro>(Clock::now() - e0).count());
          ++st.class_ok[cls];
        } else {
          ++st.class_fail[cls];
        }
        st.class_seconds[cls] += std::chrono::duration<double>(Clock::now() - l0).count();
        st.decisions[cls].push_back(d);
        st.decisions_cpu.push_back(cpu);
      }
    });
  }
  for (auto& t : threads) t.join();
  const double wall = std::chrono::duration<double>(Clock::now() - w0).count();
  if (stats != nullptr) {
    for (const auto& st : per) stats->Add(st);
  }
  return wall;
}

int Bench::Run() {
  bool made_dir = false;
  std::string dir = o_.dir;
  if (dir.empty()) {
    char tmpl[] = "/var/tmp/minicloud-bench-placement.XXXXXX";
    if (mkdtemp(tmpl) == nullptr) return 2;
    dir = tmpl;
    made_dir = true;
  }
  const_cast<Options&>(o_).dir = dir;
  db_path_ = dir + "/store";
  std::printf("dir=%s\nhosts=%d\nprefill=%d\nlaunches=%d\nseed=%u\nclients=%d\n", dir.c_str(),
              o_.hosts, o_.prefill, o_.launches, o_.seed, o_.clients);

  BuildHosts();
  std::filesystem::create_directories(db_path_);
  auto opened = RocksDbStore::Open(db_path_);
  if (!opened.ok()) {
    std::fprintf(stderr, "open: %s\n", opened.status().ToString().c_str());
    return 2;
  }
  store_ = std::move(*opened);
  committer_ = std::make_unique<GroupCommitter>(*store_);
  {
    WriteBatch topo;
    for (const auto& h : hosts_) {
      topo.Put(Table::kMeta, "topology/" + h.host_id,
               absl::StrCat("region=", h.region, ";az=", h.availability_zone, ";rack=", h.rack,
                            ";vcpus=", h.allocatable_vcpus, ";memory_mib=",
                            h.allocatable_memory_mib, ";store_gb=", h.instance_store_gb));
    }
    if (!committer_->Commit(std::move(topo)).ok()) return 2;
  }

  // Pre-fill (not measured): the same decisions, committed in groups of up to 1,000 requests.
  const auto p0 = Clock::now();
  int64_t prefill_requests = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    while (instances_ < o_.prefill) {
      Class cls;
      double d, cpu;
      WriteBatch batch;
      if (Decide(&cls, &d, &cpu, &batch)) committer_->Enqueue(std::move(batch));
      if (++prefill_requests % 1000 == 0 && !committer_->Sync().ok()) return 2;
      if (prefill_requests > 10LL * o_.prefill + 100) break;
    }
    if (!committer_->Sync().ok()) return 2;
  }
  std::printf("prefill_instances=%lld\nprefill_seconds=%.2f\n", static_cast<long long>(instances_),
              std::chrono::duration<double>(Clock::now() - p0).count());

  // Warm-up: 200 requests through the pipeline, not counted; their mean WriteBatch payload is
  // the value size db_bench writes (so both sides sync records of the same size).
  batch_bytes_ = 0;
  batches_ = 0;
  RunClients(200, nullptr);
  const int value_size = batches_ > 0 ? static_cast<int>(batch_bytes_ / batches_) : 400;
  const auto gc_before = committer_->stats();
  const double cpu_before = ProcessCpuSeconds();

  // ABAB: db_bench slots interleaved with placement segments (a slot before each segment and
  // after the last), so disk drift and neighbours hit both sides alike. Each slot runs db_bench
  // single-threaded (its default) and with as many threads as we have clients.
  constexpr int kSegments = 5;
  std::vector<double> db_bench_ops, db_bench_mt_ops;
  const bool run_db_bench = o_.db_bench_num > 0;
  const int chunk = std::max(1, o_.db_bench_num / (kSegments + 1));
  ClientStats st;
  std::vector<double> segment_rates;
  const int64_t before_instances = instances_;
  double wall = 0;
  for (int seg = 0; seg <= kSegments; ++seg) {
    if (run_db_bench) {
      double ops = 0, mt_ops = 0;
      if (!RunDbBench(o_.db_bench, o_.dir, chunk, 1, value_size, &ops)) return 2;
      if (!RunDbBench(o_.db_bench, o_.dir, chunk, o_.clients, value_size, &mt_ops)) return 2;
      db_bench_ops.push_back(ops);
      db_bench_mt_ops.push_back(mt_ops);
    }
    if (seg == kSegments) break;
    const int n = o_.launches / kSegments + (seg < o_.launches % kSegments ? 1 : 0);
    int64_t ok_before = 0;
    for (int c = 0; c < kClasses; ++c) ok_before += st.class_ok[c];
    const double seg_s = RunClients(n, &st);
    int64_t ok_after = 0;
    for (int c = 0; c < kClasses; ++c) ok_after += st.class_ok[c];
    wall += seg_s;
    segment_rates.push_back((ok_after - ok_before) / seg_s);
  }
  const auto gc_after = committer_->stats();
  const double cpu_seconds = ProcessCpuSeconds() - cpu_before;

  int64_t ok_total = 0, fail_total = 0;
  std::vector<double> all, constrained;
  double constrained_s = 0;
  int64_t constrained_ok = 0;
  for (int c = 0; c < kClasses; ++c) {
    ok_total += st.class_ok[c];
    fail_total += st.class_fail[c];
    all.insert(all.end(), st.decisions[c].begin(), st.decisions[c].end());
    if (c != kNone) {
      constrained.insert(constrained.end(), st.decisions[c].begin(), st.decisions[c].end());
      constrained_s += st.class_seconds[c];
      constrained_ok += st.class_ok[c];
    }
  }
  // Per-class rates: a class's successful requests over its share of the run, i.e. the
  // request-seconds it took divided by the number of clients (the clients overlap).
  auto class_rate = [&](int64_t ok, double request_seconds) {
    return ok / (request_seconds / o_.clients);
  };
  const double rate = ok_total / wall;
  committed_per_s_ = rate;
  const double none_rate = class_rate(st.class_ok[kNone], st.class_seconds[kNone]);
  const double constrained_rate = class_rate(constrained_ok, constrained_s);
  const uint64_t gc_batches = gc_after.batches - gc_before.batches;
  const uint64_t gc_commits = gc_after.store_commits - gc_before.store_commits;
  std::printf("value_size_bytes=%d\n", value_size);
  std::printf("placements_committed=%lld\nplacements_failed=%lld\ninstances_committed=%lld\n",
              static_cast<long long>(ok_total), static_cast<long long>(fail_total),
              static_cast<long long>(instances_ - before_instances));
  std::printf(
      "group_commit batches=%llu store_commits=%llu mean_group=%.2f bytes_per_commit=%.0f "
      "store_commit_mean_us=%.1f   (one synced RocksDB write)\n",
      static_cast<unsigned long long>(gc_batches), static_cast<unsigned long long>(gc_commits),
      gc_commits > 0 ? static_cast<double>(gc_batches) / gc_commits : 0.0,
      gc_commits > 0 ? static_cast<double>(gc_after.bytes - gc_before.bytes) / gc_commits : 0.0,
      gc_commits > 0 ? (gc_after.commit_seconds - gc_before.commit_seconds) * 1e6 / gc_commits
                     : 0.0);
  // Where the time goes: the share of wall time the decision mutex was held (1.0 = the serial
  // decider is the bottleneck), and this process's CPU time per committed placement (all
  // threads: decisions, records, RocksDB writes; db_bench runs in its own process).
  std::printf("result decider_busy=%.3f cpu_us_per_placement=%.1f\n", st.decider_seconds / wall,
              ok_total > 0 ? cpu_seconds * 1e6 / ok_total : 0.0);
  for (int c = 0; c < kClasses; ++c) {
    std::printf(
        "class_%s ok=%lld failed=%lld decision_p50_us=%.1f decision_p99_us=%.1f "
        "decision_max_us=%.1f committed_per_s=%.1f\n",
        kClassNames[c], static_cast<long long>(st.class_ok[c]),
        static_cast<long long>(st.class_fail[c]), Percentile(st.decisions[c], 0.5),
        Percentile(st.decisions[c], 0.99), Percentile(st.decisions[c], 1.0),
        class_rate(st.class_ok[c], st.class_seconds[c]));
  }
  std::printf("result committed_placements_per_s=%.1f wall_seconds=%.2f\n", rate, wall);
  std::printf("result unconstrained_per_s=%.1f constrained_per_s=%.1f\n", none_rate,
              constrained_rate);
  std::printf("result decision_p50_us=%.1f decision_p99_us=%.1f decision_max_us=%.1f\n",
              Percentile(all, 0.5), Percentile(all, 0.99), Percentile(all, 1.0));
  std::printf("result decision_cpu_p50_us=%.1f decision_cpu_p99_us=%.1f decision_cpu_max_us=%.1f\n",
              Percentile(st.decisions_cpu, 0.5), Percentile(st.decisions_cpu, 0.99),
              Percentile(st.decisions_cpu, 1.0));
  std::printf("result constrained_decision_p50_us=%.1f constrained_decision_p99_us=%.1f\n",
              Percentile(constrained, 0.5), Percentile(constrained, 0.99));
  std::printf("result commit_p50_us=%.1f commit_p99_us=%.1f   (enqueue -> durable)\n",
              Percentile(st.commits, 0.5), Percentile(st.commits, 0.99));
  std::printf("ratio unconstrained_vs_constrained=%.3f\n", none_rate / constrained_rate);
  std::printf("ratio constrained_vs_unconstrained=%.3f\n", constrained_rate / none_rate);
  if (run_db_bench) {
    auto mean_and_list = [](const std::vector<double>& v, std::string* each) {
      double sum = 0;
      for (double ops : v) {
        sum += ops;
        absl::StrAppend(each, each->empty() ? "" : ",", absl::StrFormat("%.0f", ops));
      }
      return sum / v.size();
    };
    std::string each, each_mt;
    const double db_ops = mean_and_list(db_bench_ops, &each);
    const double db_mt_ops = mean_and_list(db_bench_mt_ops, &each_mt);
    std::printf("result db_bench_fillrandom_sync_ops_per_s=%.1f (threads=1, chunks of %d: %s)\n",
                db_ops, chunk, each.c_str());
    std::printf(
        "result db_bench_fillrandom_sync_threads_ops_per_s=%.1f (threads=%d, chunks of %d: %s)\n",
        db_mt_ops, o_.clients, chunk, each_mt.c_str());
    std::printf("ratio committed_placements_vs_db_bench=%.3f\n", rate / db_ops);
    std::printf("ratio committed_placements_vs_db_bench_threads=%.3f\n", rate / db_mt_ops);
    // Each segment against the mean of the db_bench chunks right before and after it.
    for (size_t k = 0; k < segment_rates.size(); ++k) {
      const double around = (db_bench_ops[k] + db_bench_ops[k + 1]) / 2;
      const double around_mt = (db_bench_mt_ops[k] + db_bench_mt_ops[k + 1]) / 2;
      std::printf(
          "segment %zu committed_per_s=%.1f db_bench_around=%.1f ratio=%.3f "
          "db_bench_threads_around=%.1f ratio_threads=%.3f\n",
          k + 1, segment_rates[k], around, segment_rates[k] / around, around_mt,
          segment_rates[k] / around_mt);
    }
  }
  committer_.reset();
  store_.reset();
  const bool verified = VerifyLibraryStore(db_path_, instances_);
  std::printf("verified=%s\n", verified ? "yes" : "NO");
  if (!o_.keep && made_dir) std::filesystem::remove_all(dir);
  return verified ? 0 : 1;
}

}  // namespace

int RunLibraryLine(const Options& o, double* committed_per_s) {
  Bench library(o);
  const int rc = library.Run();
  *committed_per_s = library.committed_per_s();
  return rc;
}

}  // namespace minicloud::scheduler
