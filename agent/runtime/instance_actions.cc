// The agent's actions on one instance, each run on a worker thread the reconcile loop spawns
// (agent.cc): launch (admission, AMI file, disk, domain), reboot, graceful or forced stop, and
// teardown. Each ends by recording what it observed (Agent::Finish).
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "agent/runtime/admission.h"
#include "agent/runtime/agent.h"
#include "agent/runtime/ebs_sync.h"
#include "agent/runtime/hibernation.h"
#include "agent/runtime/instance_store.h"
#include "agent/runtime/nbd_client_tls.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "common/storage/qcow2.h"

namespace minicloud::agent {
namespace fs = std::filesystem;

namespace {

int64_t NowMs(const Clock& clock) { return absl::ToUnixMillis(clock.Now()); }

HibernationIo HibernationIoOf(const AgentConfig& config) {
  return {.scratch_dir = config.hibernation_scratch_dir,
          .qemu_img = config.qemu_img,
          .nbd_tls_dir = NbdClientTlsDir(config.state_dir)};
}

// When a graceful stop of boot `boot_count` began (Unix ms), kept next to the disk so an agent
// restarted during the stop keeps the original deadline instead of starting a new one.
constexpr char kStopStartedFile[] = "/stop_started";

int64_t StopStartedMs(const std::string& path, int boot_count) {
  std::ifstream f(path);
  int boot = 0;
  int64_t ms = 0;
  return f >> boot >> ms && boot == boot_count ? ms : 0;
}

}  // namespace

void Agent::RunLaunch(v1::DesiredInstance want) {
  const std::string id = want.instance_id();
  v1::LaunchTimeline timeline;
  timeline.set_received_ms(NowMs(clock_));
  // A refusal by the host's re-check travels as its own kind: the controller reports it as a
  // capacity problem, not an internal error.
  v1::BootFailure failure = v1::BOOT_FAILURE_ADMISSION;
  absl::Status s = Admit(want);
  if (s.ok()) {
    failure = v1::BOOT_FAILURE_ERROR;
    s = Launch(want, timeline);
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    local_[id].timeline = timeline;
  }
  if (s.ok()) {
    spdlog::info("{} started ({} ms after receipt, boot {})", id,
                 timeline.domain_started_ms() - timeline.received_ms(), want.boot_count());
    {
      std::lock_guard<std::mutex> lock(mu_);
      local_[id].booted = want.boot_count();
      // Until the next List() the domain is known to run: re-checks of other boots count it.
      domains_[id] = hypervisor::DomainInfo{id, hypervisor::DomainState::kRunning};
    }
    if (absl::StatusOr<std::string> dir = InstanceDir(id); dir.ok()) {
      std::ofstream(*dir + "/boot_count") << want.boot_count() << "\n";
    }
    // A fresh boot is every reboot asked for before it.
    RecordRebooted(id, want.reboot_count());
    Finish(id, v1::OBSERVED_STATE_RUNNING, "");
    return;
  }
  spdlog::error("launch {} (boot {}): {}", id, want.boot_count(), s.message());
  {
    std::lock_guard<std::mutex> lock(mu_);
    local_[id].failed_boot = want.boot_count();
  }
  if (want.boot_count() > 1) {
    // A failed start of a stopped instance keeps its root disk; the domain is defined again by
    // the next start.
    if (auto d = hypervisor_.StopDomain(id, hypervisor::StopMode::kForce);
        !d.ok() && d.code() != absl::StatusCode::kNotFound) {
      spdlog::error("power off {}: {}", id, d.message());
    }
    Finish(id, v1::OBSERVED_STATE_FAILED, std::string(s.message()), failure);
    return;
  }
  // A failed first launch leaves nothing behind: no domain, no overlay.
  if (auto d = hypervisor_.Destroy(id); !d.ok()) spdlog::error("clean up {}: {}", id, d.message());
  {
    std::lock_guard<std::mutex> lock(mu_);
    ForgetMetadataLocked(id);
  }
  {
    std::lock_guard<std::mutex> lock(network_mu_);
    if (network_) {
      if (auto r = network_->RemoveInstance(id); !r.ok()) spdlog::error("{}", r.message());
    }
  }
  if (absl::StatusOr<std::string> dir = InstanceDir(id); dir.ok()) {
    std::error_code ec;
    fs::remove_all(*dir, ec);
  } else {
    spdlog::error("clean up {}: {}", id, dir.status().message());
  }
  Finish(id, v1::OBSERVED_STATE_FAILED, std::string(s.message()), failure);
}

absl::Status Agent::Admit(const v1::DesiredInstance& want) {
  std::lock_guard<std::mutex> lock(mu_);
  MC_RETURN_IF_ERROR(CheckAdmission(want, desired_, domains_, local_));
  local_[want.instance_id()].admitted = true;  // counted by concurrent boots' re-checks from now on
  return absl::OkStatus();
}

absl::Status Agent::Launch(const v1::DesiredInstance& want, v1::LaunchTimeline& timeline) {
  const std::string& id = want.instance_id();
  const v1::BootImage& image = want.image();
  // An EBS-backed instance boots from its root volume over NBD: the AMI's disk is not needed
  // on this host (its kernel and initramfs are, for a direct kernel boot).
  const bool ebs_root = want.ebs_root();
  std::string base;
  if (!ebs_root) {
    MC_ASSIGN_OR_RETURN(base, EnsureBlob(image.sha256(), image.size_bytes()));
  }
  std::string kernel, initrd;
  if (!image.kernel_sha256().empty()) {
    MC_ASSIGN_OR_RETURN(kernel, EnsureBlob(image.kernel_sha256(), image.kernel_size_bytes()));
  }
  if (!image.ramdisk_sha256().empty()) {
    MC_ASSIGN_OR_RETURN(initrd, EnsureBlob(image.ramdisk_sha256(), image.ramdisk_size_bytes()));
  }
  timeline.set_image_ready_ms(NowMs(clock_));

  MC_ASSIGN_OR_RETURN(const std::string dir, InstanceDir(id));
  std::error_code ec;
  MC_RETURN_IF_ERROR(config_.qemu_account.ShareDirectory(dir));
  const std::string root = ebs_root ? "" : dir + "/root.qcow2";
  if (!ebs_root && !fs::exists(root, ec)) {
    storage::OverlaySpec overlay;
    overlay.backing_path = base;
    overlay.overlay_path = root;
    MC_RETURN_IF_ERROR(Annotate(storage::CreateOverlay(overlay), "create root disk"));
  }
  if (!ebs_root) {
    MC_RETURN_IF_ERROR(Annotate(config_.qemu_account.ShareWritable(root), "root disk"));
  }
  // Instance store: empty at every boot; a domain that already runs (an agent restarted after
  // starting it) keeps the volumes it has.
  MC_ASSIGN_OR_RETURN(const std::vector<InstanceStoreFile> store, PlanInstanceStore(want, dir));
  if (!store.empty()) {
    absl::StatusOr<hypervisor::DomainInfo> current = hypervisor_.Get(id);
    const bool runs = current.ok() && current->state == hypervisor::DomainState::kRunning;
    MC_RETURN_IF_ERROR(CreateInstanceStore(store, /*fresh=*/!runs));
    for (const InstanceStoreFile& f : store) {
      MC_RETURN_IF_ERROR(
          Annotate(config_.qemu_account.ShareWritable(f.disk.path), "instance store"));
    }
  }
  timeline.set_disk_ready_ms(NowMs(clock_));

  hypervisor::DomainSpec spec;
  spec.instance_id = id;
  spec.smbios_uuid = want.smbios_uuid();
  spec.smbios_serial = want.smbios_uuid();
  spec.vcpus = want.vcpus();
  spec.memory_mib = want.memory_mib();
  spec.accelerator = config_.accelerator;
  spec.root_disk = root;
  spec.kernel = kernel;
  spec.initrd = initrd;
  spec.kernel_cmdline = image.kernel_command_line();
  spec.console_log = dir + "/console.log";
  if (ebs_root) {
    // Without its root there is nothing to boot: unlike a data volume, a refusal fails the boot.
    MC_ASSIGN_OR_RETURN(hypervisor::EbsDisk disk, ToEbsDisk(want.root_disk(), /*boot=*/true));
    spec.ebs_disks.push_back(std::move(disk));
  }
  for (const auto& d : want.ebs_disks()) {
    // A disk the hypervisor cannot take does not stop the boot: it is reported as the
    // attachment's error (SyncEbsDisks tries it again while the instance runs).
    absl::StatusOr<hypervisor::EbsDisk> disk = ToEbsDisk(d);
    if (disk.ok()) {
      spec.ebs_disks.push_back(std::move(*disk));
    } else {
      spdlog::error("launch {}: EBS disk left out: {}", id, disk.status().message());
    }
  }
  for (const InstanceStoreFile& f : store) spec.instance_store.push_back(f.disk);
  if (want.has_network() && !want.network().private_ip().empty()) {
    MC_ASSIGN_OR_RETURN(network::HostNetwork * net,
                        EnsureNetwork(want.network().subnet_cidr(), want.metadata().vpc_cidr()));
    network::InstanceNic nic;
    nic.instance_id = id;
    nic.mac = want.network().mac();
    nic.ip = want.network().private_ip();
    MC_ASSIGN_OR_RETURN(nic.tap, network::TapName(id));
    nic.hostname =
        want.network().private_dns_name().substr(0, want.network().private_dns_name().find('.'));
    MC_RETURN_IF_ERROR(Annotate(net->AddInstance(nic), "attach to host network"));
    spec.interfaces.push_back({net->bridge(), nic.mac, nic.tap});
  }
  {
    // Metadata is served before the guest starts asking for it.
    // Kept for re-adoption; without the volumes' LUKS keys: they never touch this disk.
    v1::DesiredInstance kept = want;
    for (auto& d : *kept.mutable_ebs_disks()) d.clear_luks_key();
    kept.mutable_root_disk()->clear_luks_key();
    kept.mutable_hibernation_disk()->clear_luks_key();
    std::ofstream saved(dir + "/desired.pb", std::ios::binary | std::ios::trunc);
    if (!saved || !kept.SerializeToOstream(&saved)) {
      return absl::InternalError(absl::StrCat("write ", dir, "/desired.pb"));
    }
    std::lock_guard<std::mutex> lock(mu_);
    MC_RETURN_IF_ERROR(PublishMetadataLocked(want));
  }
  // A hibernated instance resumes from its saved RAM (hibernation.h); when that cannot be done
  // it boots cold, with its disks as they were (the report says which).
  bool resumed = false;
  if (want.resume() && want.saved_state_bytes() > 0 &&
      !want.hibernation_disk().nbd_host().empty()) {
    absl::StatusOr<hypervisor::DomainInfo> current = hypervisor_.Get(id);
    if (current.ok() && current->state == hypervisor::DomainState::kRunning) {
      resumed = true;  // restored before this agent restarted
    } else {
      absl::Status r = RestoreFromVolume(hypervisor_, spec, want.hibernation_disk(),
                                         want.saved_state_bytes(), HibernationIoOf(config_));
      resumed = r.ok();
      if (!r.ok()) spdlog::error("{}; booting it cold", r.message());
    }
  }
  if (!resumed) MC_RETURN_IF_ERROR(hypervisor_.CreateAndStart(spec));
  RemoveHibernatedNote(dir);  // the saved image is used up (or was passed over)
  {
    std::lock_guard<std::mutex> lock(mu_);
    local_[id].resumed = resumed;
    local_[id].hibernated = false;
  }
  timeline.set_domain_started_ms(NowMs(clock_));
  return absl::OkStatus();
}

absl::StatusOr<std::string> Agent::EnsureBlob(const std::string& sha256, int64_t size) {
  std::lock_guard<std::mutex> blob_lock(blob_mu_);
  std::string path;
  if (auto cached = images_->Lookup(sha256)) {
    path = *cached;
  } else {
    MC_ASSIGN_OR_RETURN(auto writer, images_->BeginWrite(sha256));
    spdlog::info("fetching {} ({} bytes) from the controller", sha256, size);
    v1::FetchBlobRequest req;
    req.set_sha256(sha256);
    req.set_host_id(host_id());
    MC_RETURN_IF_ERROR(controller_.FetchBlob(req, [&](absl::string_view chunk) {
      return writer.Append(std::string_view(chunk.data(), chunk.size()));
    }));
    MC_ASSIGN_OR_RETURN(auto committed, writer.Commit());
    path = committed.path;
  }
  // Read-only to QEMU's account (a backing file, kernel or initrd shared by many guests).
  MC_RETURN_IF_ERROR(Annotate(config_.qemu_account.ShareReadOnly(path), "AMI file"));
  return path;
}

void Agent::RecordRebooted(const std::string& id, int count) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    local_[id].rebooted = count;
  }
  if (absl::StatusOr<std::string> dir = InstanceDir(id); dir.ok()) {
    std::ofstream(*dir + "/reboot_count") << count << "\n";
  }
}

