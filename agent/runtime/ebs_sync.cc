#include "agent/runtime/ebs_sync.h"

#include "absl/strings/str_cat.h"
#include "agent/hypervisor/ebs_disk.h"
#include "common/volume_limits.h"

namespace minicloud::agent {
namespace {

constexpr char kRootTarget[] = "vda";  // DesiredInstance.root_disk's target

bool InPlace(const v1::DesiredEbsDisk& d, const std::vector<hypervisor::AttachedEbsDisk>& have) {
  for (const auto& h : have) {
    if (h.target_dev == d.target_dev() && h.export_name == d.export_name()) return true;
  }
  return false;
}

}  // namespace

absl::StatusOr<volumes::IoTune> LimitsOf(const v1::DesiredEbsDisk& d) {
  absl::StatusOr<volumes::VolumeType> type = volumes::ParseVolumeType(d.volume_type());
  if (!type.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(d.volume_id(), ": volume type: ", type.status().message()));
  }
  return volumes::IoTuneOf(*type, d.size_gib(), {d.iops(), d.throughput()});
}

EbsPlan PlanEbsDisks(const google::protobuf::RepeatedPtrField<v1::DesiredEbsDisk>& want,
                     const std::vector<hypervisor::AttachedEbsDisk>& have,
                     const std::map<std::string, volumes::IoTune>& limits_set) {
  EbsPlan plan;
  for (const auto& h : have) {
    bool wanted = false;
    for (const auto& d : want) {
      wanted = wanted || (h.target_dev == d.target_dev() && h.export_name == d.export_name());
    }
    if (!wanted) plan.detach.push_back(h.target_dev);
  }
  for (const auto& d : want) {
    // The root comes with the domain, never by hot-plug: it is plugged when the domain starts
    // (a shut-off domain has no EBS disks at all).
    if (d.target_dev() != kRootTarget && !InPlace(d, have)) plan.attach.push_back(d);
  }
  for (const auto& d : want) {
    if (!InPlace(d, have)) continue;
    absl::StatusOr<volumes::IoTune> io = LimitsOf(d);
    if (!io.ok()) continue;  // ToEbsDisk refused it at the plug already
    auto set = limits_set.find(d.target_dev());
    if (set == limits_set.end() || !(set->second == *io)) {
      plan.limits.push_back({d.target_dev(), *io});
    }
  }
  for (const auto& d : want) {
    const int64_t bytes = d.size_gib() << 30;
    for (const auto& h : have) {
      if (h.target_dev == d.target_dev() && h.export_name == d.export_name() && h.size_bytes > 0 &&
          h.size_bytes < bytes) {
        plan.grow.push_back({h.target_dev, bytes});
      }
    }
  }
  return plan;
}

google::protobuf::RepeatedPtrField<v1::DesiredEbsDisk> WantedEbsDisks(
    const v1::DesiredInstance& want) {
  google::protobuf::RepeatedPtrField<v1::DesiredEbsDisk> out = want.ebs_disks();
  if (want.ebs_root() && !want.root_disk().nbd_host().empty()) *out.Add() = want.root_disk();
  return out;
}

absl::StatusOr<hypervisor::EbsDisk> ToEbsDisk(const v1::DesiredEbsDisk& d, bool boot) {
  absl::StatusOr<volumes::IoTune> iotune = LimitsOf(d);
  if (!iotune.ok()) return iotune.status();
  hypervisor::EbsDisk disk;
  disk.volume_id = d.volume_id();
  disk.nbd_host = d.nbd_host();
  disk.nbd_port = d.nbd_port();
  disk.export_name = d.export_name();
  disk.nbd_tls = d.nbd_tls();
  disk.nbd_tls_hostname = d.nbd_tls_hostname();
  disk.target_dev = d.target_dev();
  disk.boot = boot;
  disk.luks_key = d.luks_key();
  disk.iotune = *iotune;
  disk.size_bytes = d.size_gib() << 30;
  if (absl::Status s = hypervisor::ValidateEbsDisk(disk); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(d.volume_id(), ": ", s.message()));
  }
  return disk;
}

std::vector<v1::ObservedEbsDisk> ObserveEbsDisks(
    const google::protobuf::RepeatedPtrField<v1::DesiredEbsDisk>& want,
    const std::vector<hypervisor::AttachedEbsDisk>& have,
    const std::map<std::string, std::string>& errors_by_volume) {
  std::vector<v1::ObservedEbsDisk> out;
  auto error_of = [&](const std::string& volume_id) {
    auto it = errors_by_volume.find(volume_id);
    return it == errors_by_volume.end() ? std::string() : it->second;
  };
  for (const auto& d : want) {
    v1::ObservedEbsDisk o;
    o.set_volume_id(d.volume_id());
    o.set_target_dev(d.target_dev());
    o.set_attached(InPlace(d, have));
    o.set_error(error_of(d.volume_id()));
    out.push_back(std::move(o));
  }
  for (const auto& h : have) {
    bool listed = false;
    for (const auto& d : want) listed = listed || d.export_name() == h.export_name;
    if (listed) continue;
    // The volume service names its export after the volume.
    v1::ObservedEbsDisk o;
    o.set_volume_id(h.export_name);
    o.set_target_dev(h.target_dev);
    o.set_attached(true);
    o.set_error(error_of(h.export_name));
    out.push_back(std::move(o));
  }
  return out;
}

}  // namespace minicloud::agent

// Agent::SyncEbsDisks: the hypervisor side of the pure plan above.
#include "agent/runtime/agent.h"
#include "common/logging.h"

