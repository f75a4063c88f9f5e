// Differential test of the controller's incremental indexes (controller/service/state_index.h)
// against a rebuild from the records by plain scans (the code RunInstances used before the
// indexes), after every step of random sequences of run / stop / start / terminate / reported
// states / failed launches / host re-registration / hosts going down and up / reconcile and
// purge, over a real store with a fake clock.
#include <catch2/catch.hpp>
#include <random>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/ec2_names.h"
#include "controller/scheduler/fleet.h"
#include "controller/service/instance_state.h"
#include "controller/service/instance_types.h"
#include "controller/service/network_plan.h"
#include "controller/service/placement_group_service.h"
#include "tests/testing/controller_fixture.h"

namespace minicloud {
namespace {

using testing::ControllerFixture;

// The snapshot as ComputeService built it from the records (a scan of every host and instance).
std::vector<scheduler::HostSnapshot> ScanSnapshot(controller::CloudState& s, absl::Time now) {
  std::map<std::string, scheduler::HostSnapshot> by_host;
  for (const auto& [id, h] : s.hosts()) {
    auto& x = by_host[id];
    x.host_id = id;
    x.region = h.topology().region();
    x.availability_zone = h.topology().availability_zone();
    x.rack = h.topology().rack();
    x.up = s.HostUpLocked(id, now);
    const v1::Capacity a = controller::AllocatableCapacity(h.capacity(), s.config());
    x.allocatable_vcpus = a.vcpus();
    x.allocatable_memory_mib = a.memory_mib();
    x.instance_store_gb = a.instance_store_gb();
  }
  for (const auto& [id, r] : s.instances()) {
    if (!controller::HoldsCapacity(r.state())) continue;
    auto it = by_host.find(r.host_id());
    if (it == by_host.end()) continue;
    it->second.used_vcpus += r.vcpus();
    it->second.used_memory_mib += r.memory_mib();
    const auto type = controller::FindInstanceType(r.instance_type());
    it->second.used_instance_store_gb +=
        type ? static_cast<int64_t>(type->instance_store_disks) * type->instance_store_gb : 0;
  }
  std::vector<scheduler::HostSnapshot> out;
  for (auto& [id, x] : by_host) out.push_back(x);
  return out;
}

std::string Describe(const scheduler::HostSnapshot& h) {
  return absl::StrCat(h.host_id, " ", h.region, "/", h.availability_zone, "/", h.rack,
                      h.up ? " up" : " down", " alloc ", h.allocatable_vcpus, "/",
                      h.allocatable_memory_mib, "/", h.instance_store_gb, " used ", h.used_vcpus,
                      "/", h.used_memory_mib, "/", h.used_instance_store_gb);
}

std::string Describe(const scheduler::GroupMember& m) {
  return absl::StrCat(m.instance_id, "@", m.host_id, " ", m.availability_zone, "/", m.rack, " p",
                      m.partition_number, m.active ? " active" : " stopped");
}

// Compares every index with its scan; returns the differences (empty = equal).
std::vector<std::string> Differences(controller::CloudState& s, absl::Time now) {
  std::vector<std::string> diff;
  std::lock_guard<std::mutex> lock(s.mu());
  controller::StateIndex& index = s.index();

  // Hosts' usage, shape and liveness.
  const auto scanned = ScanSnapshot(s, now);
  const auto indexed = index.Snapshot(now);
  std::vector<std::string> a, b;
  for (const auto& h : scanned) a.push_back(Describe(h));
  for (const auto& h : indexed) b.push_back(Describe(h));
  if (a != b)
    diff.push_back(absl::StrCat("snapshot: scan [", absl::StrJoin(a, "; "), "] index [",
                                absl::StrJoin(b, "; "), "]"));

  // The kept fleet decides like a fleet built from the scan (usage, order, up/down included):
  // compare full explanations of probe requests, with and without a group.
  scheduler::Fleet fresh(scanned);
  scheduler::Fleet& kept = index.FleetAt(now);
  for (int vcpus : {1, 2, 4}) {
    scheduler::PlacementRequest probe;
    probe.request_id = absl::StrCat("probe-", vcpus);
    probe.vcpus = vcpus;
    probe.memory_mib = 1024 * vcpus;
    probe.min_count = 1;
    probe.max_count = 3;
    const std::string want = FormatExplanation(probe, fresh.Explain(probe));
    const std::string got = FormatExplanation(probe, kept.Explain(probe));
    if (want != got) diff.push_back(absl::StrCat("fleet:\n", want, "\nvs kept\n", got));
  }

  // Group members, as SchedulerGroupLocked scanned them.
  for (const auto& [name, g] : s.placement_groups()) {
    std::vector<std::string> want, got;
    for (const auto& [id, r] : s.instances()) {
      if (r.placement_group() != name || r.state() == v1::INSTANCE_STATE_CODE_TERMINATED) {
        continue;
      }
      scheduler::GroupMember m;
      m.instance_id = id;
      m.host_id = r.host_id();
      m.availability_zone = r.topology().availability_zone();
      m.rack = r.topology().rack();
      m.partition_number = r.partition_number();
      m.active = controller::HoldsCapacity(r.state());
      want.push_back(Describe(m));
    }
    for (const auto& m : index.GroupMembers(name)) got.push_back(Describe(m));
    if (want != got) {
      diff.push_back(absl::StrCat("group ", name, ": scan [", absl::StrJoin(want, "; "),
                                  "] index [", absl::StrJoin(got, "; "), "]"));
    }
  }

  // Lowest free address per subnet, as AssignNetworkLocked found it by scanning.
  for (const auto& [az, subnet] : s.subnets()) {
    auto plan = network::SubnetPlan::FromCidr(subnet.cidr());
    REQUIRE(plan.ok());
    std::set<std::string> used;
    for (const auto& [id, r] : s.instances()) {
      if (r.state() != v1::INSTANCE_STATE_CODE_TERMINATED &&
          r.network().subnet_id() == subnet.subnet_id()) {
        used.insert(r.network().private_ip());
      }
    }
    const auto want = controller::AllocateAddress(*plan, used);
    const auto got = index.FirstFreeAddress(subnet.subnet_id(), *plan, {});
    const std::string w = want.ok() ? *want : want.status().ToString();
    const std::string g = got.ok() ? got->ToString() : got.status().ToString();
    if (w != g) diff.push_back(absl::StrCat("first free in ", az, ": scan ", w, " index ", g));
  }

  // Records per host and occupying counts.
  std::map<std::string, std::set<std::string>> on;
  std::map<std::string, int> occupying;
  for (const auto& [id, r] : s.instances()) {
    on[r.host_id()].insert(id);
    occupying[r.host_id()] += controller::HoldsCapacity(r.state());
  }
  for (const auto& [host, ids] : on) {
    const auto& listed = index.InstancesOn(host);
    if (std::set<std::string>(listed.begin(), listed.end()) != ids) {
      diff.push_back(absl::StrCat("instances on ", host));
    }
    if (index.OccupyingCount(host) != occupying[host]) {
      diff.push_back(absl::StrCat("occupying count of ", host));
    }
  }
  return diff;
}

v1::RegisterHostRequest HostRequest(int i, int vcpus) {
  v1::RegisterHostRequest req;
  req.set_host_id(absl::StrFormat("h-%017x", 0x100 + i));
  req.set_hostname(absl::StrCat("host", i));
  req.set_endpoint(absl::StrCat("agent", i, ":1"));
  req.mutable_topology()->set_region("home-1");
  req.mutable_topology()->set_availability_zone(i % 2 == 0 ? "home-1a" : "home-1b");
  req.mutable_topology()->set_rack(absl::StrCat("rack-", i % 5));
  req.mutable_capacity()->set_vcpus(vcpus);
  req.mutable_capacity()->set_memory_mib(8192);
  req.mutable_capacity()->set_instance_store_gb(i % 3 == 0 ? 200 : 0);
  req.set_accelerator(v1::ACCELERATOR_TCG);
  return req;
}

// One random sequence; checks after every step. Returns the number of steps that changed state.
void RunSequence(uint64_t seed, int steps) {
  ControllerFixture f;
  std::mt19937_64 rng(seed);
  auto uniform = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  constexpr int kHosts = 8;
  for (int i = 0; i < kHosts; ++i) REQUIRE(f.fleet->RegisterHost(HostRequest(i, 4)).ok());
  const std::string image = f.RegisterImage();
  for (const auto& [name, strategy, partitions] :
       std::vector<std::tuple<std::string, std::string, int>>{
           {"spread", "spread", 0}, {"part", "partition", 3}, {"clu", "cluster", 0}}) {
    v1::CreatePlacementGroupRequest g;
    g.set_group_name(name);
    g.set_strategy(ParsePlacementStrategy(strategy).value());
    g.set_partition_count(partitions);
    REQUIRE(f.groups->CreatePlacementGroup(g).ok());
  }
  const char* kTypes[] = {"t3.micro", "t3.small", "m5d.large", "c5.large"};
  auto instances = [&](auto pred) {
    std::vector<v1::InstanceRecord> out;
    std::lock_guard<std::mutex> lock(f.state->mu());
    for (const auto& [id, r] : f.state->instances()) {
      if (pred(r)) out.push_back(r);
    }
    return out;
  };
  // A copy of a random record of `v`, or nullopt.
  auto pick = [&](const std::vector<v1::InstanceRecord>& v) -> std::optional<v1::InstanceRecord> {
    if (v.empty()) return std::nullopt;
    return v[uniform(0, static_cast<int>(v.size()) - 1)];
  };
  auto in_state = [&](v1::InstanceStateCode st) {
    return instances([st](const v1::InstanceRecord& r) { return r.state() == st; });
  };

  for (int step = 0; step < steps; ++step) {
    const int op = uniform(0, 11);
    std::string what;
    if (op <= 2) {  // run
      v1::RunInstancesRequest req = f.Run(image, uniform(1, 3));
      req.set_min_count(1);
      req.set_instance_type(kTypes[uniform(0, 3)]);
      const int g = uniform(0, 4);
      if (g == 1) req.mutable_placement()->set_group_name("spread");
      if (g == 2) req.mutable_placement()->set_group_name("part");
      if (g == 3) req.mutable_placement()->set_group_name("clu");
      if (uniform(0, 2) == 0 && g != 3) {
        req.mutable_placement()->set_availability_zone(uniform(0, 1) ? "home-1a" : "home-1b");
      }
      (void)f.compute->RunInstances(req);  // may fail for capacity: fine, then nothing changes
      what = "run";
    } else if (op == 3) {  // the agent reports a pending instance running
      if (auto r = pick(in_state(v1::INSTANCE_STATE_CODE_PENDING))) {
        (void)f.Report(r->host_id(), r->instance_id(), v1::OBSERVED_STATE_RUNNING);
      }
      what = "report running";
    } else if (op == 4) {  // stop, then the agent reports it shut off
      if (auto r = pick(in_state(v1::INSTANCE_STATE_CODE_RUNNING))) {
        v1::StopInstancesRequest req;
        req.add_instance_ids(r->instance_id());
        (void)f.compute->StopInstances(req);
        if (uniform(0, 1)) {
          (void)f.Report(r->host_id(), r->instance_id(), v1::OBSERVED_STATE_SHUTOFF);
        }
      }
      what = "stop";
    } else if (op == 5) {  // start a stopped instance
      if (auto r = pick(in_state(v1::INSTANCE_STATE_CODE_STOPPED))) {
        v1::StartInstancesRequest req;
        req.add_instance_ids(r->instance_id());
        (void)f.compute->StartInstances(req);
      }
      what = "start";
    } else if (op == 6) {  // terminate, and maybe the agent reports it gone
      auto live = instances([](const v1::InstanceRecord& r) {
        return r.state() != v1::INSTANCE_STATE_CODE_TERMINATED;
      });
      if (auto r = pick(live)) {
        v1::TerminateInstancesRequest req;
        req.add_instance_ids(r->instance_id());
        (void)f.compute->TerminateInstances(req);
        if (uniform(0, 1)) {
          (void)f.Report(r->host_id(), r->instance_id(), v1::OBSERVED_STATE_ABSENT);
        }
      }
      what = "terminate";
    } else if (op == 7) {  // a launch or a start fails on the host
      if (auto r = pick(in_state(v1::INSTANCE_STATE_CODE_PENDING))) {
        (void)f.Report(r->host_id(), r->instance_id(), v1::OBSERVED_STATE_FAILED,
                       "admission: no room");
      }
      what = "failed launch";
    } else if (op == 8) {  // time passes; some hosts report, the others may go down
      f.clock.Advance(absl::Seconds(uniform(1, 12)));
      for (int i = 0; i < kHosts; ++i) {
        if (uniform(0, 2) == 0) {
          v1::ReportStatusRequest req;
          req.set_host_id(HostRequest(i, 4).host_id());
          REQUIRE(f.fleet->ReportStatus(req).ok());
        }
      }
      what = "time + reports";
    } else if (op == 9) {  // a host registers again with another size
      REQUIRE(f.fleet->RegisterHost(HostRequest(uniform(0, kHosts - 1), 2 * uniform(1, 4))).ok());
      what = "re-register";
    } else if (op == 10) {  // reconcile after a long time: timeouts, purges
      f.clock.Advance(uniform(0, 1) ? absl::Minutes(11) : absl::Minutes(61));
      REQUIRE(f.fleet->Reconcile().ok());
      what = "reconcile";
    } else {  // a controller restart: the indexes are rebuilt by Load
      f.Reopen();
      what = "restart";
    }
    const auto diff = Differences(*f.state, f.clock.Now());
    INFO("seed " << seed << " step " << step << " (" << what << ")");
    REQUIRE(absl::StrJoin(diff, "\n") == "");
  }
  // The sequence must have exercised the interesting states.
  CHECK_FALSE(instances([](const v1::InstanceRecord&) { return true; }).empty());
}

}  // namespace

TEST_CASE("incremental indexes equal a rebuild from the records after random changes",
          "[controller][state_index]") {
  for (uint64_t seed : {1, 2, 3, 4}) {
    SECTION(absl::StrCat("seed ", seed)) { RunSequence(seed, 250); }
  }
}

TEST_CASE("lowest free address follows frees and reuse", "[controller][state_index]") {
  ControllerFixture f;
  REQUIRE(f.fleet->RegisterHost(HostRequest(0, 64)).ok());
  const std::string image = f.RegisterImage();
  std::vector<std::string> ids, ips;
  for (int i = 0; i < 4; ++i) {
    auto r = f.compute->RunInstances(f.Run(image));
    REQUIRE(r.ok());
    ids.push_back(r->instances(0).instance_id());
    ips.push_back(r->instances(0).private_ip_address());
  }
  CHECK(ips == std::vector<std::string>{"172.31.0.4", "172.31.0.5", "172.31.0.6", "172.31.0.7"});
  // Terminating .5 (gone at the host) frees it: the next launch takes it, then .8.
  v1::TerminateInstancesRequest t;
  t.add_instance_ids(ids[1]);
  REQUIRE(f.compute->TerminateInstances(t).ok());
  const std::string host = f.Describe(ids[1]).placement().host_id();
  REQUIRE(f.Report(host, ids[1], v1::OBSERVED_STATE_ABSENT).ok());
  auto two = f.compute->RunInstances(f.Run(image, 2));
  REQUIRE(two.ok());
  CHECK(two->instances(0).private_ip_address() == "172.31.0.5");
  CHECK(two->instances(1).private_ip_address() == "172.31.0.8");
}

TEST_CASE("a group's scheduler view does not change while a caller holds it",
          "[controller][state_index]") {
  ControllerFixture f;
  for (int i = 0; i < 4; ++i) REQUIRE(f.fleet->RegisterHost(HostRequest(i, 8)).ok());
  const std::string image = f.RegisterImage();
  v1::CreatePlacementGroupRequest g;
  g.set_group_name("part");
  g.set_strategy(ParsePlacementStrategy("partition").value());
  g.set_partition_count(2);
  REQUIRE(f.groups->CreatePlacementGroup(g).ok());
  auto launch = [&] {
    v1::RunInstancesRequest req = f.Run(image);
    req.mutable_placement()->set_group_name("part");
    auto r = f.compute->RunInstances(req);
    REQUIRE(r.ok());
    return r->instances(0).instance_id();
  };
  auto view = [&] {
    std::lock_guard<std::mutex> lock(f.state->mu());
    return controller::SchedulerGroupLocked(*f.state, *f.state->FindPlacementGroup("part"));
  };
  const std::string first = launch();
  std::shared_ptr<const scheduler::PlacementGroup> held = view();
  REQUIRE(held->members.size() == 1);
  CHECK(held->members[0].instance_id == first);
  CHECK(held->partition_count == 2);
  // Unchanged members: the same view, not a copy.
  CHECK(view().get() == held.get());

  const std::string second = launch();
  // Catches: the index changing the members in place while `held` still points at them.
  CHECK(held->members.size() == 1);
  const auto now = view();
  REQUIRE(now->members.size() == 2);
  CHECK(now.get() != held.get());
  std::set<std::string> ids{now->members[0].instance_id, now->members[1].instance_id};
  CHECK(ids == std::set<std::string>{first, second});
  CHECK(now->members[0].instance_id < now->members[1].instance_id);  // instance id order
  {
    std::lock_guard<std::mutex> lock(f.state->mu());
    CHECK(f.state->index().GroupMembers("part").size() == 2);
  }
}

}  // namespace minicloud