void Agent::RunReboot(v1::DesiredInstance want) {
  const std::string id = want.instance_id();
  absl::Status s = hypervisor_.RebootDomain(id);
  // Done either way: a reboot that cannot happen (the domain went down meanwhile) is not
  // retried; the instance's state speaks for itself in the next report.
  RecordRebooted(id, want.reboot_count());
  if (s.ok()) {
    spdlog::info("{} rebooted (reboot {})", id, want.reboot_count());
  } else {
    spdlog::warn("reboot {} (reboot {}): {}", id, want.reboot_count(), s.message());
  }
  std::string message;
  v1::ObservedState state = v1::OBSERVED_STATE_RUNNING;
  {
    std::lock_guard<std::mutex> lock(mu_);
    state = local_[id].state;
    message = local_[id].message;
  }
  Finish(id, state == v1::OBSERVED_STATE_UNSPECIFIED ? v1::OBSERVED_STATE_RUNNING : state, message);
}

void Agent::RunStop(v1::DesiredInstance want) {
  const std::string id = want.instance_id();
  bool force = want.force_stop();
  {
    std::lock_guard<std::mutex> lock(mu_);
    local_[id].hibernated = false;
  }
  if (absl::StatusOr<std::string> dir = InstanceDir(id); dir.ok()) RemoveHibernatedNote(*dir);
  if (want.hibernate() && !force && want.hibernation_disk().nbd_host().empty()) {
    // EC2: an instance that cannot hibernate is shut down instead.
    spdlog::warn(
        "hibernate {}: its hibernation volume is not exported to this host yet; "
        "stopping it instead",
        id);
  } else if (want.hibernate() && !force) {
    absl::StatusOr<hypervisor::DomainInfo> d = hypervisor_.Get(id);
    if (d.ok() && d->state == hypervisor::DomainState::kRunning) {
      absl::StatusOr<int64_t> saved =
          SaveToVolume(hypervisor_, id, want.hibernation_disk(), HibernationIoOf(config_));
      if (saved.ok()) {
        absl::StatusOr<std::string> dir = InstanceDir(id);
        absl::Status r = dir.ok() ? RemoveInstanceStore(*dir) : dir.status();
        if (!r.ok()) spdlog::error("hibernate {}: {}", id, r.message());
        r = dir.ok() ? WriteHibernatedNote(*dir, want.boot_count(), *saved) : dir.status();
        if (!r.ok()) spdlog::error("hibernate {}: {}", id, r.message());
        {
          std::lock_guard<std::mutex> lock(mu_);
          local_[id].hibernated = true;
          local_[id].saved_state_bytes = *saved;
        }
        spdlog::info("{} hibernated ({} bytes of saved state)", id, *saved);
        Finish(id, v1::OBSERVED_STATE_SHUTOFF, "");
        return;
      }
      // EC2: an instance that cannot hibernate is shut down instead.
      spdlog::warn("{}; stopping it instead", saved.status().message());
    }
  }
  absl::Status s = hypervisor_.StopDomain(
      id, force ? hypervisor::StopMode::kForce : hypervisor::StopMode::kGraceful);
  // The guest's time to shut down counts from the first power button press of this boot, also
  // when an earlier agent pressed it and was restarted during the wait.
  absl::StatusOr<std::string> dir = InstanceDir(id);
  if (!dir.ok()) {
    spdlog::error("stop {}: {}", id, dir.status().message());
    Finish(id, v1::OBSERVED_STATE_UNSPECIFIED, std::string(dir.status().message()));
    return;
  }
  const std::string started_file = *dir + kStopStartedFile;
  const int64_t now_ms = NowMs(clock_);
  int64_t started_ms = StopStartedMs(started_file, want.boot_count());
  if (started_ms == 0 || started_ms > now_ms) {
    started_ms = now_ms;
    std::ofstream(started_file) << want.boot_count() << " " << started_ms << "\n";
  } else {
    spdlog::info("{}: its stop began {} ms ago", id, now_ms - started_ms);
  }
  // Wait for the guest to power itself off; power it off when it does not within the timeout,
  // or as soon as the controller asks for a forced stop.
  const auto poll = std::chrono::milliseconds(250);
  for (int64_t waited_ms = now_ms - started_ms; s.ok() && !force; waited_ms += poll.count()) {
    auto d = hypervisor_.Get(id);
    if (!d.ok() || d->state == hypervisor::DomainState::kShutoff ||
        d->state == hypervisor::DomainState::kCrashed) {
      break;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (const auto& w : desired_.instances()) {
        if (w.instance_id() == id) force = w.force_stop() || w.goal() != v1::DESIRED_GOAL_STOPPED;
      }
    }
    if (force || waited_ms >= config_.stop_timeout_ms) {
      if (!force) {
        spdlog::warn("{} did not shut down within {} ms; powering it off", id,
                     config_.stop_timeout_ms);
      }
      force = true;
      s = hypervisor_.StopDomain(id, hypervisor::StopMode::kForce);
      break;
    }
    if (!Sleep(poll)) {
      // The agent is stopping and the guest still runs: the next agent carries on.
      spdlog::info("{} is still shutting down; the stop continues when the agent is back", id);
      Finish(id, v1::OBSERVED_STATE_UNSPECIFIED, "");
      return;
    }
  }
  if (!s.ok()) {
    spdlog::error("stop {}: {}", id, s.message());
    Finish(id, v1::OBSERVED_STATE_UNSPECIFIED, std::string(s.message()));  // retried
    return;
  }
  std::error_code ec;
  fs::remove(started_file, ec);
  // A stopped instance's instance store is gone, as on EC2 (the next start creates it empty).
  if (absl::Status r = RemoveInstanceStore(*dir); !r.ok()) {
    spdlog::error("stop {}: {}", id, r.message());
    Finish(id, v1::OBSERVED_STATE_UNSPECIFIED, std::string(r.message()));  // retried
    return;
  }
  spdlog::info("{} stopped{}", id, force ? " (powered off)" : "");
  Finish(id, v1::OBSERVED_STATE_SHUTOFF, "");
}

void Agent::RunTeardown(std::string id) {
  absl::StatusOr<std::string> dir = InstanceDir(id);
  absl::Status s = dir.status();
  if (s.ok()) s = hypervisor_.Destroy(id);
  if (s.ok()) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      ForgetMetadataLocked(id);
      credentials_.erase(id);
    }
    std::lock_guard<std::mutex> lock(network_mu_);
    if (network_) s = Annotate(network_->RemoveInstance(id), "detach from host network");
  }
  std::error_code ec;
  if (s.ok()) fs::remove_all(*dir, ec);
  if (!s.ok() || ec) {
    std::string why = s.ok() ? ec.message() : std::string(s.message());
    spdlog::error("tear down {}: {}", id, why);
    Finish(id, v1::OBSERVED_STATE_UNSPECIFIED, why);  // retried on the next pass
    return;
  }
  spdlog::info("{} destroyed and its disks deleted", id);
  Finish(id, v1::OBSERVED_STATE_ABSENT, "");
}

}  // namespace minicloud::agent
