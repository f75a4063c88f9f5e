#include "agent/runtime/agent.h"

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "agent/runtime/console_log.h"
#include "agent/runtime/desired_check.h"
#include "agent/runtime/guest_metadata.h"
#include "agent/runtime/hibernation.h"
#include "common/file/file_util.h"
#include "common/file/state_path.h"
#include "common/ids.h"
#include "common/logging.h"
#include "common/status_macros.h"

namespace minicloud::agent {
namespace fs = std::filesystem;

namespace {

constexpr auto kReconcileTick = std::chrono::seconds(1);

// Reads the boot count recorded by the last successful boot (0 if none).
int ReadBootCount(const std::string& path) {
  std::ifstream f(path);
  int n = 0;
  return f >> n ? n : 0;
}

}  // namespace

Agent::Agent(AgentConfig config, hypervisor::Hypervisor& hypervisor, ControllerLink& controller,
             const Clock& clock, NetworkFactory network_factory)
    : config_(std::move(config)),
      hypervisor_(hypervisor),
      controller_(controller),
      clock_(clock),
      network_factory_(std::move(network_factory)) {}

Agent::~Agent() { Stop(); }

absl::StatusOr<std::string> Agent::InstanceDir(const std::string& instance_id) const {
  MC_RETURN_IF_ERROR(CheckId(IdKind::kInstance, instance_id));
  return file::PathUnder(config_.state_dir, {"instances", instance_id});
}

absl::Status Agent::Start() {
  std::error_code ec;
  // QEMU's account searches these (never lists them) to open its guest's files.
  MC_RETURN_IF_ERROR(config_.qemu_account.ShareDirectory(config_.state_dir + "/instances"));
  MC_RETURN_IF_ERROR(config_.qemu_account.ShareDirectory(config_.state_dir + "/images"));
  MC_ASSIGN_OR_RETURN(auto cache, storage::ImageCache::Open(config_.state_dir + "/images"));
  images_ = std::make_unique<storage::ImageCache>(std::move(cache));

  // Host identity survives restarts so the controller keeps its records.
  std::ifstream id_file(config_.state_dir + "/host-id");
  std::string id;
  if (id_file >> id) host_id_ = id;

  // Re-adopt what is already here: running domains and instance directories.
  MC_ASSIGN_OR_RETURN(auto domains, hypervisor_.List());
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& d : domains) domains_[d.instance_id] = d;
    for (const auto& entry : fs::directory_iterator(config_.state_dir + "/instances", ec)) {
      const std::string name = entry.path().filename().string();
      if (absl::Status s = CheckId(IdKind::kInstance, name); !s.ok()) {
        spdlog::warn("{}/instances: not an instance directory, left alone: {}", config_.state_dir,
                     s.message());
        continue;
      }
      LocalInstance& l = local_[name];
      l.has_files = true;
      l.booted = ReadBootCount((entry.path() / "boot_count").string());
      l.rebooted = ReadBootCount((entry.path() / "reboot_count").string());
      // A hibernation this host finished but may not have reported before it restarted.
      l.saved_state_bytes = ReadHibernatedNote(entry.path().string(), l.booted);
      l.hibernated = l.saved_state_bytes > 0;
      // Serve metadata for re-adopted guests even before the controller answers.
      std::ifstream saved(entry.path() / "desired.pb", std::ios::binary);
      v1::DesiredInstance want;
      if (saved && want.ParseFromIstream(&saved) && domains_.contains(want.instance_id())) {
        if (auto s = PublishMetadataLocked(want); !s.ok()) {
          spdlog::error("re-adopt {}: metadata not served: {}", want.instance_id(), s.message());
        }
      }
    }
  }
  // Bring the host network back (bridge, DHCP, anti-spoofing rules) for re-adopted guests.
  std::ifstream subnet_file(config_.state_dir + "/subnet");
  std::string subnet, vpc_cidr;
  if (subnet_file >> subnet) {
    subnet_file >> vpc_cidr;  // absent in files written before the VPC was recorded
    if (auto n = EnsureNetwork(subnet, vpc_cidr); !n.ok()) {
      spdlog::error("{}", n.status().message());
    }
  }
  spdlog::info("agent starting with {} existing domain(s), host id {}", domains.size(),
               host_id_.empty() ? "(new)" : host_id_);
  threads_.emplace_back([this] { WatchLoop(); });
  threads_.emplace_back([this] { ReportLoop(); });
  threads_.emplace_back([this] { ReconcileLoop(); });
  threads_.emplace_back([this] { CredentialsLoop(); });
  return absl::OkStatus();
}

