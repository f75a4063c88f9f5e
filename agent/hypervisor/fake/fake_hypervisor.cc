#include "agent/hypervisor/fake/fake_hypervisor.h"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "agent/hypervisor/domain_xml.h"
#include "agent/hypervisor/ebs_disk.h"
#include "common/string_view_compat.h"

namespace minicloud::hypervisor {

std::string_view StopMethodName(StopMethod m) {
  switch (m) {
    case StopMethod::kNone:
      return "none";
    case StopMethod::kAcpi:
      return "acpi";
    case StopMethod::kPowerOff:
      return "power-off";
    case StopMethod::kGuest:
      return "guest";
    case StopMethod::kSaved:
      return "saved";
  }
  return "unknown";
}

FakeHypervisor::FakeHypervisor(HostResources resources) : resources_(resources) {}

absl::Status FakeHypervisor::TakeFailure(std::optional<absl::Status>& slot) {
  if (!slot.has_value()) return absl::OkStatus();
  absl::Status s = std::move(*slot);
  slot.reset();
  return s;
}

absl::Status FakeHypervisor::CreateAndStart(const DomainSpec& wanted) {
  const DomainSpec spec = wanted;
  const std::string context = absl::StrCat("create ", spec.instance_id);
  if (absl::Status s = ValidateDomainSpec(spec); !s.ok()) {
    return absl::Status(s.code(), absl::StrCat(context, ": ", s.message()));
  }
  absl::MutexLock lock(&mu_);
  ++create_calls_;
  if (absl::Status s = TakeFailure(fail_create_); !s.ok()) {
    return absl::Status(s.code(), absl::StrCat(context, ": ", s.message()));
  }
  auto it = domains_.find(spec.instance_id);
  if (it != domains_.end()) {
    if (!it->second.owned) {
      return absl::AlreadyExistsError(
          absl::StrCat(context, ": a domain of that name exists and is not owned by minicloud"));
    }
    // Like libvirt: an active domain (running, paused, or in a transitional state) is left
    // alone; a stopped one is redefined and started.
    if (it->second.state != DomainState::kShutoff && it->second.state != DomainState::kCrashed) {
      return absl::OkStatus();  // idempotent: already there
    }
  }
  // Define (or redefine a stopped owned domain with the new spec), then start.
  Domain& d = domains_[spec.instance_id];
  d.owned = true;
  d.spec = spec;
  d.state = DomainState::kShutoff;
  if (absl::Status s = TakeFailure(fail_start_); !s.ok()) {
    domains_.erase(spec.instance_id);  // a failed create leaves nothing behind
    return absl::Status(s.code(), absl::StrCat(context, ": start: ", s.message()));
  }
  d.state = DomainState::kRunning;
  d.boot_id = ++next_boot_id_;  // a cold boot: a new guest
  ++starts_;
  return absl::OkStatus();
}

namespace {
constexpr char kSavedMagic[] = "MINICLOUD-FAKE-SAVED-STATE";
}  // namespace

absl::Status FakeHypervisor::SaveDomain(std::string_view instance_id, const std::string& path) {
  const std::string context = absl::StrCat("save ", AbslView(instance_id));
  absl::MutexLock lock(&mu_);
  ++saves_waiting_;
  mu_.Await(absl::Condition(
      +[](bool* held) { return !*held; }, &hold_saves_));
  --saves_waiting_;
  if (absl::Status s = TakeFailure(fail_save_); !s.ok()) {
    return absl::Status(s.code(), absl::StrCat(context, ": ", s.message()));
  }
  auto it = domains_.find(instance_id);
  if (it == domains_.end() || !it->second.owned) {
    return absl::NotFoundError(absl::StrCat(context, ": no such domain"));
  }
  Domain& d = it->second;
  if (d.state != DomainState::kRunning) {
    return absl::FailedPreconditionError(absl::StrCat(context, ": domain is not running"));
  }
  std::string image = absl::StrCat(kSavedMagic, "\n", AbslView(instance_id), "\n", d.boot_id, "\n");
  image.resize(std::max<size_t>(image.size(), static_cast<size_t>(d.spec.memory_mib) * 1024), 'R');
  image += "\nEND\n";  // a torn copy lacks it
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out.write(image.data(), static_cast<std::streamsize>(image.size())) || !out.flush()) {
    return absl::InternalError(absl::StrCat(context, ": write ", path));
  }
  d.state = DomainState::kShutoff;
  d.last_stop = StopMethod::kSaved;
  return absl::OkStatus();
}

