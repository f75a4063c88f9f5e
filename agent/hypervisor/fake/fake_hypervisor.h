#pragma once

// In-memory Hypervisor for tests of the agent runtime and integration tests. Honours the full
// contract of hypervisor.h (idempotent create, owned-only, failed create leaves nothing) and adds
// hooks to inject failures, to plant foreign domains and to simulate guest-side state changes.
//
//   FakeHypervisor hv;
//   hv.FailNextCreate(absl::UnavailableError("qemu crashed"));
//   EXPECT(!hv.CreateAndStart(spec).ok());   // nothing is left behind
//   hv.SetState("i-1", DomainState::kShutoff);  // the guest powered itself off
//   hv.StopDomain("i-1", StopMode::kGraceful);
//   EXPECT(hv.LastStopMethod("i-1") == StopMethod::kAcpi);  // how it went down

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "agent/hypervisor/hypervisor.h"

namespace minicloud::hypervisor {

// How a fake domain went from running to shut off.
enum class StopMethod {
  kNone,      // it has not (yet)
  kAcpi,      // StopDomain(kGraceful) and the guest honoured the power button
  kPowerOff,  // StopDomain(kForce): pulled the plug
  kGuest,     // SetState(kShutoff): the guest (or an operator) powered it off on its own
  kSaved,     // SaveDomain: its state went to a file (hibernation)
};
std::string_view StopMethodName(StopMethod m);  // "none" | "acpi" | "power-off" | "guest"

class FakeHypervisor final : public Hypervisor {
 public:
  explicit FakeHypervisor(HostResources resources = {.cpus = 8, .memory_mib = 16384});

  // Hypervisor. Specs are validated like the real adapter does (ValidateDomainSpec).
  absl::Status CreateAndStart(const DomainSpec& spec) override;
  absl::Status Destroy(std::string_view instance_id) override;
  // kGraceful powers the domain off at once, like a guest that honours the ACPI button,
  // unless IgnoreShutdownRequests(true) made the guest deaf to it.
  absl::Status StopDomain(std::string_view instance_id, StopMode mode) override;
  // Records the reboot (Reboots()); the domain keeps running.
  absl::Status RebootDomain(std::string_view instance_id) override;
  absl::StatusOr<std::vector<DomainInfo>> List() override;
  absl::StatusOr<DomainInfo> Get(std::string_view instance_id) override;
  absl::StatusOr<HostResources> GetHostResources() override;
  // The disk goes into a running domain's spec (SpecOf().ebs_disks); a domain that is not
  // running gets nothing, like the real adapter. AttachCalls/DetachCalls count every call.
  absl::Status AttachDisk(std::string_view instance_id, const EbsDisk& disk) override;
  absl::Status DetachDisk(std::string_view instance_id, std::string_view target_dev) override;
  // A running domain's spec's ebs_disks, each at its size_bytes: a guest that holds a disk
  // (HoldDisks) keeps it listed.
  absl::StatusOr<std::vector<AttachedEbsDisk>> ListEbsDisks(std::string_view instance_id) override;
  // Sets the disk's size_bytes in the spec; GrowCalls counts every call. FailedPrecondition
  // while an export is held small (HoldExportSize).
  absl::Status GrowDisk(std::string_view instance_id, std::string_view target_dev,
                        int64_t bytes) override;
  // Sets the disk's iotune in the spec; limits_calls counts every call.
  absl::Status SetDiskLimits(std::string_view instance_id, std::string_view target_dev,
                             const volumes::IoTune& iotune) override;
  // The fake's "RAM" is its guest's boot id (BootId): SaveDomain writes a file holding the
  // instance id and boot id, padded to the spec's memory size in KiB; RestoreDomain takes the
  // boot id back from such a file (InvalidArgument for a file of another instance or a torn
  // one), so a guest resumed anywhere keeps its boot id while a cold boot gets a new one.
  absl::Status SaveDomain(std::string_view instance_id, const std::string& path) override;
  absl::Status RestoreDomain(const DomainSpec& spec, const std::string& path) override;
  // Fails the next SaveDomain / RestoreDomain before it changes anything.
  void FailNextSave(absl::Status status);
  void FailNextRestore(absl::Status status);
  // The running guest's identity: a number drawn at each cold boot (CreateAndStart of a domain
  // that was not running), kept by SaveDomain/RestoreDomain. 0 when the domain is unknown.
  int64_t BootId(std::string_view instance_id) const;
  int restores() const;

  // --- Failure injection: each hook fails exactly the next call of that method. ---
  void FailNextCreate(absl::Status status);
  // Fails the next CreateAndStart after the domain was "defined", i.e. at start: exercises the
  // rollback path (the domain must not remain).
  void FailNextStart(absl::Status status);
  void FailNextDestroy(absl::Status status);
  void FailNextList(absl::Status status);
  void FailNextGet(absl::Status status);
  // Fails the next AttachDisk / DetachDisk before it changes anything.
  void FailNextAttach(absl::Status status);
  void FailNextDetach(absl::Status status);

