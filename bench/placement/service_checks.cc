// The service line's checks (service_bench_internal.h): identity signing at delivery on a sample
// of hosts, and the state read back from disk by a fresh CloudState, judged by the independent
// checker with unique addresses per subnet and a document for every instance.

#include "bench/placement/service_bench_internal.h"

namespace minicloud::bench::service_line {

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

}  // namespace minicloud::bench::service_line
