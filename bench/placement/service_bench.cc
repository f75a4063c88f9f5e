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

#include "bench/placement/service_bench_internal.h"

namespace minicloud::bench {
namespace service_line {

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
  // Boot files as RegisterImage records a direct-kernel AMI (digests are SHA-256 hex): an
  // instance's desired state carries them, so the record shapes are the shipped ones.
  v1::BootImage* boot = image.mutable_boot();
  boot->set_image_id(image_id_);
  boot->set_sha256(std::string(64, 'a'));
  boot->set_size_bytes(41'156'608);
  boot->set_kernel_sha256(std::string(64, 'b'));
  boot->set_kernel_size_bytes(7'913'472);
  boot->set_ramdisk_sha256(std::string(64, 'c'));
  boot->set_ramdisk_size_bytes(1'226'752);
  boot->set_kernel_command_line("console=ttyS0 root=/dev/vda rw");
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

}  // namespace service_line

ServiceBenchResult RunServiceBench(const ServiceBenchOptions& options) {
  return service_line::ServiceBench(options).Run();
}

}  // namespace minicloud::bench