namespace minicloud::agent {
namespace {

// A guest that has not released a hot-unplugged disk is asked again after this long.
constexpr int64_t kDetachReaskMs = 10'000;

}  // namespace

void Agent::SyncEbsDisks() {
  struct Work {
    std::string id;
    google::protobuf::RepeatedPtrField<v1::DesiredEbsDisk> want;
    std::map<std::string, int64_t> detach_asked_ms;
    std::map<std::string, volumes::IoTune> limits_set;
  };
  std::vector<Work> work;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!have_desired_) return;
    for (const auto& want : desired_.instances()) {
      if (want.goal() == v1::DESIRED_GOAL_TERMINATED) continue;
      auto l = local_.find(want.instance_id());
      if (l != local_.end() && l->second.busy) continue;  // a launch, stop or teardown is on
      // EBS disks live in a running guest only: a stopped domain gets them when it starts.
      auto dom = domains_.find(want.instance_id());
      if (dom == domains_.end() || dom->second.state != hypervisor::DomainState::kRunning) {
        if (l != local_.end()) l->second.ebs_known = false;
        continue;
      }
      Work& w = work.emplace_back();
      w.id = want.instance_id();
      w.want = WantedEbsDisks(want);
      if (l != local_.end()) {
        w.detach_asked_ms = l->second.detach_asked_ms;
        w.limits_set = l->second.ebs_limits;
      }
    }
  }
  for (Work& w : work) {
    absl::StatusOr<std::vector<hypervisor::AttachedEbsDisk>> have = hypervisor_.ListEbsDisks(w.id);
    if (!have.ok()) {
      if (have.status().code() != absl::StatusCode::kNotFound) {
        spdlog::warn("EBS disks of {}: {}", w.id, have.status().message());
      }
      continue;
    }
    std::map<std::string, std::string> errors;
    const EbsPlan plan = PlanEbsDisks(w.want, *have, w.limits_set);
    const int64_t now_ms = absl::ToUnixMillis(clock_.Now());
    bool acted = false;
    for (const std::string& target : plan.detach) {
      auto asked = w.detach_asked_ms.find(target);
      if (asked != w.detach_asked_ms.end() && now_ms - asked->second < kDetachReaskMs) continue;
      std::string volume;
      for (const auto& h : *have) {
        if (h.target_dev == target) volume = h.export_name;
      }
      absl::Status s = hypervisor_.DetachDisk(w.id, target);
      acted = true;
      w.detach_asked_ms[target] = now_ms;
      if (!s.ok()) {
        spdlog::error("hot-unplug {} ({}) from {}: {}", volume, target, w.id, s.message());
        errors[volume] = std::string(s.message());
      }
    }
    for (const auto& d : plan.attach) {
      bool target_busy = false;
      for (const auto& h : *have) target_busy = target_busy || h.target_dev == d.target_dev();
      if (target_busy) continue;  // its old disk goes first
      absl::StatusOr<hypervisor::EbsDisk> disk = ToEbsDisk(d);
      absl::Status s = disk.ok() ? hypervisor_.AttachDisk(w.id, *disk) : disk.status();
      acted = true;
      if (!s.ok()) {
        spdlog::error("hot-plug {} into {}: {}", d.volume_id(), w.id, s.message());
        errors[d.volume_id()] = std::string(s.message());
      } else {
        w.limits_set[d.target_dev()] = disk->iotune;
      }
    }
    for (const EbsLimits& l : plan.limits) {
      absl::Status s = hypervisor_.SetDiskLimits(w.id, l.target_dev, l.iotune);
      if (s.ok()) {
        w.limits_set[l.target_dev] = l.iotune;
      } else {
        spdlog::error("I/O limits of {} of {}: {}", l.target_dev, w.id, s.message());
      }
    }
    for (const EbsGrow& g : plan.grow) {
      absl::Status s = hypervisor_.GrowDisk(w.id, g.target_dev, g.bytes);
      acted = true;
      if (s.code() == absl::StatusCode::kFailedPrecondition) {
        // The volume service has not re-created the export larger yet: next pass.
        spdlog::info("grow {} of {}: {}", g.target_dev, w.id, s.message());
      } else if (!s.ok()) {
        spdlog::error("grow {} of {}: {}", g.target_dev, w.id, s.message());
      }
    }
    if (acted) {
      if (auto again = hypervisor_.ListEbsDisks(w.id); again.ok()) have = std::move(again);
    }
    // Targets that are free again need no more unplug requests, and their limits are gone.
    auto held = [&](const std::string& target) {
      for (const auto& h : *have) {
        if (h.target_dev == target) return true;
      }
      return false;
    };
    std::erase_if(w.detach_asked_ms, [&](const auto& e) { return !held(e.first); });
    std::erase_if(w.limits_set, [&](const auto& e) { return !held(e.first); });
    std::vector<v1::ObservedEbsDisk> observed = ObserveEbsDisks(w.want, *have, errors);
    std::lock_guard<std::mutex> lock(mu_);
    LocalInstance& l = local_[w.id];
    bool changed = !l.ebs_known || l.ebs.size() != observed.size();
    for (size_t i = 0; !changed && i < observed.size(); ++i) {
      changed = observed[i].SerializeAsString() != l.ebs[i].SerializeAsString();
    }
    l.ebs_known = true;
    l.ebs = std::move(observed);
    l.ebs_errors = std::move(errors);
    l.detach_asked_ms = std::move(w.detach_asked_ms);
    l.ebs_limits = std::move(w.limits_set);
    if (changed) {
      report_due_ = true;
      cv_.notify_all();
    }
  }
}

}  // namespace minicloud::agent
