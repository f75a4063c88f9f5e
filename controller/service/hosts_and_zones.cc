// ComputeService's view of the fleet: DescribeInstanceTypes (the catalog), DescribeHosts
// (capacity, usage and liveness per host) and DescribeAvailabilityZones.

#include <map>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/ec2_error.h"
#include "controller/service/compute_service.h"
#include "controller/service/filters.h"
#include "controller/service/hibernation.h"
#include "controller/service/instance_types.h"
#include "controller/service/timestamp.h"

namespace minicloud::controller {
namespace {

// The API view of a zone's volume service: what the service said, plus the sizes of the zone's
// volumes the controller records. Requires the state lock.
v1::ZoneVolumeService ZoneVolumeServiceLocked(
    CloudState& state, const std::string& zone,
    const std::map<std::string, VolumeServiceState>& states) {
  v1::ZoneVolumeService out;
  auto it = states.find(zone);
  if (it == states.end()) {
    out.set_state("none");
    out.set_detail("this zone has no volume service: no EBS volumes");
    out.set_free_bytes(-1);
    return out;
  }
  const VolumeServiceState& s = it->second;
  out.set_state(!s.reachable ? "unreachable" : s.healthy ? "available" : "impaired");
  out.set_backend(s.backend);
  out.set_detail(s.detail);
  out.set_volumes(s.volumes);
  out.set_snapshots(s.snapshots);
  out.set_exports(s.exports);
  out.set_free_bytes(s.free_bytes);
  int64_t provisioned = 0;
  for (const auto& [id, v] : state.volumes()) {
    if (v.availability_zone() == zone) provisioned += v.size_gib();
  }
  out.set_provisioned_gib(provisioned);
  return out;
}

}  // namespace

std::vector<scheduler::HostSnapshot> ComputeService::SnapshotLocked(absl::Time now) const {
  return state_.index().Snapshot(now);
}

absl::StatusOr<v1::DescribeInstanceTypesResponse> ComputeService::DescribeInstanceTypes(
    const v1::DescribeInstanceTypesRequest& req) {
  v1::DescribeInstanceTypesResponse resp;
  auto add = [&](const InstanceType& t) {
    auto* o = resp.add_instance_types();
    o->set_instance_type(std::string(t.name));
    o->set_default_vcpus(t.vcpus);
    o->set_memory_mib(t.memory_mib);
    o->set_instance_storage_supported(t.instance_store_disks > 0);
    o->set_instance_storage_gb(t.instance_store_disks * t.instance_store_gb);
    if (t.instance_store_disks > 0) {
      // Every instance-store type of the catalog has NVMe SSDs (instance_types.cc), which EC2
      // always encrypts (Amazon EC2 User Guide, "SSD instance store volumes": XTS-AES-256 in
      // hardware, keys destroyed at stop and terminate).
      auto* disk = o->add_instance_storage_disks();
      disk->set_size_gb(t.instance_store_gb);
      disk->set_count(t.instance_store_disks);
      disk->set_type("ssd");
      o->set_instance_storage_nvme_support("required");
      o->set_instance_storage_encryption_support("required");
    }
    o->set_burstable(t.burstable ? "true" : "false");
    o->set_hibernation_supported(HibernationSupported(t.name, t.memory_mib));
  };
  if (req.instance_types_size() == 0) {
    for (const auto& t : InstanceTypeCatalog()) add(t);
    return resp;
  }
  for (const auto& name : req.instance_types()) {
    auto t = FindInstanceType(name);
    if (!t) {
      return Ec2Error(
          absl::StatusCode::kInvalidArgument, "InvalidInstanceType",
          absl::StrCat("The following supplied instance types do not exist: [", name, "]"));
    }
    add(*t);
  }
  return resp;
}

absl::StatusOr<v1::DescribeHostsResponse> ComputeService::DescribeHosts(
    const v1::DescribeHostsRequest& req) {
  // Asked before the lock: these are network calls.
  const std::map<std::string, VolumeServiceState> volume_states =
      volume_states_ ? volume_states_() : std::map<std::string, VolumeServiceState>{};
  const absl::Time now = clock_.Now();
  auto lock = state_.LockCommitted();
  for (const auto& id : req.host_ids()) {
    if (!state_.hosts().contains(id)) {
      return Ec2Error(absl::StatusCode::kNotFound, "InvalidHostID.NotFound",
                      absl::StrCat("The host ID '", id, "' does not exist"));
    }
  }
  std::set<std::string> wanted(req.host_ids().begin(), req.host_ids().end());
  v1::DescribeHostsResponse resp;
  for (const auto& snap : SnapshotLocked(now)) {
    if (!wanted.empty() && !wanted.contains(snap.host_id)) continue;
    const v1::HostRecord& rec = state_.hosts().at(snap.host_id);
    auto* h = resp.add_hosts();
    h->set_host_id(snap.host_id);
    h->set_hostname(rec.hostname());
    *h->mutable_topology() = rec.topology();
    *h->mutable_capacity() = rec.capacity();
    h->mutable_allocatable()->set_vcpus(snap.allocatable_vcpus);
    h->mutable_allocatable()->set_memory_mib(snap.allocatable_memory_mib);
    h->mutable_allocatable()->set_instance_store_gb(snap.instance_store_gb);
    h->mutable_used()->set_vcpus(snap.used_vcpus);
    h->mutable_used()->set_memory_mib(snap.used_memory_mib);
    h->mutable_used()->set_instance_store_gb(snap.used_instance_store_gb);
    h->set_state(snap.up ? "available" : "unreachable");
    h->set_accelerator(rec.accelerator());
    h->set_accelerator_reason(rec.accelerator_reason());
    auto rt = state_.host_runtime().find(snap.host_id);
    if (rt != state_.host_runtime().end() && rt->second.last_report != absl::InfinitePast()) {
      *h->mutable_last_heartbeat() = ToTimestamp(absl::ToUnixMillis(rt->second.last_report));
    }
    h->set_instance_count(state_.index().OccupyingCount(snap.host_id));
    h->set_endpoint(rec.endpoint());
    *h->mutable_volume_service() =
        ZoneVolumeServiceLocked(state_, rec.topology().availability_zone(), volume_states);
  }
  return resp;
}

absl::StatusOr<v1::DescribeAvailabilityZonesResponse> ComputeService::DescribeAvailabilityZones(
    const v1::DescribeAvailabilityZonesRequest& req) {
  static const std::set<std::string> kFilters = {"region-name", "zone-name", "state", "zone-id"};
  for (const auto& f : req.filters()) {
    if (!kFilters.contains(f.name())) {
      return InvalidParameterValue(absl::StrCat("The filter '", f.name(), "' is invalid"));
    }
  }
  const std::map<std::string, VolumeServiceState> volume_states =
      volume_states_ ? volume_states_() : std::map<std::string, VolumeServiceState>{};
  const absl::Time now = clock_.Now();
  auto lock = state_.LockCommitted();
  std::map<std::string, v1::AvailabilityZone> zones;
  std::map<std::string, std::set<std::string>> racks;
  for (const auto& [id, h] : state_.hosts()) {
    const auto& t = h.topology();
    v1::AvailabilityZone& z = zones[t.availability_zone()];
    z.set_zone_name(t.availability_zone());
    z.set_region_name(t.region());
    z.set_host_count(z.host_count() + 1);
    z.set_hosts_up(z.hosts_up() + (state_.HostUpLocked(id, now) ? 1 : 0));
    racks[t.availability_zone()].insert(t.rack());
  }
  for (const auto& name : req.zone_names()) {
    if (!zones.contains(name)) {
      return InvalidParameterValue(
          absl::StrCat("The zone '", name, "' does not exist in any region of this cloud"));
    }
  }
  std::set<std::string> wanted(req.zone_names().begin(), req.zone_names().end());
  v1::DescribeAvailabilityZonesResponse resp;
  int index = 0;
  for (auto& [name, z] : zones) {
    // Zone ids follow AWS's "<region abbreviation>-az<N>" shape, numbered in name order.
    z.set_zone_id(absl::StrCat(z.region_name(), "-az", ++index));
    z.set_state(z.hosts_up() > 0 ? "available" : "unavailable");
    z.set_zone_type("availability-zone");
    z.set_opt_in_status("opt-in-not-required");
    for (const auto& rack : racks[name]) z.add_racks(rack);
    *z.mutable_volume_service() = ZoneVolumeServiceLocked(state_, name, volume_states);
    const v1::ZoneVolumeService& vs = z.volume_service();
    if (vs.state() == "unreachable" || vs.state() == "impaired") {
      // EC2 lists "any messages about the Availability Zone" here (botocore
      // AvailabilityZone.Messages); the zone stays available for instances.
      z.add_messages(absl::StrCat("The EBS volume service of ", name, " is ", vs.state(), " (",
                                  vs.detail(), "): volumes and snapshots cannot change there"));
    }
    if (!wanted.empty() && !wanted.contains(name)) continue;
    bool match = true;
    for (const auto& f : req.filters()) {
      const std::string actual = f.name() == "region-name" ? z.region_name()
                                 : f.name() == "zone-name" ? z.zone_name()
                                 : f.name() == "zone-id"   ? z.zone_id()
                                                           : z.state();
      bool any = false;
      for (const auto& v : f.values()) any = any || GlobMatch(v, actual);
      match = match && any;
    }
    if (match) *resp.add_availability_zones() = z;
  }
  return resp;
}

}  // namespace minicloud::controller
