#include "agent/hypervisor/kvm_probe.h"

#include <fcntl.h>
#include <linux/kvm.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "common/process/spawn.h"
#include "common/string_view_compat.h"

namespace minicloud::hypervisor {
namespace {

using SteadyClock = std::chrono::steady_clock;

absl::Duration Since(SteadyClock::time_point start) {
  return absl::FromChrono(SteadyClock::now() - start);
}

std::string Ms(absl::Duration d) {
  return absl::StrCat(absl::ToDoubleMilliseconds(d) < 10
                          ? absl::StrFormat("%.2f", absl::ToDoubleMilliseconds(d))
                          : absl::StrFormat("%.0f", absl::ToDoubleMilliseconds(d)),
                      "ms");
}

// --- Stages 1-3: the KVM ioctl probe, run in a forked child. ---------------------------------

enum Stage : int32_t {
  kOpen = static_cast<int32_t>(KvmStage::kOpen),
  kApiVersion,
  kCreateVm,
  kRealMode,
  kLongMode
};

// One fixed-size record per finished stage, written by the child to a pipe.
struct StageReport {
  int32_t stage;
  int32_t ok;     // 1 = passed
  int64_t value;  // errno on failure, KVM exit reason, or elapsed nanoseconds for kLongMode
};

constexpr uint16_t kProbePortReal = 0x10;
constexpr uint16_t kProbePortLong = 0x11;
constexpr uint64_t kGuestCodeReal = 0x1000;
constexpr uint64_t kGuestCodeLong = 0x1100;
constexpr uint64_t kGuestPml4 = 0x2000;
constexpr uint64_t kGuestPdpt = 0x3000;
constexpr uint64_t kGuestPd = 0x4000;
constexpr size_t kGuestMemory = 2 << 20;  // one 2 MiB identity-mapped large page

// Everything the child needs, prepared before fork() so the child only makes system calls.
struct ChildPlan {
  const char* device;
  std::array<uint8_t, 5> real_code;
  std::array<uint8_t, 16> long_code;
};

void Report(int fd, Stage stage, bool ok, int64_t value) {
  StageReport r{stage, ok ? 1 : 0, value};
  // A short write is impossible for <= PIPE_BUF bytes; nothing useful to do on error.
  [[maybe_unused]] ssize_t n = write(fd, &r, sizeof(r));
}

int64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

// Runs in the child: async-signal-safe calls only (we may have been forked from a threaded
// process), no allocation, no exceptions.
[[noreturn]] void RunChild(const ChildPlan& plan, int fd) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  const int kvm = open(plan.device, O_RDWR | O_CLOEXEC);
  if (kvm < 0) {
    Report(fd, kOpen, false, errno);
    _exit(0);
  }
  Report(fd, kOpen, true, 0);
  const int api = ioctl(kvm, KVM_GET_API_VERSION, 0);
  Report(fd, kApiVersion, api == KVM_API_VERSION, api < 0 ? -errno : api);
  if (api != KVM_API_VERSION) _exit(0);

