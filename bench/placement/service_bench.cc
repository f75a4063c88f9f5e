// The service line of bench_placement: the controller's own ComputeService::RunInstances.
//
// Setup (not measured): a RocksDbStore in <dir>/service-store behind the controller's
// CloudState (and so its GroupCommitter); the real CloudIdentitySigner (key in <dir>/identity);
// --hosts hosts registered one by one through FleetService::RegisterHost (each a durable
// commit, as an agent's registration is; no agents run: the hosts are records), with the same
// shapes, AZs and racks as the library line (2x vCPU overcommit via the controller's
// cpu_allocation_ratio, no memory reserved for the host); one image record; the placement
// groups as records (CreatePlacementGroup caps a region at 500 groups; the mix uses thousands,
// as the library line does). The VPC is 10.0.0.0/8 with a /16 subnet per AZ (ControllerConfig):
// the default VPC's /20 per AZ holds 4,091 instances, far fewer than the 100,000 this run
// places. Then --prefill instances are launched through RunInstances (timed, reported apart).
//
// Measured: --launches RunInstances calls from --clients threads, each waiting for its answer
// (durable) before issuing the next. A call's parameters are drawn from the seeded RNG under a
// bench mutex (same mix as the library line: 40% no group, 20% spread, 20% partition, 20%
// cluster; 1-4 instances; six instance types from the catalog matching the library's sizes);
// the call itself runs without it. Everything RunInstances does is in the measured time:
// validation, the decision, the instance records with their addresses (and the fields their
// identity documents are built from), the pipelined durable commit. Identity SIGNATURES are made
// when an instance is delivered to its host (FleetService::WatchDesired), not in RunInstances; with
// no agents running, the bench measures that cost apart after the run (delivery of a sample of
// hosts' desired states, signatures verified against the cloud certificate).
//
// At the end the store is reopened and read back by a fresh CloudState; the state read from
// disk is judged by the independent checker (controller/scheduler/checker.h), and private
// addresses are checked unique per subnet.

#include "bench/placement/service_bench.h"

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

namespace minicloud::bench {
namespace {

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

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p * (v.size() - 1) + 0.5));
  return v[i];
}

double ProcessCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

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

ctl::ControllerConfig ServiceBench::Config() const {
  ctl::ControllerConfig c;
  c.cpu_allocation_ratio = 2.0;  // the library line's 2x overcommit
  c.memory_allocation_ratio = 1.0;
  c.reserved_host_memory_mib = 0;
  c.host_timeout = absl::Hours(24);  // no agents report: the hosts stay up for the run
  c.vpc_cidr = "10.0.0.0/8";
  c.subnet_prefix_length = 16;
  // --mode=large-count asks for large_count instances in one call: allow that many.
  c.max_instances_per_call = std::max(c.max_instances_per_call, o_.large_count);
  return c;
}