absl::Status FakeHypervisor::RestoreDomain(const DomainSpec& wanted, const std::string& path) {
  const DomainSpec spec = wanted;
  const std::string context = absl::StrCat("restore ", spec.instance_id);
  if (absl::Status s = ValidateDomainSpec(spec); !s.ok()) {
    return absl::Status(s.code(), absl::StrCat(context, ": ", s.message()));
  }
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string image = ss.str();
  const std::string head = absl::StrCat(kSavedMagic, "\n", spec.instance_id, "\n");
  int64_t boot_id = 0;
  if (!absl::StartsWith(image, head) || !absl::EndsWith(image, "\nEND\n") ||
      !absl::SimpleAtoi(image.substr(head.size(), image.find('\n', head.size()) - head.size()),
                        &boot_id)) {
    return absl::InvalidArgumentError(
        absl::StrCat(context, ": ", path, " is not a saved state of this domain"));
  }
  absl::MutexLock lock(&mu_);
  if (absl::Status s = TakeFailure(fail_restore_); !s.ok()) {
    return absl::Status(s.code(), absl::StrCat(context, ": ", s.message()));
  }
  auto it = domains_.find(spec.instance_id);
  if (it != domains_.end() && !it->second.owned) {
    return absl::AlreadyExistsError(
        absl::StrCat(context, ": a domain of that name exists and is not owned by minicloud"));
  }
  if (it != domains_.end() && it->second.state == DomainState::kRunning) return absl::OkStatus();
  Domain& d = domains_[spec.instance_id];
  d.owned = true;
  d.spec = spec;
  d.state = DomainState::kRunning;
  d.boot_id = boot_id;
  ++restores_;
  return absl::OkStatus();
}

void FakeHypervisor::FailNextSave(absl::Status status) {
  absl::MutexLock lock(&mu_);
  fail_save_ = std::move(status);
}

void FakeHypervisor::FailNextRestore(absl::Status status) {
  absl::MutexLock lock(&mu_);
  fail_restore_ = std::move(status);
}

int64_t FakeHypervisor::BootId(std::string_view instance_id) const {
  absl::MutexLock lock(&mu_);
  auto it = domains_.find(instance_id);
  return it == domains_.end() ? 0 : it->second.boot_id;
}

int FakeHypervisor::restores() const {
  absl::MutexLock lock(&mu_);
  return restores_;
}

absl::Status FakeHypervisor::Destroy(std::string_view instance_id) {
  const std::string context = absl::StrCat("destroy ", AbslView(instance_id));
  absl::MutexLock lock(&mu_);
  if (absl::Status s = TakeFailure(fail_destroy_); !s.ok()) {
    return absl::Status(s.code(), absl::StrCat(context, ": ", s.message()));
  }
  auto it = domains_.find(instance_id);
  if (it == domains_.end()) return absl::OkStatus();
  if (!it->second.owned) {
    return absl::FailedPreconditionError(
        absl::StrCat(context, ": domain is not owned by minicloud"));
  }
  domains_.erase(it);
  ++destroys_;
  return absl::OkStatus();
}

absl::Status FakeHypervisor::StopDomain(std::string_view instance_id, StopMode mode) {
  const std::string context = absl::StrCat("stop ", AbslView(instance_id));
  absl::MutexLock lock(&mu_);
  auto it = domains_.find(instance_id);
  if (it == domains_.end() || !it->second.owned) {
    return absl::NotFoundError(absl::StrCat(context, ": no such owned domain"));
  }
  Domain& d = it->second;
  if (d.state == DomainState::kShutoff) return absl::OkStatus();
  d.stop_requests.push_back(mode);
  if (mode == StopMode::kForce) {
    d.state = DomainState::kShutoff;
    d.last_stop = StopMethod::kPowerOff;
  } else if (!ignore_shutdown_) {
    d.state = DomainState::kShutoff;
    d.last_stop = StopMethod::kAcpi;
  }
  return absl::OkStatus();
}