void Agent::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  controller_.CancelWatches();  // the watch loop's long-poll ends now, not at its timeout
  for (auto& t : threads_) t.join();
  threads_.clear();
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return inflight_ == 0; });
}

void Agent::SpawnWorkerLocked(std::function<void()> fn) {
  ++inflight_;
  std::thread([this, fn = std::move(fn)] {
    fn();
    std::lock_guard<std::mutex> lock(mu_);
    --inflight_;
    cv_.notify_all();
  }).detach();
}

std::string Agent::host_id() const {
  std::lock_guard<std::mutex> lock(mu_);
  return host_id_;
}

bool Agent::Sleep(std::chrono::milliseconds d) {
  std::unique_lock<std::mutex> lock(mu_);
  return !cv_.wait_for(lock, d, [this] { return stopping_; });
}

void Agent::Wake() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    reconcile_due_ = true;
    report_due_ = true;
  }
  cv_.notify_all();
}

bool Agent::EnsureRegistered() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (registered_) return true;
  }
  v1::RegisterHostRequest req;
  req.set_host_id(host_id());
  req.set_hostname(config_.hostname);
  req.set_endpoint(advertise_endpoint_);
  *req.mutable_topology() = config_.topology;
  *req.mutable_capacity() = config_.capacity;
  req.set_accelerator(config_.accelerator == hypervisor::Accelerator::kKvm ? v1::ACCELERATOR_KVM
                                                                           : v1::ACCELERATOR_TCG);
  req.set_accelerator_reason(config_.accelerator_reason);
  req.set_agent_version("0.1.0");
  auto resp = controller_.Register(req);
  if (!resp.ok()) {
    spdlog::warn("{}", resp.status().message());
    return false;
  }
  if (absl::Status s = file::WriteFileAtomic(config_.state_dir + "/host-id",
                                             absl::StrCat(resp->host_id(), "\n"), 0600);
      !s.ok()) {
    spdlog::warn("cannot record the host id: {}", s.message());
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (host_id_ != resp->host_id()) spdlog::info("registered as host {}", resp->host_id());
  host_id_ = resp->host_id();
  registered_ = true;
  report_interval_ms_ = resp->report_interval_ms() > 0 ? resp->report_interval_ms() : 2000;
  report_due_ = true;
  cv_.notify_all();
  return true;
}

void Agent::WatchLoop() {
  uint64_t known = 0;
  while (true) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
    }
    if (!EnsureRegistered()) {
      if (!Sleep(std::chrono::milliseconds(config_.retry_ms))) return;
      continue;
    }
    v1::WatchDesiredRequest req;
    req.set_host_id(host_id());
    req.set_known_generation(known);
    req.set_max_wait_ms(config_.watch_wait_ms);
    auto desired = controller_.Watch(req);
    if (!desired.ok()) {
      if (desired.status().code() == absl::StatusCode::kNotFound) {
        std::lock_guard<std::mutex> lock(mu_);
        registered_ = false;  // the controller forgot us: register again
      } else if (desired.status().code() != absl::StatusCode::kCancelled) {  // Stop() cancels
        spdlog::warn("{}", desired.status().message());
      }
      if (!Sleep(std::chrono::milliseconds(config_.retry_ms))) return;
      continue;
    }
    if (desired->generation() != known) {
      known = desired->generation();
      for (const std::string& why : DropMalformedInstances(*desired)) spdlog::error("{}", why);
      std::lock_guard<std::mutex> lock(mu_);
      desired_ = std::move(*desired);
      have_desired_ = true;
      reconcile_due_ = true;
      for (const auto& want : desired_.instances()) {
        if (want.goal() != v1::DESIRED_GOAL_TERMINATED &&
            ip_by_instance_.contains(want.instance_id())) {
          // Options or user data may have changed.
          if (auto s = PublishMetadataLocked(want); !s.ok()) {
            spdlog::error("desired state refused, metadata left as it was: {}", s.message());
          }
        }
      }
      cv_.notify_all();
    }
  }
}