  const int vm = ioctl(kvm, KVM_CREATE_VM, 0);
  if (vm < 0) {
    Report(fd, kCreateVm, false, errno);
    _exit(0);
  }
  void* mem_ptr =
      mmap(nullptr, kGuestMemory, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (mem_ptr == MAP_FAILED) {
    Report(fd, kCreateVm, false, errno);
    _exit(0);
  }
  auto* mem = static_cast<uint8_t*>(mem_ptr);
  kvm_userspace_memory_region region{};
  region.slot = 0;
  region.guest_phys_addr = 0;
  region.memory_size = kGuestMemory;
  region.userspace_addr = reinterpret_cast<uint64_t>(mem);
  if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0) {
    Report(fd, kCreateVm, false, errno);
    _exit(0);
  }
  const int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
  const int run_size = vcpu < 0 ? -1 : ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
  void* run_ptr = run_size <= 0
                      ? MAP_FAILED
                      : mmap(nullptr, run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
  if (run_ptr == MAP_FAILED) {
    Report(fd, kCreateVm, false, errno);
    _exit(0);
  }
  auto* run = static_cast<kvm_run*>(run_ptr);
  Report(fd, kCreateVm, true, 0);

  // Stage 2: real mode, CS base 0, `mov al, 0x2a; out 0x10, al; hlt`.
  memcpy(mem + kGuestCodeReal, plan.real_code.data(), plan.real_code.size());
  kvm_sregs sregs{};
  kvm_regs regs{};
  if (ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0) {
    Report(fd, kRealMode, false, errno);
    _exit(0);
  }
  sregs.cs.base = 0;
  sregs.cs.selector = 0;
  regs.rip = kGuestCodeReal;
  regs.rflags = 2;
  if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0 || ioctl(vcpu, KVM_SET_REGS, &regs) < 0) {
    Report(fd, kRealMode, false, errno);
    _exit(0);
  }
  if (ioctl(vcpu, KVM_RUN, 0) < 0) {
    Report(fd, kRealMode, false, errno);
    _exit(0);
  }
  const bool real_ok = run->exit_reason == KVM_EXIT_IO && run->io.port == kProbePortReal &&
                       reinterpret_cast<uint8_t*>(run)[run->io.data_offset] == 0x2a;
  Report(fd, kRealMode, real_ok, run->exit_reason);
  if (!real_ok) _exit(0);

  // Stage 3: 64-bit mode with paging, identity-mapped 2 MiB page, a counted loop, then
  // `out 0x11, al`. The loop time is the measurement.
  auto* pml4 = reinterpret_cast<uint64_t*>(mem + kGuestPml4);
  auto* pdpt = reinterpret_cast<uint64_t*>(mem + kGuestPdpt);
  auto* pd = reinterpret_cast<uint64_t*>(mem + kGuestPd);
  pml4[0] = kGuestPdpt | 0x3;  // present, writable
  pdpt[0] = kGuestPd | 0x3;
  pd[0] = 0x0 | 0x83;  // present, writable, 2 MiB page
  memcpy(mem + kGuestCodeLong, plan.long_code.data(), plan.long_code.size());
  sregs.cr3 = kGuestPml4;
  sregs.cr4 = 1u << 5;                             // PAE
  sregs.cr0 = (1u << 0) | (1u << 4) | (1u << 31);  // PE, ET, PG
  sregs.efer = (1u << 8) | (1u << 10);             // LME, LMA
  kvm_segment code{};
  code.base = 0;
  code.limit = 0xffffffff;
  code.selector = 0x8;
  code.present = 1;
  code.type = 11;  // execute/read, accessed
  code.s = 1;
  code.l = 1;
  code.g = 1;
  kvm_segment data = code;
  data.selector = 0x10;
  data.type = 3;  // read/write, accessed
  data.l = 0;
  data.db = 1;
  sregs.cs = code;
  sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = data;
  regs = kvm_regs{};
  regs.rip = kGuestCodeLong;
  regs.rflags = 2;
  if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0 || ioctl(vcpu, KVM_SET_REGS, &regs) < 0) {
    Report(fd, kLongMode, false, errno);
    _exit(0);
  }
  const int64_t start = NowNs();
  if (ioctl(vcpu, KVM_RUN, 0) < 0) {
    Report(fd, kLongMode, false, errno);
    _exit(0);
  }
  const int64_t elapsed = NowNs() - start;
  const bool long_ok = run->exit_reason == KVM_EXIT_IO && run->io.port == kProbePortLong;
  Report(fd, kLongMode, long_ok, long_ok ? elapsed : -static_cast<int64_t>(run->exit_reason));
  _exit(0);
}