absl::Status FakeHypervisor::RebootDomain(std::string_view instance_id) {
  const std::string context = absl::StrCat("reboot ", AbslView(instance_id));
  absl::MutexLock lock(&mu_);
  auto it = domains_.find(instance_id);
  if (it == domains_.end() || !it->second.owned) {
    return absl::NotFoundError(absl::StrCat(context, ": no such owned domain"));
  }
  if (it->second.state != DomainState::kRunning) {
    return absl::FailedPreconditionError(absl::StrCat(context, ": the domain is not running"));
  }
  ++it->second.reboots;
  return absl::OkStatus();
}

int FakeHypervisor::Reboots(std::string_view instance_id) const {
  absl::MutexLock lock(&mu_);
  auto it = domains_.find(instance_id);
  return it == domains_.end() ? 0 : it->second.reboots;
}

void FakeHypervisor::IgnoreShutdownRequests(bool ignore) {
  absl::MutexLock lock(&mu_);
  ignore_shutdown_ = ignore;
}

absl::StatusOr<std::vector<DomainInfo>> FakeHypervisor::List() {
  absl::MutexLock lock(&mu_);
  if (absl::Status s = TakeFailure(fail_list_); !s.ok()) {
    return absl::Status(s.code(), absl::StrCat("list domains: ", s.message()));
  }
  std::vector<DomainInfo> out;
  for (const auto& [name, d] : domains_) {
    if (d.owned) out.push_back({.instance_id = name, .state = d.state});
  }
  return out;
}

absl::StatusOr<DomainInfo> FakeHypervisor::Get(std::string_view instance_id) {
  absl::MutexLock lock(&mu_);
  if (absl::Status s = TakeFailure(fail_get_); !s.ok()) {
    return absl::Status(s.code(), absl::StrCat("get ", AbslView(instance_id), ": ", s.message()));
  }
  auto it = domains_.find(instance_id);
  if (it == domains_.end() || !it->second.owned) {
    return absl::NotFoundError(
        absl::StrCat("get ", AbslView(instance_id), ": no such owned domain"));
  }
  return DomainInfo{.instance_id = it->first, .state = it->second.state};
}

absl::StatusOr<HostResources> FakeHypervisor::GetHostResources() { return resources_; }

void FakeHypervisor::FailNextCreate(absl::Status status) {
  absl::MutexLock lock(&mu_);
  fail_create_ = std::move(status);
}
void FakeHypervisor::FailNextStart(absl::Status status) {
  absl::MutexLock lock(&mu_);
  fail_start_ = std::move(status);
}
void FakeHypervisor::FailNextDestroy(absl::Status status) {
  absl::MutexLock lock(&mu_);
  fail_destroy_ = std::move(status);
}
void FakeHypervisor::FailNextList(absl::Status status) {
  absl::MutexLock lock(&mu_);
  fail_list_ = std::move(status);
}
void FakeHypervisor::FailNextGet(absl::Status status) {
  absl::MutexLock lock(&mu_);
  fail_get_ = std::move(status);
}

void FakeHypervisor::AddForeignDomain(std::string name, DomainState state) {
  absl::MutexLock lock(&mu_);
  Domain foreign;
  foreign.state = state;
  domains_[std::move(name)] = std::move(foreign);
}

absl::Status FakeHypervisor::SetState(std::string_view name, DomainState state) {
  absl::MutexLock lock(&mu_);
  auto it = domains_.find(name);
  if (it == domains_.end()) return absl::NotFoundError(absl::StrCat("no domain ", AbslView(name)));
  if (state == DomainState::kShutoff && it->second.state != DomainState::kShutoff) {
    it->second.last_stop = StopMethod::kGuest;
  }
  it->second.state = state;
  return absl::OkStatus();
}

std::optional<DomainSpec> FakeHypervisor::SpecOf(std::string_view instance_id) const {
  absl::MutexLock lock(&mu_);
  auto it = domains_.find(instance_id);
  if (it == domains_.end() || !it->second.owned) return std::nullopt;
  return it->second.spec;
}