bool ServiceBench::Setup() {
  spdlog::set_level(spdlog::level::warn);  // one info line per registered host otherwise
  const std::string db = o_.dir + "/service-store";
  std::filesystem::create_directories(db);
  auto store = ctl::RocksDbStore::Open(db);
  if (!store.ok()) {
    std::fprintf(stderr, "service open: %s\n", store.status().ToString().c_str());
    return false;
  }
  store_ = std::move(*store);
  state_ = std::make_unique<ctl::CloudState>(*store_, Config());
  if (!state_->Load(clock_.Now()).ok()) return false;
  auto signer = ctl::CloudIdentitySigner::Open(o_.dir + "/identity", clock_);
  if (!signer.ok()) {
    std::fprintf(stderr, "identity key: %s\n", signer.status().ToString().c_str());
    return false;
  }
  signer_ = std::move(*signer);
  compute_ = std::make_unique<ctl::ComputeService>(*state_, clock_, ids_, scheduler_, agents_);
  fleet_ = std::make_unique<ctl::FleetService>(*state_, clock_, ids_, *signer_);

  // Hosts: the library line's layout (3 AZs, racks of 20, four sizes drawn from the RNG).
  struct Size {
    int vcpus;
    int64_t memory;
    int64_t store;
  };
  constexpr Size kSizes[] = {
      {16, 65536, 0}, {32, 131072, 0}, {64, 262144, 1900}, {96, 393216, 3800}};
  const int per_az = (o_.hosts + 2) / 3;
  const auto r0 = Steady::now();
  for (int i = 0; i < o_.hosts; ++i) {
    const int az = i / per_az;
    const Size& s = kSizes[Uniform(0, 3)];
    v1::RegisterHostRequest req;
    req.set_hostname(absl::StrFormat("host%05d", i));
    req.set_endpoint(absl::StrFormat("10.255.%d.%d:7000", i / 250, i % 250 + 1));
    req.mutable_topology()->set_region("home-1");
    req.mutable_topology()->set_availability_zone(
        absl::StrCat("home-1", std::string(1, static_cast<char>('a' + az))));
    req.mutable_topology()->set_rack(absl::StrFormat("r%03d", (i % per_az) / 20));
    req.mutable_capacity()->set_vcpus(s.vcpus);
    req.mutable_capacity()->set_memory_mib(s.memory);
    req.mutable_capacity()->set_instance_store_gb(s.store);
    req.set_accelerator(v1::ACCELERATOR_TCG);
    auto resp = fleet_->RegisterHost(req);
    if (!resp.ok()) {
      std::fprintf(stderr, "register host: %s\n", resp.status().ToString().c_str());
      return false;
    }
    host_ids_.push_back(resp->host_id());
    if (i % per_az == 0) azs_.push_back(req.topology().availability_zone());
  }
  std::printf("service_register_hosts=%d service_register_seconds=%.2f\n", o_.hosts,
              std::chrono::duration<double>(Steady::now() - r0).count());

  // One image and the placement groups, as records.
  ctl::CloudState::Changes changes;
  v1::ImageRecord image;
  image_id_ = ids_.Next("ami");
  image.set_image_id(image_id_);
  image.set_name("bench");
  image.set_architecture("x86_64");
  image.set_root_device_name("/dev/xvda");
  image.set_owner_id("000000000000");
  changes.images[image_id_] = image;
  // Enough groups for the mix: at most one new group per constrained request.
  const int64_t requests = o_.prefill + o_.launches;
  pool_.resize(kClasses);
  for (int cls = kSpread; cls < kClasses; ++cls) {
    const int64_t n = requests / 5 + 16;
    for (int64_t k = 0; k < n; ++k) {
      Group g;
      g.name = absl::StrCat(kClassNames[cls], "-", k);
      g.cls = static_cast<Class>(cls);
      v1::PlacementGroupRecord r;
      r.set_group_id(ids_.Next("pg"));
      r.set_group_name(g.name);
      r.set_region("home-1");
      r.set_state("available");
      if (cls == kSpread) {
        r.set_strategy(v1::PLACEMENT_STRATEGY_SPREAD);
        r.set_spread_level(Chance(0.2) ? v1::SPREAD_LEVEL_HOST : v1::SPREAD_LEVEL_RACK);
      } else if (cls == kPartition) {
        r.set_strategy(v1::PLACEMENT_STRATEGY_PARTITION);
        g.partition_count = Uniform(2, 7);
        r.set_partition_count(g.partition_count);
      } else {
        r.set_strategy(v1::PLACEMENT_STRATEGY_CLUSTER);
      }
      changes.placement_groups[g.name] = r;
      pool_[cls].push_back(static_cast<int>(groups_.size()));
      groups_.push_back(std::move(g));
    }
  }
  std::unique_lock<std::mutex> lock(state_->mu());
  return state_->CommitLocked(changes).ok();
}