ChildPlan MakePlan(const ProbeOptions& options) {
  ChildPlan plan{};
  plan.device = options.device.c_str();
  plan.real_code = {0xb0, 0x2a, 0xe6, kProbePortReal, 0xf4};  // mov al,0x2a; out 0x10,al; hlt
  const uint32_t n = static_cast<uint32_t>(std::max(1, options.loop_iterations));
  plan.long_code = {0xb9,
                    static_cast<uint8_t>(n),
                    static_cast<uint8_t>(n >> 8),
                    static_cast<uint8_t>(n >> 16),
                    static_cast<uint8_t>(n >> 24),  // mov ecx, n
                    0xff,
                    0xc9,  // dec ecx
                    0x75,
                    0xfc,  // jnz -4
                    0xb0,
                    0x2c,  // mov al, 0x2c
                    0xe6,
                    kProbePortLong,  // out 0x11, al
                    0xf4,            // hlt
                    0x90,
                    0x90};
  return plan;
}

// Reaps a SIGKILLed child without blocking the caller for long. A process stuck in an
// uninterruptible KVM call is left to a detached reaper thread.
void KillAndReap(pid_t pid) {
  kill(pid, SIGKILL);
  for (int i = 0; i < 50; ++i) {
    int status;
    const pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid || (r < 0 && errno != EINTR)) return;
    usleep(2000);
  }
  std::thread([pid] {
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
  }).detach();
}

IoctlProbeReport RunIoctlChild(const ProbeOptions& options, SteadyClock::time_point deadline) {
  IoctlProbeReport report;
  const ChildPlan plan = MakePlan(options);
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) < 0) {
    report.probe_error = absl::StrCat("cannot create a pipe for the probe: ", strerror(errno));
    return report;
  }
  const pid_t pid = fork();
  if (pid < 0) {
    report.probe_error = absl::StrCat("cannot fork the probe: ", strerror(errno));
    close(fds[0]);
    close(fds[1]);
    return report;
  }
  if (pid == 0) {
    close(fds[0]);
    RunChild(plan, fds[1]);
  }
  close(fds[1]);

  bool eof = false;
  while (!eof && report.failed == KvmStage::kNone && !report.loop_time) {
    const auto now = SteadyClock::now();
    if (now >= deadline) {
      report.timed_out = true;
      break;
    }
    const int wait_ms = static_cast<int>(
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count() + 1);
    pollfd pfd{fds[0], POLLIN, 0};
    const int pr = poll(&pfd, 1, wait_ms);
    if (pr < 0 && errno == EINTR) continue;
    if (pr <= 0) continue;  // timeout: loop re-checks the deadline
    StageReport r;
    const ssize_t n = read(fds[0], &r, sizeof(r));
    if (n < 0 && errno == EINTR) continue;
    if (n != static_cast<ssize_t>(sizeof(r))) {
      eof = true;
      break;
    }
    if (!r.ok) {
      report.failed = static_cast<KvmStage>(r.stage);
      report.failure_value = r.stage == kLongMode ? -r.value : r.value;
    } else {
      report.last_passed = static_cast<KvmStage>(r.stage);
      if (r.stage == kLongMode) report.loop_time = absl::Nanoseconds(r.value);
    }
  }
  close(fds[0]);
  KillAndReap(pid);
  return report;
}

absl::string_view StageName(KvmStage stage) {
  switch (stage) {
    case KvmStage::kNone:
      break;
    case KvmStage::kOpen:
      return "open";
    case KvmStage::kApiVersion:
      return "KVM_GET_API_VERSION";
    case KvmStage::kCreateVm:
      return "VM setup";
    case KvmStage::kRealMode:
      return "real-mode test guest";
    case KvmStage::kLongMode:
      return "long-mode test guest";
  }
  return "?";
}

KvmStage NextStage(KvmStage s) {
  return s == KvmStage::kLongMode ? s : static_cast<KvmStage>(static_cast<int32_t>(s) + 1);
}

// --- Stage 4: a bounded QEMU run. -------------------------------------------------------------

constexpr std::string_view kQemuProbeMarker = "MINICLOUD-KVM-PROBE-OK";