StopMethod FakeHypervisor::LastStopMethod(std::string_view instance_id) const {
  absl::MutexLock lock(&mu_);
  auto it = domains_.find(instance_id);
  if (it == domains_.end() || !it->second.owned) return StopMethod::kNone;
  return it->second.last_stop;
}

std::vector<StopMode> FakeHypervisor::StopRequests(std::string_view instance_id) const {
  absl::MutexLock lock(&mu_);
  auto it = domains_.find(instance_id);
  if (it == domains_.end() || !it->second.owned) return {};
  return it->second.stop_requests;
}

int FakeHypervisor::create_calls() const {
  absl::MutexLock lock(&mu_);
  return create_calls_;
}
int FakeHypervisor::starts() const {
  absl::MutexLock lock(&mu_);
  return starts_;
}
int FakeHypervisor::destroys() const {
  absl::MutexLock lock(&mu_);
  return destroys_;
}

void FakeHypervisor::FailNextAttach(absl::Status status) {
  absl::MutexLock lock(&mu_);
  fail_attach_ = std::move(status);
}

void FakeHypervisor::FailNextDetach(absl::Status status) {
  absl::MutexLock lock(&mu_);
  fail_detach_ = std::move(status);
}

int FakeHypervisor::attach_calls() const {
  absl::MutexLock lock(&mu_);
  return attach_calls_;
}

int FakeHypervisor::detach_calls() const {
  absl::MutexLock lock(&mu_);
  return detach_calls_;
}

absl::Status FakeHypervisor::AttachDisk(std::string_view instance_id, const EbsDisk& disk) {
  const std::string context =
      absl::StrCat("attach ", disk.volume_id, " to ", AbslView(instance_id));
  absl::MutexLock lock(&mu_);
  auto it = domains_.find(instance_id);
  if (it == domains_.end() || !it->second.owned) {
    return absl::NotFoundError(absl::StrCat(context, ": no such owned domain"));
  }
  ++attach_calls_;
  if (absl::Status s = TakeFailure(fail_attach_); !s.ok()) return s;
  if (absl::Status s = ValidateEbsDisk(disk); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(context, ": ", s.message()));
  }
  for (const InstanceStoreDisk& d : it->second.spec.instance_store) {
    if (d.target_dev == disk.target_dev) {
      return absl::FailedPreconditionError(
          absl::StrCat(context, ": target ", disk.target_dev, " holds instance store"));
    }
  }
  // Like the real adapter: EBS disks live in the running guest only.
  if (it->second.state == DomainState::kShutoff || it->second.state == DomainState::kCrashed) {
    return absl::OkStatus();
  }
  std::vector<EbsDisk>& disks = it->second.spec.ebs_disks;
  for (const EbsDisk& present : disks) {
    if (present.target_dev != disk.target_dev) continue;
    if (present.export_name == disk.export_name) return absl::OkStatus();  // already attached
    return absl::FailedPreconditionError(
        absl::StrCat(context, ": target ", disk.target_dev, " holds ", present.export_name));
  }
  disks.push_back(disk);
  return absl::OkStatus();
}

absl::Status FakeHypervisor::DetachDisk(std::string_view instance_id, std::string_view target_dev) {
  const std::string context =
      absl::StrCat("detach ", AbslView(target_dev), " from ", AbslView(instance_id));
  absl::MutexLock lock(&mu_);
  auto it = domains_.find(instance_id);
  if (it == domains_.end() || !it->second.owned) {
    return absl::NotFoundError(absl::StrCat(context, ": no such owned domain"));
  }
  ++detach_calls_;
  if (absl::Status s = TakeFailure(fail_detach_); !s.ok()) return s;
  if (target_dev == "vda") {
    return absl::FailedPreconditionError(absl::StrCat(context, ": the root disk stays"));
  }
  for (const InstanceStoreDisk& d : it->second.spec.instance_store) {
    if (d.target_dev == target_dev) {
      return absl::FailedPreconditionError(
          absl::StrCat(context, ": instance store stays with its instance"));
    }
  }
  if (hold_disks_ && it->second.state == DomainState::kRunning) return absl::OkStatus();
  std::vector<EbsDisk>& disks = it->second.spec.ebs_disks;
  disks.erase(std::remove_if(disks.begin(), disks.end(),
                             [&](const EbsDisk& d) { return d.target_dev == target_dev; }),
              disks.end());
  return absl::OkStatus();
}

