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
};

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