int ServiceBench::Draw(v1::RunInstancesRequest& req, Class& cls) {
  const int roll = Uniform(0, 99);
  cls = roll < 40 ? kNone : roll < 60 ? kSpread : roll < 80 ? kPartition : kCluster;
  req.set_image_id(image_id_);
  req.set_instance_type(kTypes[Uniform(0, std::size(kTypes) - 1)]);
  const int count_roll = Uniform(0, 9);  // 1 (60%), 2 (20%), 3 (10%), 4 (10%)
  int max_count = count_roll < 6 ? 1 : count_roll < 8 ? 2 : count_roll < 9 ? 3 : 4;
  int min_count = Chance(0.5) ? 1 : max_count;
  const bool pick_az = Chance(0.5);
  const std::string& az = azs_[Uniform(0, static_cast<int>(azs_.size()) - 1)];
  int gi = -1;
  if (cls != kNone) {
    auto& open = open_[cls];
    if ((open.empty() || Chance(0.15)) && next_group_[cls] < pool_[cls].size()) {
      gi = pool_[cls][next_group_[cls]++];
      open.push_back(gi);
    } else if (!open.empty()) {
      gi = open[Uniform(0, static_cast<int>(open.size()) - 1)];
    } else {
      cls = kNone;  // pool exhausted (not expected at the pool's size)
    }
  }
  // A cluster group takes the AZ it is locked to, or none while the bench does not know it yet
  // (a concurrent first launch may be locking it right now).
  if (pick_az && cls != kCluster) req.mutable_placement()->set_availability_zone(az);
  if (gi >= 0) {
    Group& g = groups_[gi];
    req.mutable_placement()->set_group_name(g.name);
    if (cls == kSpread) max_count = min_count = std::min(max_count, 2);
    if (cls == kPartition && Chance(0.3)) {
      req.mutable_placement()->set_partition_number(Uniform(1, g.partition_count));
    }
    if (cls == kCluster && !g.locked_az.empty()) {
      req.mutable_placement()->set_availability_zone(g.locked_az);
    }
  }
  req.set_min_count(min_count);
  req.set_max_count(max_count);
  return gi;
}