// The QEMU binary to probe with, if it exists and is executable.
std::optional<std::string> FindInPath(const std::string& binary) {
  absl::StatusOr<std::string> program = process::ResolveProgram(binary);
  if (!program.ok() || access(program->c_str(), X_OK) != 0) return std::nullopt;
  return *program;
}

std::string ReadSmallFile(const std::string& path, size_t limit = 4096) {
  std::ifstream in(path, std::ios::binary);
  std::string data(limit, '\0');
  in.read(data.data(), static_cast<std::streamsize>(limit));
  data.resize(static_cast<size_t>(in.gcount()));
  return data;
}

// First non-empty, non-warning line of QEMU's stderr, or the first line if all are warnings.
std::string FirstErrorLine(const std::string& text) {
  std::string first;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (line.empty()) continue;
    if (first.empty()) first = std::string(line);
    if (line.find("warning") == absl::string_view::npos) return std::string(line);
  }
  return first;
}

ProbeStep RunQemuProbeUntil(const ProbeOptions& options, SteadyClock::time_point deadline) {
  const std::optional<std::string> qemu = FindInPath(options.qemu_binary);
  if (!qemu)
    return {true, absl::StrCat("qemu check skipped (", options.qemu_binary, " not found)")};

  std::string dir_template = absl::StrCat(options.scratch_dir, "/minicloud-kvm-probe-XXXXXX");
  if (mkdtemp(dir_template.data()) == nullptr) {
    return {false, absl::StrCat("cannot create a scratch dir in ", options.scratch_dir, ": ",
                                strerror(errno))};
  }
  const std::string dir = dir_template;
  const std::string disk = dir + "/boot.img";
  const std::string serial = dir + "/serial.out";
  const std::string stderr_path = dir + "/qemu.err";
  struct Cleanup {
    std::string dir;
    ~Cleanup() {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
  } cleanup{dir};
  {
    std::string image = BootSectorPrinting(absl::StrCat(AbslView(kQemuProbeMarker), "\r\n"));
    image.resize(64 * 1024, '\0');
    std::ofstream out(disk, std::ios::binary);
    out.write(image.data(), static_cast<std::streamsize>(image.size()));
    if (!out) return {false, absl::StrCat("cannot write ", disk)};
  }

  std::vector<std::string> args = {*qemu,
                                   "-accel",
                                   "kvm",
                                   "-cpu",
                                   "host",
                                   "-machine",
                                   "pc",
                                   "-m",
                                   "16",
                                   "-nodefaults",
                                   "-no-user-config",
                                   "-display",
                                   "none",
                                   "-serial",
                                   absl::StrCat("file:", serial),
                                   "-drive",
                                   absl::StrCat("file=", disk, ",format=raw,if=ide"),
                                   "-no-reboot"};
  // stdout and stderr both to qemu.err; same process group as the agent, as before.
  const int err_fd = open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (err_fd < 0)
    return {false, absl::StrCat("cannot create ", stderr_path, ": ", strerror(errno))};
  process::SpawnOptions spawn;
  spawn.stdout_fd = err_fd;
  spawn.stderr_fd = err_fd;
  spawn.new_process_group = false;
  const auto start = SteadyClock::now();
  const absl::StatusOr<pid_t> spawned = process::Spawn(args, spawn);
  close(err_fd);
  if (!spawned.ok()) return {false, std::string(spawned.status().message())};
  const pid_t pid = *spawned;

  const std::string what = absl::StrCat(options.qemu_binary, " -accel kvm -cpu host");
  while (true) {
    if (ReadSmallFile(serial).find(kQemuProbeMarker) != std::string::npos) {
      const absl::Duration took = Since(start);
      KillAndReap(pid);
      return {true, absl::StrCat(what, " booted a test guest in ", Ms(took))};
    }
    int status;
    const pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      const std::string err = FirstErrorLine(ReadSmallFile(stderr_path));
      return {false, absl::StrCat(what, " exited (",
                                  WIFEXITED(status) ? absl::StrCat("status ", WEXITSTATUS(status))
                                                    : absl::StrCat("signal ", WTERMSIG(status)),
                                  ") before the test guest printed", err.empty() ? "" : ": ", err)};
    }
    if (SteadyClock::now() >= deadline) {
      KillAndReap(pid);
      return {false, absl::StrCat(what, ": the test guest did not print within ",
                                  absl::FormatDuration(options.budget))};
    }
    usleep(10'000);
  }
}

}  // namespace