absl::StatusOr<std::vector<AttachedEbsDisk>> FakeHypervisor::ListEbsDisks(
    std::string_view instance_id) {
  absl::MutexLock lock(&mu_);
  auto it = domains_.find(instance_id);
  if (it == domains_.end() || !it->second.owned) {
    return absl::NotFoundError(
        absl::StrCat("list disks of ", AbslView(instance_id), ": no such owned domain"));
  }
  std::vector<AttachedEbsDisk> out;
  if (it->second.state == DomainState::kShutoff || it->second.state == DomainState::kCrashed) {
    return out;  // like the real adapter: EBS disks live in the running guest only
  }
  for (const EbsDisk& d : it->second.spec.ebs_disks) {
    out.push_back({d.target_dev, d.export_name, d.size_bytes});
  }
  return out;
}

absl::StatusOr<EbsDisk*> FakeHypervisor::RunningEbsDiskLocked(std::string_view instance_id,
                                                              std::string_view target_dev,
                                                              const std::string& context,
                                                              int& calls) {
  auto it = domains_.find(instance_id);
  if (it == domains_.end() || !it->second.owned) {
    return absl::NotFoundError(absl::StrCat(context, ": no such owned domain"));
  }
  ++calls;
  if (it->second.state != DomainState::kRunning) {
    return absl::FailedPreconditionError(absl::StrCat(context, ": the domain is not running"));
  }
  for (EbsDisk& d : it->second.spec.ebs_disks) {
    if (d.target_dev == target_dev) return &d;
  }
  return absl::NotFoundError(absl::StrCat(context, ": no EBS disk there"));
}

absl::Status FakeHypervisor::GrowDisk(std::string_view instance_id, std::string_view target_dev,
                                      int64_t bytes) {
  const std::string context =
      absl::StrCat("grow ", AbslView(target_dev), " of ", AbslView(instance_id));
  absl::MutexLock lock(&mu_);
  absl::StatusOr<EbsDisk*> d = RunningEbsDiskLocked(instance_id, target_dev, context, grow_calls_);
  if (!d.ok()) return d.status();
  if ((*d)->size_bytes >= bytes) return absl::OkStatus();
  if (hold_export_size_) {
    return absl::FailedPreconditionError(absl::StrCat(context, ": the export is smaller"));
  }
  (*d)->size_bytes = bytes;
  return absl::OkStatus();
}

absl::Status FakeHypervisor::SetDiskLimits(std::string_view instance_id,
                                           std::string_view target_dev,
                                           const volumes::IoTune& iotune) {
  const std::string context =
      absl::StrCat("set the I/O limits of ", AbslView(target_dev), " of ", AbslView(instance_id));
  absl::MutexLock lock(&mu_);
  absl::StatusOr<EbsDisk*> d =
      RunningEbsDiskLocked(instance_id, target_dev, context, limits_calls_);
  if (!d.ok()) return d.status();
  if (absl::Status s = ValidateIoTune((*d)->volume_id, iotune); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(context, ": ", s.message()));
  }
  (*d)->iotune = iotune;
  return absl::OkStatus();
}

int FakeHypervisor::limits_calls() const {
  absl::MutexLock lock(&mu_);
  return limits_calls_;
}

int FakeHypervisor::grow_calls() const {
  absl::MutexLock lock(&mu_);
  return grow_calls_;
}

void FakeHypervisor::HoldExportSize(bool hold) {
  absl::MutexLock lock(&mu_);
  hold_export_size_ = hold;
}

void FakeHypervisor::HoldDisks(bool hold) {
  absl::MutexLock lock(&mu_);
  hold_disks_ = hold;
}

void FakeHypervisor::HoldSaves(bool hold) {
  absl::MutexLock lock(&mu_);
  hold_saves_ = hold;
}

int FakeHypervisor::saves_waiting() const {
  absl::MutexLock lock(&mu_);
  return saves_waiting_;
}

}  // namespace minicloud::hypervisor