double ServiceBench::RunClients(int64_t requests, int64_t instances, Stats* stats) {
  int64_t issued = 0, placed = 0;  // guarded by mu_
  std::vector<Stats> per(o_.clients);
  std::vector<std::thread> threads;
  const auto w0 = Steady::now();
  for (int c = 0; c < o_.clients; ++c) {
    threads.emplace_back([&, c] {
      Stats& st = per[c];
      while (true) {
        v1::RunInstancesRequest req;
        Class cls = kNone;
        int gi = -1;
        {
          std::lock_guard<std::mutex> lock(mu_);
          if (instances > 0 ? placed >= instances : issued >= requests) return;
          ++issued;
          gi = Draw(req, cls);
        }
        const auto t0 = Steady::now();
        auto res = compute_->RunInstances(req);
        const double us = std::chrono::duration<double, std::micro>(Steady::now() - t0).count();
        if (!res.ok() && res.status().code() != absl::StatusCode::kResourceExhausted) {
          std::fprintf(stderr, "RunInstances: %s\n", res.status().ToString().c_str());
          std::exit(2);
        }
        const ctl::RunInstancesTimings& t = ctl::LastRunInstancesTimings();
        st.request_us.push_back(us);
        st.lock_wait_us.push_back(t.lock_wait_us);
        st.locked_us.push_back(t.locked_us);
        if (res.ok()) st.durable_us.push_back(t.durable_wait_us);
        std::lock_guard<std::mutex> lock(mu_);
        if (!res.ok()) {
          ++st.failed[cls];
          if (gi >= 0 && !groups_[gi].closed) {  // a group that no longer fits takes no more
            groups_[gi].closed = true;
            auto& open = open_[cls];
            open.erase(std::remove(open.begin(), open.end(), gi), open.end());
          }
          continue;
        }
        ++st.ok[cls];
        st.instances += res->instances_size();
        placed += res->instances_size();
        if (gi >= 0) {
          Group& g = groups_[gi];
          g.members += res->instances_size();
          if (g.cls == kCluster && g.locked_az.empty()) {
            g.locked_az = res->instances(0).placement().availability_zone();
          }
          const int cap = cls == kSpread ? 21 : cls == kPartition ? 120 : 48;
          if (!g.closed && g.members >= cap) {
            g.closed = true;
            auto& open = open_[cls];
            open.erase(std::remove(open.begin(), open.end(), gi), open.end());
          }
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  const double wall = std::chrono::duration<double>(Steady::now() - w0).count();
  if (stats != nullptr) {
    for (const auto& st : per) stats->Add(st);
  }
  return wall;
}

void ServiceBench::MeasureDelivery() {
  // What moved out of RunInstances: signing at delivery. Deliver the desired state of a few
  // hosts (each signs its instances once; the second delivery is served from the cache) and
  // verify every signature against the cloud certificate.
  constexpr int kHosts = 20;
  int instances = 0, verified = 0;
  double first_s = 0, second_s = 0;
  for (int k = 0; k < kHosts && k < static_cast<int>(host_ids_.size()); ++k) {
    v1::WatchDesiredRequest w;
    w.set_host_id(host_ids_[k * (host_ids_.size() / kHosts)]);
    w.set_known_generation(0);
    w.set_max_wait_ms(0);
    const auto t0 = Steady::now();
    auto d = fleet_->WatchDesired(w);
    const auto t1 = Steady::now();
    auto again = fleet_->WatchDesired(w);
    const auto t2 = Steady::now();
    if (!d.ok() || !again.ok()) {
      std::fprintf(stderr, "WatchDesired: %s\n", d.status().ToString().c_str());
      return;
    }
    first_s += std::chrono::duration<double>(t1 - t0).count();
    second_s += std::chrono::duration<double>(t2 - t1).count();
    for (const auto& di : d->instances()) {
      if (di.goal() == v1::DESIRED_GOAL_TERMINATED) continue;
      ++instances;
      const auto& m = di.metadata();
      verified += identity::VerifyIdentitySignature(m.identity_document(), m.identity_signature(),
                                                    signer_->certificate_pem())
                      .ok() &&
                  identity::VerifyIdentityPkcs7(m.identity_pkcs7(), signer_->certificate_pem())
                          .value_or("") == m.identity_document();
    }
  }
  std::printf(
      "service_delivery hosts=%d instances=%d signatures_verified=%d "
      "first_delivery_ms_per_instance=%.3f cached_delivery_ms_per_instance=%.3f\n",
      kHosts, instances, verified, instances > 0 ? first_s * 1e3 / instances : 0.0,
      instances > 0 ? second_s * 1e3 / instances : 0.0);
}

bool ServiceBench::Verify() {
  compute_.reset();
  fleet_.reset();
  state_.reset();
  store_.reset();
  auto reopened = ctl::RocksDbStore::Open(o_.dir + "/service-store");
  if (!reopened.ok()) return false;
  ctl::CloudState disk(**reopened, Config());
  if (!disk.Load(clock_.Now()).ok()) return false;
  std::lock_guard<std::mutex> lock(disk.mu());
  scheduler::ClusterState cs;
  for (const auto& [id, h] : disk.hosts()) {
    scheduler::HostSnapshot s;
    s.host_id = id;
    s.region = h.topology().region();
    s.availability_zone = h.topology().availability_zone();
    s.rack = h.topology().rack();
    const v1::Capacity a = ctl::AllocatableCapacity(h.capacity(), disk.config());
    s.allocatable_vcpus = a.vcpus();
    s.allocatable_memory_mib = a.memory_mib();
    s.instance_store_gb = a.instance_store_gb();
    cs.hosts.push_back(s);
  }
  for (const auto& [name, g] : disk.placement_groups()) {
    scheduler::PlacementGroup pg;
    pg.name = name;
    pg.strategy = *scheduler::ParsePlacementStrategy(PlacementStrategyName(g.strategy()));
    pg.spread_level = *scheduler::ParseSpreadLevel(SpreadLevelName(g.spread_level()));
    pg.partition_count = g.partition_count();
    pg.locked_az = g.locked_availability_zone();
    cs.groups.push_back(pg);
  }
  std::map<std::pair<std::string, std::string>, int> addresses;
  int64_t duplicates = 0, members = 0, unsigned_docs = 0;
  for (const auto& [id, r] : disk.instances()) {
    scheduler::CheckedInstance c;
    c.instance_id = id;
    c.host_id = r.host_id();
    c.group_name = r.placement_group();
    c.partition_number = r.partition_number();
    c.state = r.state() == v1::INSTANCE_STATE_CODE_PENDING ? scheduler::InstanceState::kPending
                                                           : scheduler::InstanceState::kRunning;
    c.vcpus = r.vcpus();
    c.memory_mib = r.memory_mib();
    const auto type = ctl::FindInstanceType(r.instance_type());
    c.instance_store_gb =
        type ? static_cast<int64_t>(type->instance_store_disks) * type->instance_store_gb : 0;
    cs.instances.push_back(c);
    members += !c.group_name.empty();
    duplicates += addresses[{r.network().subnet_id(), r.network().private_ip()}]++ > 0;
    unsigned_docs += ctl::IdentityDocumentOf(r).empty();
  }
  const auto violations = scheduler::CheckPlacement(cs);
  std::printf(
      "service_verify hosts=%zu groups=%zu instances=%zu group_members=%lld "
      "duplicate_addresses=%lld missing_identity_documents=%lld checker_violations=%zu\n",
      cs.hosts.size(), cs.groups.size(), cs.instances.size(), static_cast<long long>(members),
      static_cast<long long>(duplicates), static_cast<long long>(unsigned_docs), violations.size());
  if (!violations.empty()) std::fprintf(stderr, "%s", FormatViolations(violations).c_str());
  return violations.empty() && duplicates == 0 && unsigned_docs == 0;
}

ServiceBenchResult ServiceBench::Run() {
  ServiceBenchResult out;
  if (!Setup()) return out;
  const auto p0 = Steady::now();
  Stats prefill;
  RunClients(INT64_MAX, o_.prefill, &prefill);
  std::printf("service_prefill instances=%lld requests=%zu seconds=%.2f\n",
              static_cast<long long>(prefill.instances), prefill.request_us.size(),
              std::chrono::duration<double>(Steady::now() - p0).count());

  Stats st;
  const auto gc0 = state_->commit_stats();
  const double cpu0 = ProcessCpuSeconds();
  const double wall = RunClients(o_.launches, 0, &st);
  const double cpu = ProcessCpuSeconds() - cpu0;
  const auto gc1 = state_->commit_stats();
  int64_t ok = 0, failed = 0;
  for (int c = 0; c < kClasses; ++c) {
    ok += st.ok[c];
    failed += st.failed[c];
  }
  out.placements_committed = ok;
  out.placements_failed = failed;
  out.instances_committed = st.instances;
  out.committed_placements_per_s = ok / wall;
  for (int c = 0; c < kClasses; ++c) {
    std::printf("service_class_%s ok=%lld failed=%lld\n", kClassNames[c],
                static_cast<long long>(st.ok[c]), static_cast<long long>(st.failed[c]));
  }
  std::printf(
      "service placements_committed=%lld placements_failed=%lld instances_committed=%lld "
      "wall_seconds=%.2f\n",
      static_cast<long long>(ok), static_cast<long long>(failed),
      static_cast<long long>(st.instances), wall);
  std::printf("service result committed_placements_per_s=%.1f cpu_us_per_placement=%.1f\n",
              out.committed_placements_per_s, ok > 0 ? cpu * 1e6 / ok : 0.0);
  std::printf("service result request_p50_us=%.1f request_p99_us=%.1f   (call -> answer)\n",
              Percentile(st.request_us, 0.5), Percentile(st.request_us, 0.99));
  std::printf("service result lock_wait_p50_us=%.1f lock_wait_p99_us=%.1f\n",
              Percentile(st.lock_wait_us, 0.5), Percentile(st.lock_wait_us, 0.99));
  std::printf(
      "service result decision_p50_us=%.1f decision_p99_us=%.1f   (state lock held: checks, "
      "decision, records, up to staging)\n",
      Percentile(st.locked_us, 0.5), Percentile(st.locked_us, 0.99));
  std::printf("service result commit_p50_us=%.1f commit_p99_us=%.1f   (staged -> durable)\n",
              Percentile(st.durable_us, 0.5), Percentile(st.durable_us, 0.99));
  const double commits = static_cast<double>(gc1.store_commits - gc0.store_commits);
  std::printf(
      "service group_commit batches=%llu store_commits=%.0f mean_group=%.2f "
      "bytes_per_commit=%.0f store_commit_mean_us=%.1f   (one synced RocksDB write)\n",
      static_cast<unsigned long long>(gc1.batches - gc0.batches), commits,
      commits > 0 ? (gc1.batches - gc0.batches) / commits : 0.0,
      commits > 0 ? (gc1.bytes - gc0.bytes) / commits : 0.0,
      commits > 0 ? (gc1.commit_seconds - gc0.commit_seconds) * 1e6 / commits : 0.0);
  double locked_total = 0;
  for (double us : st.locked_us) locked_total += us;
  std::printf("service result decider_busy=%.3f\n", locked_total / 1e6 / wall);
  MeasureDelivery();
  out.ok = Verify();
  std::printf("service_verified=%s\n", out.ok ? "yes" : "NO");
  return out;
}

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

}  // namespace

ServiceBenchResult RunServiceBench(const ServiceBenchOptions& options) {
  return ServiceBench(options).Run();
}

bool RunLargeCountBench(const ServiceBenchOptions& options) {
  return ServiceBench(options).RunLargeCount();
}

}  // namespace minicloud::bench
