#include "controller/service/fleet_service.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <limits>
#include <optional>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/ec2_error.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "controller/lifecycle/lifecycle.h"
#include "controller/lifecycle/volume_lifecycle.h"
#include "controller/service/guest_view.h"
#include "controller/service/instance_state.h"

namespace minicloud::controller {
namespace {

constexpr int kMaxWatchMs = 30'000;
// How often a waiting WatchDesired looks whether its caller went away.
constexpr auto kCancelPoll = std::chrono::milliseconds(200);

bool ValidTopology(const v1::Topology& t) {
  return !t.region().empty() && !t.availability_zone().empty() && !t.rack().empty();
}

// What one host may offer. Far above any real machine (the largest EC2 instances have 1,920
// vCPUs and 32 TiB of memory), low enough that capacity times the overcommit ratios and the sums
// the scheduler forms stay exact in their integer types.
constexpr int32_t kMaxHostVcpus = 16'384;
constexpr int64_t kMaxHostMemoryMib = int64_t{64} << 20;               // 64 TiB
constexpr int64_t kMaxHostInstanceStoreGb = int64_t{1} << 20;          // 1 PiB
constexpr double kMaxAllocatableVcpus = 1 << 24;                       // after the vCPU ratio
constexpr double kMaxAllocatableMemoryMib = double(int64_t{1} << 40);  // after the memory ratio

// A registration's capacity, refused when absurd: the allocatable capacity is
// int(vcpus x ratio), which must not overflow.
absl::Status CheckHostCapacity(const v1::Capacity& c, const ControllerConfig& config) {
  if (c.vcpus() <= 0 || c.memory_mib() <= 0) {
    return InvalidParameterValue("host registration needs positive vCPU and memory capacity");
  }
  if (c.vcpus() > kMaxHostVcpus) {
    return InvalidParameterValue(absl::StrCat("host registration offers ", c.vcpus(),
                                              " vCPUs; at most ", kMaxHostVcpus, " are accepted"));
  }
  if (c.memory_mib() > kMaxHostMemoryMib) {
    return InvalidParameterValue(absl::StrCat("host registration offers ", c.memory_mib(),
                                              " MiB of memory; at most ", kMaxHostMemoryMib,
                                              " are accepted"));
  }
  if (c.instance_store_gb() < 0 || c.instance_store_gb() > kMaxHostInstanceStoreGb) {
    return InvalidParameterValue(absl::StrCat("host registration offers ", c.instance_store_gb(),
                                              " GB of instance store; 0 to ",
                                              kMaxHostInstanceStoreGb, " are accepted"));
  }
  if (c.vcpus() * config.cpu_allocation_ratio > kMaxAllocatableVcpus ||
      c.memory_mib() * config.memory_allocation_ratio > kMaxAllocatableMemoryMib) {
    return InvalidParameterValue(absl::StrCat(
        "host registration: ", c.vcpus(), " vCPUs and ", c.memory_mib(),
        " MiB times the allocation ratios (", config.cpu_allocation_ratio, ", ",
        config.memory_allocation_ratio, ") exceed what the controller can account for"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<v1::RegisterHostResponse> FleetService::RegisterHost(
    const v1::RegisterHostRequest& req) {
  if (req.endpoint().empty()) return InvalidParameterValue("host registration needs an endpoint");
  if (!ValidTopology(req.topology())) {
    return InvalidParameterValue("host registration needs region, availability zone and rack");
  }
  MC_RETURN_IF_ERROR(CheckHostCapacity(req.capacity(), state_.config()));
  if (!req.host_id().empty()) {
    if (absl::Status s = CheckId(IdKind::kHost, req.host_id()); !s.ok()) {
      return InvalidParameterValue(s.message());
    }
  }
  const absl::Time now = clock_.Now();
  std::lock_guard<std::mutex> lock(state_.mu());
  v1::HostRecord rec;
  std::string id = req.host_id();
  if (!id.empty() && state_.hosts().contains(id)) {
    rec = state_.hosts().at(id);
  } else {
    // Unknown ids are accepted as given: the agent keeps its identity if controller state was
    // rebuilt.
    if (id.empty()) id = ids_.Next("h");
    rec.set_host_id(id);
    rec.set_registered_time_ms(absl::ToUnixMillis(now));
  }
  rec.set_hostname(req.hostname());
  rec.set_endpoint(req.endpoint());
  *rec.mutable_topology() = req.topology();
  *rec.mutable_capacity() = req.capacity();
  rec.set_accelerator(req.accelerator());
  rec.set_accelerator_reason(req.accelerator_reason());

  CloudState::Changes changes;
  changes.hosts[id] = rec;
  MC_RETURN_IF_ERROR(Annotate(state_.CommitLocked(changes), absl::StrCat("register host ", id)));
  state_.RecordReportLocked(id, now);
  state_.BumpGenerationLocked(id);
  spdlog::info("host {} registered: {} at {} ({}/{}/{}, {} vCPU, {} MiB, accel {})", id,
               rec.hostname(), rec.endpoint(), rec.topology().region(),
               rec.topology().availability_zone(), rec.topology().rack(), rec.capacity().vcpus(),
               rec.capacity().memory_mib(), v1::Accelerator_Name(rec.accelerator()));
  v1::RegisterHostResponse resp;
  resp.set_host_id(id);
  resp.set_report_interval_ms(state_.config().report_interval_ms);
  return resp;
}

absl::Status FleetService::CheckGuestOfHost(const std::string& host_id,
                                            const std::string& instance_id) {
  MC_RETURN_IF_ERROR(CheckId(IdKind::kInstance, instance_id));
  auto lock = state_.LockCommitted();
  auto it = state_.instances().find(instance_id);
  if (host_id.empty() || it == state_.instances().end() || it->second.host_id() != host_id ||
      it->second.state() == v1::INSTANCE_STATE_CODE_TERMINATED) {
    return absl::PermissionDeniedError(absl::StrCat("instance ", QuoteForMessage(instance_id),
                                                    " does not run on host ",
                                                    QuoteForMessage(host_id, 64)));
  }
  return absl::OkStatus();
}

absl::Status FleetService::ReportStatus(const v1::ReportStatusRequest& req) {
  MC_RETURN_IF_ERROR(CheckId(IdKind::kHost, req.host_id()));
  const absl::Time now = clock_.Now();
  std::lock_guard<std::mutex> lock(state_.mu());
  if (!state_.hosts().contains(req.host_id())) {
    return absl::NotFoundError(absl::StrCat("host ", req.host_id(), " is not registered"));
  }
  state_.RecordReportLocked(req.host_id(), now);

  CloudState::Changes changes;
  bool desired_changed = false;
  for (const auto& obs : req.instances()) {
    if (absl::Status s = CheckId(IdKind::kInstance, obs.instance_id()); !s.ok()) {
      spdlog::warn("host {} reported an entry that is ignored: {}", req.host_id(), s.message());
      continue;
    }
    auto it = state_.instances().find(obs.instance_id());
    if (it == state_.instances().end() || it->second.host_id() != req.host_id()) {
      spdlog::warn("host {} reported {} which is not placed there; ignored", req.host_id(),
                   obs.instance_id());
      continue;
    }
    v1::InstanceRecord r = it->second;
    bool changed = false;
    if (obs.has_timeline() &&
        obs.timeline().SerializeAsString() != r.timeline().SerializeAsString()) {
      *r.mutable_timeline() = obs.timeline();
      changed = true;
    }
    if (std::optional<lifecycle::Event> event = lifecycle::EventOf(obs)) {
      auto t = lifecycle::Apply(lifecycle::InstanceLifecycle::Of(r), *event, now);
      if (!t.ok()) {
        spdlog::warn("host {} reported {} for {}: {}", req.host_id(),
                     v1::ObservedState_Name(obs.state()), r.instance_id(), t.status().message());
      } else if (t->changed) {
        if (obs.state() == v1::OBSERVED_STATE_FAILED) {
          spdlog::warn("{} of {} failed on {}: {}", r.boot_count() > 1 ? "start" : "launch",
                       r.instance_id(), req.host_id(), obs.message());
        }
        lifecycle::Record(*t, r);
        changed = true;
        desired_changed = desired_changed || t->notify_host;
      }
    }
    if (changed) changes.instances[r.instance_id()] = r;
    if (obs.ebs_disks_known()) ApplyEbsReportLocked(obs, changes);
  }
  MC_RETURN_IF_ERROR(
      Annotate(state_.CommitLocked(changes), absl::StrCat("apply status of host ", req.host_id())));
  if (desired_changed) state_.BumpGenerationLocked(req.host_id());
  return absl::OkStatus();
}

std::map<std::string, std::vector<v1::DesiredEbsDisk>> FleetService::EbsDisksOnHostLocked(
    const std::string& host_id, std::set<std::string>& unready) const {
  std::map<std::string, std::vector<v1::DesiredEbsDisk>> out;
  for (const auto& [volume_id, v] : state_.volumes()) {
    for (const auto& a : v.attachments()) {
      if (a.state() == v1::ATTACHMENT_STATE_ATTACHING && a.nbd_host().empty()) {
        // Not made yet (`creating`; `error` ends the launch), or made and not exported yet:
        // volumes are exported only once made.
        unready.insert(a.instance_id());
      }
      // Attaching or attached with an export: the host keeps the disk. Detaching or detached:
      // it leaves the desired state, and the host unplugs it.
      if (a.nbd_host().empty() || (a.state() != v1::ATTACHMENT_STATE_ATTACHING &&
                                   a.state() != v1::ATTACHMENT_STATE_ATTACHED)) {
        continue;
      }
      auto inst = state_.instances().find(a.instance_id());
      if (inst == state_.instances().end() || inst->second.host_id() != host_id) continue;
      v1::DesiredEbsDisk d;
      d.set_volume_id(volume_id);
      d.set_device(a.device());
      d.set_target_dev(a.target_dev());
      d.set_nbd_host(a.nbd_host());
      d.set_nbd_port(a.nbd_port());
      d.set_export_name(a.export_name());
      d.set_nbd_tls(a.nbd_tls());
      d.set_nbd_tls_hostname(a.nbd_tls_hostname());
      d.set_volume_type(v.volume_type());
      d.set_size_gib(v.size_gib());
      d.set_iops(v.iops());
      d.set_throughput(v.throughput());
      if (v.encrypted()) {
        // The host decrypts (EC2's model); without the key it cannot attach, so a key that
        // does not open leaves the disk out of the desired state, logged without key material.
        absl::StatusOr<std::string> key =
            volume_keys_ != nullptr ? volume_keys_->Open(v.sealed_data_key(), v.data_key_id())
                                    : absl::FailedPreconditionError("no key store");
        if (!key.ok()) {
          spdlog::error("volume {}: not given to host {}: {}", volume_id, host_id,
                        key.status().message());
          continue;
        }
        d.set_luks_key(*std::move(key));
      }
      out[a.instance_id()].push_back(std::move(d));
    }
  }
  return out;
}

void FleetService::ApplyEbsReportLocked(const v1::ObservedInstance& obs,
                                        CloudState::Changes& changes) {
  std::map<std::string, const v1::ObservedEbsDisk*> seen;
  for (const auto& d : obs.ebs_disks()) seen[d.volume_id()] = &d;
  for (const auto& [volume_id, v] : state_.volumes()) {
    bool mine = false;
    for (const auto& a : v.attachments()) mine = mine || a.instance_id() == obs.instance_id();
    if (!v.hibernation_state_of().empty()) mine = false;  // not a guest disk: never reported
    if (!mine) continue;
    v1::VolumeRecord next = changes.volumes.contains(volume_id) ? changes.volumes[volume_id] : v;
    bool changed = false;
    for (auto& a : *next.mutable_attachments()) {
      if (a.instance_id() != obs.instance_id()) continue;
      auto it = seen.find(volume_id);
      const bool present = it != seen.end() && it->second->attached();
      const std::string error = it != seen.end() ? it->second->error() : "";
      if (error != a.error_message()) {
        if (!error.empty()) {
          spdlog::warn("{} on {}: {}", volume_id, obs.instance_id(), error);
        }
        a.set_error_message(error);
        changed = true;
      }
      std::optional<lifecycle::AttachmentEvent> event;
      if (present && a.state() == v1::ATTACHMENT_STATE_ATTACHING) {
        event = lifecycle::AttachmentEvent::kHostAttached;
      } else if (!present && a.state() == v1::ATTACHMENT_STATE_DETACHING) {
        event = lifecycle::AttachmentEvent::kHostDetached;
      }
      if (!event) continue;
      auto t = lifecycle::Apply(volume_id, a.state(), *event);
      if (!t.ok()) continue;
      a.set_state(*t);
      changed = true;
    }
    if (changed) changes.volumes[volume_id] = next;
  }
}

v1::DesiredState FleetService::DesiredLocked(const std::string& host_id, std::vector<int>& to_sign,
                                             std::vector<std::string>& forget) const {
  v1::DesiredState d;
  auto rt = state_.host_runtime().find(host_id);
  d.set_generation(rt == state_.host_runtime().end() ? 0 : rt->second.generation);
  if (auto host = state_.hosts().find(host_id); host != state_.hosts().end()) {
    *d.mutable_allocatable() = AllocatableCapacity(host->second.capacity(), state_.config());
  }
  std::set<std::string> unready;
  const auto disks = EbsDisksOnHostLocked(host_id, unready);
  for (const std::string& id : state_.index().InstancesOn(host_id)) {
    const v1::InstanceRecord& r = state_.instances().at(id);
    // Terminated instances stay listed (as TERMINATED) until purged, so a host that was away
    // during termination still cleans up.
    auto* di = d.add_instances();
    di->set_instance_id(id);
    di->set_goal(r.goal());
    *di->mutable_image() = state_.BootImageOf(r);
    di->set_vcpus(r.vcpus());
    di->set_memory_mib(r.memory_mib());
    di->set_smbios_uuid(r.smbios_uuid());
    di->set_instance_type(r.instance_type());
    di->set_boot_count(r.boot_count());
    di->set_force_stop(r.force_stop());
    di->set_reboot_count(r.reboot_count());
    // Hibernation: save on this stop, restore on this boot (lifecycle.h decides both).
    di->set_hibernate(r.hibernate_requested());
    di->set_resume(r.resume_requested() && r.hibernated_time_ms() != 0);
    di->set_saved_state_bytes(r.saved_state_bytes());
    if (r.goal() == v1::DESIRED_GOAL_TERMINATED) {
      forget.push_back(id);  // its identity is not needed again
      continue;              // the agent needs only the id
    }
    if (!r.placement_group().empty()) {
      di->set_placement_group(r.placement_group());
      di->set_partition_number(r.partition_number());
      auto g = state_.placement_groups().find(r.placement_group());
      if (g != state_.placement_groups().end()) {
        di->set_placement_strategy(g->second.strategy());
        di->set_spread_level(g->second.spread_level());
      }
    }
    *di->mutable_network() = r.network();
    *di->mutable_instance_store() = r.instance_store();
    *di->mutable_metadata() = BuildGuestMetadata(r, {.vpc_cidr = state_.config().vpc_cidr});
    if (!r.root_volume_id().empty()) {
      // EBS-backed: the host boots from the root volume once it is exported (until then the
      // root disk has no endpoint and the host waits).
      di->set_ebs_root(true);
      di->mutable_root_disk()->set_volume_id(r.root_volume_id());
      di->mutable_root_disk()->set_target_dev("vda");
      di->mutable_root_disk()->set_device(r.root_device_name());
    }
    // A boot waits until every volume it was given is made and exported, as EC2 starts no
    // instance without the disks of its block device mapping: until then the host gets none of
    // its disks and is told to wait (volumes_pending), whether the root is EBS or local. A
    // volume that cannot be made, or that its zone's service refuses to export, ends the launch
    // instead (VolumeService::FailLaunchesLocked, FinishExport). Only a pending boot waits: the
    // disks of a running guest never leave its desired state.
    const bool waits = r.state() == v1::INSTANCE_STATE_CODE_PENDING && unready.contains(id);
    di->set_volumes_pending(waits);
    if (auto it = disks.find(id); it != disks.end() && !waits) {
      for (const auto& disk : it->second) {
        if (disk.volume_id() == r.root_volume_id()) {
          *di->mutable_root_disk() = disk;
        } else if (disk.volume_id() == r.hibernation_volume_id()) {
          *di->mutable_hibernation_disk() = disk;
        } else {
          *di->add_ebs_disks() = disk;
        }
      }
    }
    if (r.identity_signature().empty()) to_sign.push_back(d.instances_size() - 1);
  }
  return d;
}

absl::StatusOr<v1::DesiredState> FleetService::WatchDesired(
    const v1::WatchDesiredRequest& req, const std::function<bool()>& cancelled) {
  MC_RETURN_IF_ERROR(CheckId(IdKind::kHost, req.host_id()));
  const auto wait = std::chrono::milliseconds(std::clamp(req.max_wait_ms(), 0, kMaxWatchMs));
  std::unique_lock<std::mutex> lock(state_.mu());
  if (!state_.hosts().contains(req.host_id())) {
    return absl::NotFoundError(absl::StrCat("host ", req.host_id(), " is not registered"));
  }
  auto changed = [&] {
    return watches_stopped_ || state_.GenerationLocked(req.host_id()) != req.known_generation();
  };
  if (wait.count() > 0 && !changed()) {
    auto for_host = waiting_by_host_.find(req.host_id());
    const int host_waiting = for_host == waiting_by_host_.end() ? 0 : for_host->second;
    if (waiting_ >= watch_limits_.max_waiting ||
        host_waiting >= watch_limits_.max_waiting_per_host) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "too many WatchDesired calls waiting (", waiting_, " of at most ",
          watch_limits_.max_waiting, ", ", host_waiting, " of at most ",
          watch_limits_.max_waiting_per_host, " for host ", req.host_id(), "); retry later"));
    }
    ++waiting_;
    ++waiting_by_host_[req.host_id()];
    // Woken by a change; the caller's cancellation is looked at every kCancelPoll.
    const auto deadline = std::chrono::steady_clock::now() + wait;
    bool gone = false;
    for (auto now = std::chrono::steady_clock::now(); now < deadline;
         now = std::chrono::steady_clock::now()) {
      if (state_.desired_changed().wait_until(lock, std::min(deadline, now + kCancelPoll),
                                              changed)) {
        break;
      }
      if (cancelled && cancelled()) {
        gone = true;
        break;
      }
    }
    --waiting_;
    // Looked up again: other hosts' entries may have come and gone while this call waited.
    if (--waiting_by_host_[req.host_id()] == 0) waiting_by_host_.erase(req.host_id());
    if (gone) {
      return absl::CancelledError(
          absl::StrCat("WatchDesired of host ", req.host_id(), ": the caller went away"));
    }
  }
  state_.SyncLocked();  // agents only ever see durable records
  std::vector<int> to_sign;
  std::vector<std::string> forget;
  v1::DesiredState d = DesiredLocked(req.host_id(), to_sign, forget);
  lock.unlock();
  MC_RETURN_IF_ERROR(SignIdentities(d, to_sign, forget));
  return d;
}

void FleetService::StopWatches() {
  {
    std::lock_guard<std::mutex> lock(state_.mu());
    watches_stopped_ = true;
  }
  state_.desired_changed().notify_all();
}

int FleetService::WaitingWatches() {
  std::lock_guard<std::mutex> lock(state_.mu());
  return waiting_;
}

absl::Status FleetService::SignIdentities(v1::DesiredState& d, const std::vector<int>& to_sign,
                                          const std::vector<std::string>& forget) {
  {
    std::lock_guard<std::mutex> lock(signed_mu_);
    for (const auto& id : forget) signed_.erase(id);
  }
  for (int i : to_sign) {
    v1::DesiredInstance* di = d.mutable_instances(i);
    v1::GuestMetadata* m = di->mutable_metadata();
    if (m->identity_document().empty()) continue;  // a record from before documents existed
    SignedIdentity identity;
    bool cached = false;
    {
      std::lock_guard<std::mutex> lock(signed_mu_);
      auto it = signed_.find(di->instance_id());
      if (it != signed_.end() && it->second.document == m->identity_document()) {
        identity = it->second;
        cached = true;
      }
    }
    if (!cached) {
      auto s = signer_.Sign(m->identity_document());
      if (!s.ok()) {
        return Annotate(s.status(), absl::StrCat("sign the identity of ", di->instance_id()));
      }
      identity = std::move(*s);
      std::lock_guard<std::mutex> lock(signed_mu_);
      signed_[di->instance_id()] = identity;
    }
    ApplySignedIdentity(identity, *m);
  }
  return absl::OkStatus();
}

absl::Status FleetService::Reconcile() {
  const absl::Time now = clock_.Now();
  const auto& cfg = state_.config();
  std::lock_guard<std::mutex> lock(state_.mu());
  CloudState::Changes changes;
  std::set<std::string> touched;
  const lifecycle::Timeouts timeouts{cfg.launch_timeout, cfg.terminated_retention};
  for (const auto& [id, r] : state_.instances()) {
    // The first due event that changes the instance wins; the next pass sees the result.
    for (const lifecycle::Event& event :
         lifecycle::DueEvents(r, state_.hosts().contains(r.host_id()), now, timeouts)) {
      auto applied = lifecycle::Apply(lifecycle::InstanceLifecycle::Of(r), event, now);
      if (!applied.ok()) {
        spdlog::warn("reconcile {}: {}", id, applied.status().message());
        break;
      }
      const lifecycle::Transition& t = *applied;
      if (!t.changed) continue;
      if (event.kind == lifecycle::EventKind::kLaunchTimedOut) {
        spdlog::warn("{} of {} on {} timed out", r.boot_count() > 1 ? "start" : "launch", id,
                     r.host_id());
      }
      if (t.notify_host) touched.insert(r.host_id());
      if (t.purge) {
        changes.deleted_instances.push_back(id);
      } else {
        v1::InstanceRecord c = r;
        lifecycle::Record(t, c);
        changes.instances[id] = std::move(c);
      }
      break;
    }
  }
  MC_RETURN_IF_ERROR(Annotate(state_.CommitLocked(changes), "reconcile"));
  for (const auto& h : touched) state_.BumpGenerationLocked(h);
  return absl::OkStatus();
}

}  // namespace minicloud::controller