absl::StatusOr<AcceleratorMode> ParseAcceleratorMode(std::string_view flag) {
  const std::string f = absl::AsciiStrToLower(absl::StripAsciiWhitespace(AbslView(flag)));
  if (f == "auto") return AcceleratorMode::kAuto;
  if (f == "kvm") return AcceleratorMode::kKvm;
  if (f == "tcg") return AcceleratorMode::kTcg;
  return absl::InvalidArgumentError(
      absl::StrCat("--accel must be one of auto, kvm, tcg; got '", AbslView(flag), "'"));
}

std::string_view AcceleratorModeName(AcceleratorMode mode) {
  switch (mode) {
    case AcceleratorMode::kAuto:
      return "auto";
    case AcceleratorMode::kKvm:
      return "kvm";
    case AcceleratorMode::kTcg:
      return "tcg";
  }
  return "unknown";
}

ProbeResult ProbeAccelerator(absl::Duration budget) {
  ProbeOptions options;
  options.budget = budget;
  return ProbeAccelerator(options);
}

ProbeResult ProbeAccelerator(const ProbeOptions& options) {
  const auto start = SteadyClock::now();
  const auto deadline =
      start + absl::ToChronoNanoseconds(std::max(options.budget, absl::ZeroDuration()));
  const IoctlProbeReport report =
      options.ioctl_probe ? options.ioctl_probe(options) : RunIoctlChild(options, deadline);
  const ProbeStep ioctl = InterpretIoctlProbe(report, options);
  std::optional<ProbeStep> qemu;
  if (ioctl.ok && !options.qemu_binary.empty()) qemu = RunQemuProbeUntil(options, deadline);
  ProbeResult result = DecideAccelerator(ioctl, qemu);
  result.elapsed = Since(start);
  return result;
}

ProbeStep InterpretIoctlProbe(const IoctlProbeReport& report, const ProbeOptions& options) {
  if (!report.probe_error.empty()) return {false, report.probe_error};
  if (report.timed_out) {
    const KvmStage stuck = NextStage(report.last_passed);
    if (stuck == KvmStage::kRealMode || stuck == KvmStage::kLongMode) {
      return {false,
              absl::StrCat("KVM_RUN of the ", StageName(stuck),
                           stuck == KvmStage::kLongMode
                               ? absl::StrCat(" (", options.loop_iterations, "-iteration loop)")
                               : "",
                           " did not complete within ", absl::FormatDuration(options.budget))};
    }
    return {false, absl::StrCat(StageName(stuck), " of ", options.device,
                                " did not complete within ", absl::FormatDuration(options.budget))};
  }
  const int64_t v = report.failure_value;
  switch (report.failed) {
    case KvmStage::kNone:
      break;
    case KvmStage::kOpen:
      return {false,
              absl::StrCat("cannot open ", options.device, ": ", strerror(static_cast<int>(v)))};
    case KvmStage::kApiVersion:
      return {false,
              v < 0 ? absl::StrCat("KVM_GET_API_VERSION failed: ", strerror(static_cast<int>(-v)))
                    : absl::StrCat("KVM_GET_API_VERSION returned ", v, " (want ", KVM_API_VERSION,
                                   ")")};
    case KvmStage::kCreateVm:
      return {false, absl::StrCat("cannot set up a test VM: ", strerror(static_cast<int>(v)))};
    case KvmStage::kRealMode:
      return {false, absl::StrCat("the real-mode test guest did not exit with port I/O (KVM "
                                  "exit reason ",
                                  v, ")")};
    case KvmStage::kLongMode:
      return {false, absl::StrCat("the long-mode test guest did not exit with port I/O (KVM "
                                  "exit reason ",
                                  v, ")")};
  }
  if (!report.loop_time) {
    return {false, absl::StrCat("the probe process exited after stage '",
                                StageName(report.last_passed), "' without a result")};
  }
  const absl::Duration loop = *report.loop_time;
  if (loop > options.max_loop_time) {
    return {false,
            absl::StrCat("KVM runs guest code far too slowly: a ", options.loop_iterations,
                         "-iteration loop took ", Ms(loop), " (limit ", Ms(options.max_loop_time),
                         "); nested virtualisation without hardware support?")};
  }
  return {true, absl::StrCat(options.loop_iterations, "-iteration guest loop ran in ", Ms(loop))};
}