  // --- Test helpers (not part of the Hypervisor contract). ---
  // A domain that was not created through this interface (List() must not show it; Destroy()
  // must refuse it).
  void AddForeignDomain(std::string name, DomainState state = DomainState::kRunning);
  // Simulates the guest or an operator changing the state of an existing domain. NotFound if
  // there is no such domain.
  absl::Status SetState(std::string_view name, DomainState state);
  // Guests of running domains do not release hot-unplugged disks (a guest that holds the disk
  // open or ignores the unplug request): DetachDisk succeeds but the disk stays listed.
  void HoldDisks(bool hold);
  // SaveDomain waits while saves are held (an agent stopped in the middle of a hibernation);
  // saves_waiting() counts the calls waiting now.
  void HoldSaves(bool hold);
  int saves_waiting() const;
  // Guests ignore graceful stop requests (a guest without ACPI support, or a hung one).
  void IgnoreShutdownRequests(bool ignore);
  // The spec the owned domain was last (re)started with.
  std::optional<DomainSpec> SpecOf(std::string_view instance_id) const;
  // How the owned domain last went down (kNone if it never did); kept across restarts.
  StopMethod LastStopMethod(std::string_view instance_id) const;
  // Every StopDomain call that reached the running owned domain, in order (a graceful request a
  // deaf guest ignored included), since the domain was created.
  std::vector<StopMode> StopRequests(std::string_view instance_id) const;
  // How many times the owned domain was rebooted since it was created (0 if none or unknown).
  int Reboots(std::string_view instance_id) const;
  // Counters for assertions about idempotency (how often a domain was really started).
  int create_calls() const;
  int starts() const;
  int destroys() const;
  // Every AttachDisk / DetachDisk call that reached an owned domain (refused ones included).
  int attach_calls() const;
  int detach_calls() const;
  int grow_calls() const;
  int limits_calls() const;
  // GrowDisk fails (FailedPrecondition) as if the volume service had not grown the export yet.
  void HoldExportSize(bool hold);

 private:
  struct Domain {
    bool owned = false;
    DomainState state = DomainState::kRunning;
    DomainSpec spec;  // only for owned domains
    StopMethod last_stop = StopMethod::kNone;
    std::vector<StopMode> stop_requests;
    int reboots = 0;
    int64_t boot_id = 0;
  };

  static absl::Status TakeFailure(std::optional<absl::Status>& slot);
  // The EBS disk at `target_dev` of the running owned domain `instance_id`; `calls` counts the
  // calls that reached an owned domain. NotFound / FailedPrecondition as GrowDisk's contract.
  absl::StatusOr<EbsDisk*> RunningEbsDiskLocked(std::string_view instance_id,
                                                std::string_view target_dev,
                                                const std::string& context, int& calls)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const HostResources resources_;
  mutable absl::Mutex mu_;
  std::map<std::string, Domain, std::less<>> domains_ ABSL_GUARDED_BY(mu_);
  std::optional<absl::Status> fail_create_ ABSL_GUARDED_BY(mu_);
  std::optional<absl::Status> fail_start_ ABSL_GUARDED_BY(mu_);
  std::optional<absl::Status> fail_destroy_ ABSL_GUARDED_BY(mu_);
  std::optional<absl::Status> fail_list_ ABSL_GUARDED_BY(mu_);
  std::optional<absl::Status> fail_get_ ABSL_GUARDED_BY(mu_);
  std::optional<absl::Status> fail_attach_ ABSL_GUARDED_BY(mu_);
  std::optional<absl::Status> fail_detach_ ABSL_GUARDED_BY(mu_);
  std::optional<absl::Status> fail_save_ ABSL_GUARDED_BY(mu_);
  std::optional<absl::Status> fail_restore_ ABSL_GUARDED_BY(mu_);
  int64_t next_boot_id_ ABSL_GUARDED_BY(mu_) = 1000;
  int restores_ ABSL_GUARDED_BY(mu_) = 0;
  int attach_calls_ ABSL_GUARDED_BY(mu_) = 0;
  int detach_calls_ ABSL_GUARDED_BY(mu_) = 0;
  int create_calls_ ABSL_GUARDED_BY(mu_) = 0;
  int starts_ ABSL_GUARDED_BY(mu_) = 0;
  int destroys_ ABSL_GUARDED_BY(mu_) = 0;
  bool ignore_shutdown_ ABSL_GUARDED_BY(mu_) = false;
  bool hold_disks_ ABSL_GUARDED_BY(mu_) = false;
  bool hold_export_size_ ABSL_GUARDED_BY(mu_) = false;
  int grow_calls_ ABSL_GUARDED_BY(mu_) = 0;
  int limits_calls_ ABSL_GUARDED_BY(mu_) = 0;
  bool hold_saves_ ABSL_GUARDED_BY(mu_) = false;
  int saves_waiting_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace minicloud::hypervisor