void Agent::ReconcileLoop() {
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, kReconcileTick, [this] { return stopping_ || reconcile_due_; });
      if (stopping_) return;
      reconcile_due_ = false;
    }
    ReconcileOnce();
    SyncEbsDisks();
  }
}

void Agent::ReconcileOnce() {
  auto listed = hypervisor_.List();
  if (!listed.ok()) {
    spdlog::error("list domains: {}", listed.status().message());
    return;
  }
  std::lock_guard<std::mutex> lock(mu_);
  std::map<std::string, hypervisor::DomainInfo> now;
  for (auto& d : *listed) now[d.instance_id] = d;
  bool changed = now.size() != domains_.size();
  for (const auto& [id, d] : now) {
    auto old = domains_.find(id);
    changed = changed || old == domains_.end() || old->second.state != d.state;
  }
  domains_ = std::move(now);
  for (const auto& [id, d] : domains_) {
    if (d.state != hypervisor::DomainState::kRunning) continue;
    absl::StatusOr<std::string> dir = InstanceDir(id);
    if (!dir.ok()) continue;  // not a domain of ours: reported as an orphan below
    auto rotated = RotateConsoleLogIfLarger(*dir + "/console.log", config_.console_log_max_bytes);
    if (!rotated.ok()) spdlog::warn("{}", rotated.status().message());
  }
  if (!have_desired_) return;  // never act before the controller has spoken
  const std::vector<Action> actions = PlanActions(desired_, domains_, local_);
  for (const Action& a : actions) {
    LocalInstance& l = local_[a.instance_id];
    l.busy = true;
    if (a.kind != ActionKind::kTeardown) {
      for (const auto& want : desired_.instances()) {
        if (want.instance_id() != a.instance_id) continue;
        if (a.kind == ActionKind::kLaunch) {
          SpawnWorkerLocked([this, want] { RunLaunch(want); });
        } else if (a.kind == ActionKind::kReboot) {
          SpawnWorkerLocked([this, want] { RunReboot(want); });
        } else {
          SpawnWorkerLocked([this, want] { RunStop(want); });
        }
      }
    } else {
      SpawnWorkerLocked([this, id = a.instance_id] { RunTeardown(id); });
    }
  }
  // Orphans: owned domains the controller does not list. Reported in the log, never touched.
  for (const auto& [id, d] : domains_) {
    bool listed_by_controller = false;
    for (const auto& want : desired_.instances()) {
      listed_by_controller = listed_by_controller || want.instance_id() == id;
    }
    if (!listed_by_controller && !local_[id].busy && local_[id].message != "orphan") {
      spdlog::warn("domain {} is not known to the controller; leaving it alone", id);
      local_[id].message = "orphan";
    }
  }
  if (changed || !actions.empty()) {
    report_due_ = true;
    cv_.notify_all();
  }
}

void Agent::Finish(const std::string& id, v1::ObservedState state, std::string message,
                   v1::BootFailure failure) {
  std::error_code ec;
  absl::StatusOr<std::string> dir = InstanceDir(id);
  bool has_files = dir.ok() && fs::exists(*dir, ec);
  {
    std::lock_guard<std::mutex> lock(mu_);
    LocalInstance& l = local_[id];
    l.busy = false;
    l.admitted = false;
    l.state = state;
    l.message = std::move(message);
    l.failure = failure;
    l.has_files = has_files;
  }
  Wake();
}

v1::ReportStatusRequest Agent::BuildReportLocked(
    const std::map<std::string, hypervisor::DomainInfo>& domains) {
  v1::ReportStatusRequest req;
  req.set_host_id(host_id_);
  for (const auto& want : desired_.instances()) {
    auto d = domains.find(want.instance_id());
    auto l = local_.find(want.instance_id());
    const hypervisor::DomainInfo* domain = d == domains.end() ? nullptr : &d->second;
    const LocalInstance* local = l == local_.end() ? nullptr : &l->second;
    v1::ObservedState state = ObserveInstance(want, domain, local);
    if (state == v1::OBSERVED_STATE_UNSPECIFIED) continue;
    auto* o = req.add_instances();
    o->set_instance_id(want.instance_id());
    o->set_state(state);
    if (local != nullptr) {
      o->set_message(local->message);
      if (state == v1::OBSERVED_STATE_FAILED) o->set_failure(local->failure);
      if (state == v1::OBSERVED_STATE_SHUTOFF && local->hibernated) {
        o->set_hibernated(true);
        o->set_saved_state_bytes(local->saved_state_bytes);
      }
      if (state == v1::OBSERVED_STATE_RUNNING) o->set_resumed(local->resumed);
      if (local->timeline.received_ms() != 0) *o->mutable_timeline() = local->timeline;
      if (local->ebs_known && domain != nullptr) {
        o->set_ebs_disks_known(true);
        for (const auto& e : local->ebs) *o->add_ebs_disks() = e;
      }
    }
  }
  return req;
}