ProbeStep RunQemuProbe(const ProbeOptions& options, absl::Duration budget) {
  return RunQemuProbeUntil(options, SteadyClock::now() + absl::ToChronoNanoseconds(std::max(
                                                             budget, absl::ZeroDuration())));
}

ProbeResult DecideAccelerator(const ProbeStep& ioctl, const std::optional<ProbeStep>& qemu) {
  ProbeResult result;
  result.elapsed = absl::ZeroDuration();
  if (!ioctl.ok) {
    result.accelerator = Accelerator::kTcg;
    result.reason = absl::StrCat("KVM unusable, using TCG: ", ioctl.detail);
    return result;
  }
  if (qemu && !qemu->ok) {
    result.accelerator = Accelerator::kTcg;
    result.reason = absl::StrCat("KVM unusable, using TCG: ", ioctl.detail, ", but ", qemu->detail);
    return result;
  }
  result.accelerator = Accelerator::kKvm;
  result.reason =
      absl::StrCat("KVM works: ", ioctl.detail, qemu ? "; " : "", qemu ? qemu->detail : "");
  return result;
}

ProbeResult SelectAccelerator(AcceleratorMode mode, const ProbeOptions& options) {
  switch (mode) {
    case AcceleratorMode::kTcg:
      return {.accelerator = Accelerator::kTcg,
              .reason = "TCG forced by --accel=tcg (KVM not probed)",
              .elapsed = absl::ZeroDuration()};
    case AcceleratorMode::kKvm: {
      ProbeResult probe = ProbeAccelerator(options);
      return {.accelerator = Accelerator::kKvm,
              .reason = absl::StrCat("KVM forced by --accel=kvm; the probe said: ", probe.reason),
              .elapsed = probe.elapsed};
    }
    case AcceleratorMode::kAuto:
      break;
  }
  return ProbeAccelerator(options);
}

std::string BootSectorPrinting(std::string_view message) {
  // cli; xor ax,ax; mov ds,ax; mov si,0x7c16;
  // 1: lodsb; test al,al; jz 2f; mov dx,0x3f8; out dx,al; jmp 1b;  2: hlt; jmp 2b
  static constexpr uint8_t kCode[] = {0xfa, 0x31, 0xc0, 0x8e, 0xd8, 0xbe, 0x16, 0x7c,
                                      0xac, 0x84, 0xc0, 0x74, 0x06, 0xba, 0xf8, 0x03,
                                      0xee, 0xeb, 0xf5, 0xf4, 0xeb, 0xfd};
  static_assert(sizeof(kCode) == 0x16, "message must start at 0x7c16");
  std::string sector(512, '\0');
  memcpy(sector.data(), kCode, sizeof(kCode));
  const size_t n = std::min<size_t>(message.size(), 400);
  memcpy(sector.data() + sizeof(kCode), message.data(), n);  // NUL-terminated by the zero fill
  sector[510] = static_cast<char>(0x55);
  sector[511] = static_cast<char>(0xaa);
  return sector;
}

}  // namespace minicloud::hypervisor
