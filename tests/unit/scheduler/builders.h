#pragma once

// Builders for scheduler tests: MakeHost("h1").Az("a").Rack("r1").Vcpus(8),
// MakeGroup::Spread("pg").Member("i-1", "h1"), MakeRequest().Count(1, 3).Group(g).

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "controller/scheduler/scheduler.h"

namespace minicloud::scheduler::testing {

struct MakeHost {
  HostSnapshot h;
  explicit MakeHost(std::string id) {
    h.host_id = std::move(id);
    h.region = "home-1";
    h.availability_zone = "home-1a";
    h.rack = "r1";
    h.allocatable_vcpus = 8;
    h.allocatable_memory_mib = 16384;
  }
  MakeHost& Region(std::string r) { return h.region = std::move(r), *this; }
  MakeHost& Az(std::string az) { return h.availability_zone = std::move(az), *this; }
  MakeHost& Rack(std::string r) { return h.rack = std::move(r), *this; }
  MakeHost& Vcpus(int v) { return h.allocatable_vcpus = v, *this; }
  MakeHost& Memory(int64_t m) { return h.allocatable_memory_mib = m, *this; }
  MakeHost& Disk(int64_t gb) { return h.instance_store_gb = gb, *this; }
  MakeHost& Used(int v, int64_t m) { return h.used_vcpus = v, h.used_memory_mib = m, *this; }
  MakeHost& UsedDisk(int64_t gb) { return h.used_instance_store_gb = gb, *this; }
  MakeHost& Down() { return h.up = false, *this; }
  MakeHost& Hosts(std::string group, std::string instance, int partition = 0) {
    h.group_members.push_back({std::move(group), std::move(instance), partition});
    return *this;
  }
  operator HostSnapshot() const { return h; }
};

struct MakeGroup {
  PlacementGroup g;
  static MakeGroup Spread(std::string name) {
    MakeGroup m;
    m.g.name = std::move(name);
    m.g.strategy = PlacementStrategy::kSpread;
    return m;
  }
  static MakeGroup Cluster(std::string name) {
    MakeGroup m;
    m.g.name = std::move(name);
    m.g.strategy = PlacementStrategy::kCluster;
    return m;
  }
  static MakeGroup Partition(std::string name, int count) {
    MakeGroup m;
    m.g.name = std::move(name);
    m.g.strategy = PlacementStrategy::kPartition;
    m.g.partition_count = count;
    return m;
  }
  MakeGroup& HostLevel() { return g.spread_level = SpreadLevel::kHost, *this; }
  MakeGroup& LockedTo(std::string az) { return g.locked_az = std::move(az), *this; }
  // A member on a host of the snapshot (its AZ and rack come from the host).
  MakeGroup& Member(std::string id, std::string host, int partition = 0, bool active = true) {
    GroupMember m;
    m.instance_id = std::move(id);
    m.host_id = std::move(host);
    m.partition_number = partition;
    m.active = active;
    g.members.push_back(std::move(m));
    return *this;
  }
  MakeGroup& Stopped(std::string id, std::string host, int partition = 0) {
    return Member(std::move(id), std::move(host), partition, false);
  }
  // A member on a host that is not in the snapshot.
  MakeGroup& MemberAt(std::string id, std::string az, std::string rack, int partition = 0) {
    GroupMember m;
    m.instance_id = std::move(id);
    m.host_id = "gone-" + m.instance_id;
    m.availability_zone = std::move(az);
    m.rack = std::move(rack);
    m.partition_number = partition;
    g.members.push_back(std::move(m));
    return *this;
  }
  std::shared_ptr<const PlacementGroup> Build() const {
    return std::make_shared<const PlacementGroup>(g);
  }
};

struct MakeRequest {
  PlacementRequest r;
  MakeRequest() {
    r.request_id = "r-test";
    r.vcpus = 2;
    r.memory_mib = 1024;
  }
  MakeRequest& Id(std::string id) { return r.request_id = std::move(id), *this; }
  MakeRequest& Count(int min, int max) { return r.min_count = min, r.max_count = max, *this; }
  MakeRequest& Size(int v, int64_t m) { return r.vcpus = v, r.memory_mib = m, *this; }
  MakeRequest& Disk(int64_t gb) { return r.instance_store_gb = gb, *this; }
  MakeRequest& Az(std::string az) { return r.availability_zone = std::move(az), *this; }
  MakeRequest& Region(std::string reg) { return r.region = std::move(reg), *this; }
  MakeRequest& AllowedZones(std::vector<std::string> z) {
    return r.allowed_zones = std::move(z), *this;
  }
  MakeRequest& Group(const MakeGroup& g) { return r.group = g.Build(), *this; }
  MakeRequest& Partition(int p) { return r.partition_number = p, *this; }
  MakeRequest& Restart(std::string id) { return r.restart_instance_id = std::move(id), *this; }
  MakeRequest& Prefer(std::string host) { return r.preferred_host_id = std::move(host), *this; }
  operator PlacementRequest() const { return r; }
};

}  // namespace minicloud::scheduler::testing