void Agent::ReportLoop() {
  while (true) {
    v1::ReportStatusRequest req;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, std::chrono::milliseconds(report_interval_ms_),
                   [this] { return stopping_ || report_due_; });
      if (stopping_) return;
      report_due_ = false;
      if (!registered_) continue;
      req = BuildReportLocked(domains_);
    }
    auto s = controller_.Report(req);
    if (!s.ok()) {
      if (s.code() == absl::StatusCode::kNotFound) {
        std::lock_guard<std::mutex> lock(mu_);
        registered_ = false;
      }
      spdlog::warn("{}", s.message());
      if (!Sleep(std::chrono::milliseconds(config_.retry_ms))) return;
    }
  }
}

absl::StatusOr<network::HostNetwork*> Agent::EnsureNetwork(const std::string& subnet,
                                                           const std::string& vpc_cidr) {
  std::lock_guard<std::mutex> lock(network_mu_);
  if (network_) {
    if (subnet != network_subnet_) {
      return absl::FailedPreconditionError(
          absl::StrCat("this host serves subnet ", network_subnet_, ", not ", subnet));
    }
    return network_.get();
  }
  if (!network_factory_) return absl::FailedPreconditionError("this agent has no host network");
  MC_ASSIGN_OR_RETURN(auto net, network_factory_(subnet, vpc_cidr));
  MC_RETURN_IF_ERROR(Annotate(net->EnsureBridge(), "set up host network"));
  std::ofstream(config_.state_dir + "/subnet") << subnet << " " << vpc_cidr << "\n";
  spdlog::info("host network {} up for subnet {}", net->bridge(), subnet);
  network_ = std::move(net);
  network_subnet_ = subnet;
  return network_.get();
}

absl::Status Agent::PublishMetadataLocked(const v1::DesiredInstance& want) {
  const std::string& ip = want.network().private_ip();
  if (ip.empty()) return absl::OkStatus();
  // The desired state is input from the network (or from a file on disk): a record the handler
  // cannot serve safely is refused here, and whatever was served before stays.
  MC_ASSIGN_OR_RETURN(metadata::InstanceMetadata converted, ToInstanceMetadata(want));
  if (converted.iam) {
    auto creds = credentials_.find(want.instance_id());
    if (creds != credentials_.end()) converted.iam->credentials = creds->second;
  }
  auto record = std::make_shared<const metadata::InstanceMetadata>(std::move(converted));
  MC_RETURN_IF_ERROR(metadata::ValidateInstanceMetadata(*record));
  ForgetMetadataLocked(want.instance_id());
  metadata_by_ip_[ip] = std::move(record);
  ip_by_instance_[want.instance_id()] = ip;
  return absl::OkStatus();
}

void Agent::ForgetMetadataLocked(const std::string& instance_id) {
  auto it = ip_by_instance_.find(instance_id);
  if (it == ip_by_instance_.end()) return;
  metadata_by_ip_.erase(it->second);
  ip_by_instance_.erase(it);
}

std::shared_ptr<const metadata::InstanceMetadata> Agent::MetadataFor(const std::string& ip) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = metadata_by_ip_.find(ip);
  return it == metadata_by_ip_.end() ? nullptr : it->second;
}

absl::StatusOr<std::string> Agent::ConsoleOutput(const std::string& instance_id,
                                                 int64_t max_bytes) {
  MC_ASSIGN_OR_RETURN(const std::string dir, InstanceDir(instance_id));
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!local_.contains(instance_id) && !domains_.contains(instance_id)) {
      return absl::NotFoundError(absl::StrCat(instance_id, " is not on this host"));
    }
  }
  return ReadConsoleTail(dir + "/console.log", max_bytes);
}

}  // namespace minicloud::agent
