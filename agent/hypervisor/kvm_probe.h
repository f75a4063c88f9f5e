#pragma once

// Decides whether guests on this host run under KVM or TCG, by proof rather than by the
// existence of /dev/kvm.
//
// Why: on some hosts (nested virtualisation without hardware support, e.g. inside a Firecracker
// VM) /dev/kvm exists and opens, KVM_RUN works, but guest code runs thousands of times slower
// than native: a 200k-iteration loop takes ~0.3 s instead of ~0.1 ms, and a Linux guest
// "hangs" for minutes in the kernel decompressor after the firmware. The probe therefore
// measures guest execution speed, not just whether KVM answers.
//
// Stages (each bounded by the overall budget; the first failure decides TCG):
//   1. open /dev/kvm, KVM_GET_API_VERSION == 12, KVM_CREATE_VM, memory, vCPU;
//   2. a real-mode guest runs `out 0x10, al; hlt` and KVM_RUN returns the port I/O exit;
//   3. a long-mode guest (paging on, set up through KVM_SET_SREGS) runs a counted loop and must
//      finish within ProbeOptions::max_loop_time;
//   4. (optional) `qemu-system-x86_64 -accel kvm -cpu host` boots a 512-byte boot sector that
//      prints to the serial port, i.e. QEMU itself accepts the host CPU model with KVM.
// Stages 1-3 run in a forked child process that is SIGKILLed at the deadline, so a KVM_RUN that
// never returns cannot hang the agent; stage 4 is a child process too.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "agent/hypervisor/hypervisor.h"

namespace minicloud::hypervisor {

// The agent's --accel flag.
enum class AcceleratorMode { kAuto, kKvm, kTcg };
// "auto" | "kvm" | "tcg" (case-insensitive); InvalidArgument otherwise.
absl::StatusOr<AcceleratorMode> ParseAcceleratorMode(std::string_view flag);
std::string_view AcceleratorModeName(AcceleratorMode mode);

struct ProbeResult {
  Accelerator accelerator = Accelerator::kTcg;
  std::string reason;  // always non-empty; one line, suitable for a log and for the host record
  absl::Duration elapsed;
};

// Stages 1-3 of the probe, in order.
enum class KvmStage : int32_t { kNone = 0, kOpen, kApiVersion, kCreateVm, kRealMode, kLongMode };

// What the ioctl child (stages 1-3) reported before it ended or the budget ran out.
struct IoctlProbeReport {
  KvmStage last_passed = KvmStage::kNone;
  // The stage that failed and its value: errno for kOpen and kCreateVm; the version returned
  // (or -errno) for kApiVersion; the KVM exit reason for kRealMode and kLongMode.
  KvmStage failed = KvmStage::kNone;
  int64_t failure_value = 0;
  std::optional<absl::Duration> loop_time;  // stage 3's measurement, when it passed
  bool timed_out = false;                   // the budget ran out first
  std::string probe_error;                  // the probe itself could not run (pipe, fork)
};

struct ProbeOptions;
using IoctlProbeFn = std::function<IoctlProbeReport(const ProbeOptions&)>;

struct ProbeOptions {
  absl::Duration budget = absl::Seconds(2);  // the probe never takes (much) longer than this
  std::string device = "/dev/kvm";
  // Stage 3. Hardware-assisted KVM runs the loop in well under a millisecond; the limit leaves
  // two orders of magnitude of headroom for a busy host.
  int loop_iterations = 200'000;
  absl::Duration max_loop_time = absl::Milliseconds(50);
  // Stage 4; empty skips it. Looked up in PATH when it has no '/'.
  std::string qemu_binary = "qemu-system-x86_64";
  // Where stage 4 writes its boot sector and serial output (removed afterwards).
  std::string scratch_dir = "/tmp";
  // Stages 1-3; empty runs the real ioctl child on `device`. Tests put a fake here so that each
  // case has one known verdict whatever KVM this host has.
  IoctlProbeFn ioctl_probe;
};

// One stage group's outcome: a reason on failure, a measurement on success.
struct ProbeStep {
  bool ok = false;
  std::string detail;
};

// The pieces ProbeAccelerator is made of, each testable on its own:
// reads an ioctl report (pure) ...
ProbeStep InterpretIoctlProbe(const IoctlProbeReport& report, const ProbeOptions& options);
// ... runs stage 4 alone: options.qemu_binary boots a boot sector until it prints or `budget`
// passes (the process is killed then) ...
ProbeStep RunQemuProbe(const ProbeOptions& options, absl::Duration budget);
// ... and decides (pure): KVM only when stages 1-3 passed and stage 4 passed or was not run.
ProbeResult DecideAccelerator(const ProbeStep& ioctl, const std::optional<ProbeStep>& qemu);

// Probes with default options and the given budget.
ProbeResult ProbeAccelerator(absl::Duration budget);
ProbeResult ProbeAccelerator(const ProbeOptions& options);

// Applies --accel: kTcg never probes; kKvm trusts the operator but still probes so the reason
// can say what the probe would have chosen; kAuto is ProbeAccelerator(options).
ProbeResult SelectAccelerator(AcceleratorMode mode, const ProbeOptions& options);

// A 512-byte x86 MBR boot sector that writes `message` (at most 400 bytes) to COM1 (port 0x3f8)
// and then halts forever with interrupts off. Used by the probe and by e2e tests as the smallest
// possible guest; pad it to a few sectors before attaching it as a virtio disk (SeaBIOS ignores
// virtio disks of a single sector).
std::string BootSectorPrinting(std::string_view message);

}  // namespace minicloud::hypervisor
