// The KVM probe, one verdict per case: stages 1-3 (the ioctl child) are replaced by made-up
// reports and stage 4 (QEMU) by small shell scripts, so every case asserts what it decides
// whatever KVM this host has. The real ioctl child runs only where its verdict is certain (a
// device that does not exist, a device that is not KVM).

#include "agent/hypervisor/kvm_probe.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "tests/testing/temp_dir.h"

namespace minicloud::hypervisor {
namespace {

using minicloud::testing::TempDir;

IoctlProbeReport Passed(absl::Duration loop) {
  IoctlProbeReport r;
  r.last_passed = KvmStage::kLongMode;
  r.loop_time = loop;
  return r;
}
IoctlProbeReport FailedAt(KvmStage passed, KvmStage failed, int64_t value) {
  IoctlProbeReport r;
  r.last_passed = passed;
  r.failed = failed;
  r.failure_value = value;
  return r;
}
IoctlProbeReport TimedOutAfter(KvmStage passed) {
  IoctlProbeReport r;
  r.last_passed = passed;
  r.timed_out = true;
  return r;
}
IoctlProbeReport EndedAfter(KvmStage passed) {
  IoctlProbeReport r;
  r.last_passed = passed;
  return r;
}

TEST_CASE("KVM probe: each ioctl report has one verdict and says why", "[kvm_probe]") {
  struct Case {
    std::string name;
    IoctlProbeReport report;
    Accelerator verdict;
    std::string reason;  // the whole reason
  };
  const std::vector<Case> cases = {
      {"fast loop", Passed(absl::Milliseconds(1)), Accelerator::kKvm,
       "KVM works: 200000-iteration guest loop ran in 1.00ms"},
      {"loop exactly at the limit", Passed(absl::Milliseconds(50)), Accelerator::kKvm,
       "KVM works: 200000-iteration guest loop ran in 50ms"},
      {"nested KVM without hardware support", Passed(absl::Milliseconds(300)), Accelerator::kTcg,
       "KVM unusable, using TCG: KVM runs guest code far too slowly: a 200000-iteration loop "
       "took 300ms (limit 50ms); nested virtualisation without hardware support?"},
      {"no device", FailedAt(KvmStage::kNone, KvmStage::kOpen, ENOENT), Accelerator::kTcg,
       "KVM unusable, using TCG: cannot open /dev/kvm: No such file or directory"},
      {"old API", FailedAt(KvmStage::kOpen, KvmStage::kApiVersion, 11), Accelerator::kTcg,
       "KVM unusable, using TCG: KVM_GET_API_VERSION returned 11 (want 12)"},
      {"not a KVM device", FailedAt(KvmStage::kOpen, KvmStage::kApiVersion, -ENOTTY),
       Accelerator::kTcg,
       "KVM unusable, using TCG: KVM_GET_API_VERSION failed: Inappropriate ioctl for device"},
      {"VM refused", FailedAt(KvmStage::kApiVersion, KvmStage::kCreateVm, EPERM), Accelerator::kTcg,
       "KVM unusable, using TCG: cannot set up a test VM: Operation not permitted"},
      {"real-mode guest wrong exit", FailedAt(KvmStage::kCreateVm, KvmStage::kRealMode, 8),
       Accelerator::kTcg,
       "KVM unusable, using TCG: the real-mode test guest did not exit with port I/O (KVM exit "
       "reason 8)"},
      {"long-mode guest wrong exit", FailedAt(KvmStage::kRealMode, KvmStage::kLongMode, 17),
       Accelerator::kTcg,
       "KVM unusable, using TCG: the long-mode test guest did not exit with port I/O (KVM exit "
       "reason 17)"},
      {"open hangs", TimedOutAfter(KvmStage::kNone), Accelerator::kTcg,
       "KVM unusable, using TCG: open of /dev/kvm did not complete within 2s"},
      {"real-mode KVM_RUN hangs", TimedOutAfter(KvmStage::kCreateVm), Accelerator::kTcg,
       "KVM unusable, using TCG: KVM_RUN of the real-mode test guest did not complete within 2s"},
      {"long-mode KVM_RUN hangs", TimedOutAfter(KvmStage::kRealMode), Accelerator::kTcg,
       "KVM unusable, using TCG: KVM_RUN of the long-mode test guest (200000-iteration loop) did "
       "not complete within 2s"},
      {"child died", EndedAfter(KvmStage::kRealMode), Accelerator::kTcg,
       "KVM unusable, using TCG: the probe process exited after stage 'real-mode test guest' "
       "without a result"},
      {"no fork",
       [] {
         IoctlProbeReport r;
         r.probe_error = "cannot fork the probe: Resource temporarily unavailable";
         return r;
       }(),
       Accelerator::kTcg,
       "KVM unusable, using TCG: cannot fork the probe: Resource temporarily unavailable"},
  };
  const ProbeOptions options;  // defaults: 2 s budget, 50 ms loop limit, /dev/kvm
  for (const Case& c : cases) {
    SECTION(c.name) {
      const ProbeResult r = DecideAccelerator(InterpretIoctlProbe(c.report, options), std::nullopt);
      CHECK(r.accelerator == c.verdict);
      CHECK(r.reason == c.reason);
    }
  }
}

TEST_CASE("KVM probe: the QEMU stage can veto KVM but never grant it", "[kvm_probe]") {
  const ProbeStep ioctl_ok{true, "loop fine"};
  const ProbeStep ioctl_bad{false, "loop slow"};
  const ProbeStep qemu_ok{true, "qemu booted"};
  const ProbeStep qemu_bad{false, "qemu failed"};
  CHECK(DecideAccelerator(ioctl_ok, qemu_ok).accelerator == Accelerator::kKvm);
  CHECK(DecideAccelerator(ioctl_ok, qemu_ok).reason == "KVM works: loop fine; qemu booted");
  CHECK(DecideAccelerator(ioctl_ok, std::nullopt).reason == "KVM works: loop fine");
  CHECK(DecideAccelerator(ioctl_ok, qemu_bad).accelerator == Accelerator::kTcg);
  CHECK(DecideAccelerator(ioctl_ok, qemu_bad).reason ==
        "KVM unusable, using TCG: loop fine, but qemu failed");
  CHECK(DecideAccelerator(ioctl_bad, qemu_ok).accelerator == Accelerator::kTcg);
  CHECK(DecideAccelerator(ioctl_bad, qemu_ok).reason == "KVM unusable, using TCG: loop slow");
}

// A stand-in for qemu-system-x86_64 in `dir`: finds its -serial file:PATH argument, then runs
// `body` (a shell snippet that may use $serial). Returns its path.
std::string FakeQemu(const TempDir& dir, const std::string& name, const std::string& body) {
  const std::string path = dir / name;
  std::ofstream(path) << "#!/bin/sh\n"
                      << "echo $$ >'" << dir / (name + ".pid") << "'\n"
                      << "while [ $# -gt 0 ]; do\n"
                      << "  case $1 in -serial) serial=${2#file:}; shift ;; esac\n"
                      << "  shift\n"
                      << "done\n"
                      << body << "\n";
  chmod(path.c_str(), 0755);
  return path;
}

int PidOf(const TempDir& dir, const std::string& name) {
  std::ifstream in(dir / (name + ".pid"));
  int pid = 0;
  in >> pid;
  return pid;
}

bool Alive(int pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return false;
  const size_t paren = line.rfind(')');
  return paren != std::string::npos && paren + 2 < line.size() && line[paren + 2] != 'Z';
}

ProbeOptions WithFakes(const TempDir& dir, IoctlProbeReport report, std::string qemu) {
  ProbeOptions o;
  o.ioctl_probe = [report](const ProbeOptions&) { return report; };
  o.qemu_binary = std::move(qemu);
  o.scratch_dir = dir.path();
  return o;
}

TEST_CASE("KVM probe: end to end with a fake ioctl stage and fake QEMUs", "[kvm_probe]") {
  TempDir dir;
  const std::string prints =
      FakeQemu(dir, "prints", "printf 'MINICLOUD-KVM-PROBE-OK\\r\\n' >\"$serial\"\nexec sleep 600");
  const std::string refuses = FakeQemu(
      dir, "refuses",
      "echo 'qemu-system-x86_64: -accel kvm: Could not access KVM kernel module: Permission "
      "denied' >&2\nexit 1");
  const std::string hangs = FakeQemu(dir, "hangs", "exec sleep 600");

  SECTION("ioctl stages pass and QEMU boots the test guest: KVM") {
    const ProbeResult r = ProbeAccelerator(WithFakes(dir, Passed(absl::Milliseconds(1)), prints));
    CHECK(r.accelerator == Accelerator::kKvm);
    CHECK_THAT(r.reason,
               Catch::StartsWith("KVM works: 200000-iteration guest loop ran in 1.00ms; " + prints +
                                 " -accel kvm -cpu host booted a test guest"));
    CHECK_FALSE(Alive(PidOf(dir, "prints")));  // killed once it printed
  }
  SECTION("QEMU refuses KVM: TCG with QEMU's own words") {
    const ProbeResult r = ProbeAccelerator(WithFakes(dir, Passed(absl::Milliseconds(1)), refuses));
    CHECK(r.accelerator == Accelerator::kTcg);
    CHECK(r.reason ==
          "KVM unusable, using TCG: 200000-iteration guest loop ran in 1.00ms, but " + refuses +
              " -accel kvm -cpu host exited (status 1) before the test guest printed: "
              "qemu-system-x86_64: -accel kvm: Could not access KVM kernel module: Permission "
              "denied");
  }
  SECTION("QEMU never prints: TCG at the budget, and QEMU is killed") {
    ProbeOptions o = WithFakes(dir, Passed(absl::Milliseconds(1)), hangs);
    o.budget = absl::Seconds(2);
    const ProbeResult r = ProbeAccelerator(o);
    CHECK(r.accelerator == Accelerator::kTcg);
    CHECK_THAT(r.reason, Catch::EndsWith(hangs + " -accel kvm -cpu host: the test guest did not "
                                                 "print within 2s"));
    const int pid = PidOf(dir, "hangs");
    REQUIRE(pid > 0);
    CHECK_FALSE(Alive(pid));
  }
  SECTION("slow ioctl stages: TCG, and QEMU is not even started") {
    const ProbeResult r = ProbeAccelerator(WithFakes(dir, Passed(absl::Milliseconds(300)), prints));
    CHECK(r.accelerator == Accelerator::kTcg);
    CHECK_THAT(r.reason, Catch::Contains("far too slowly"));
    CHECK(PidOf(dir, "prints") == 0);
  }
  SECTION("no QEMU stage configured: the ioctl stages decide") {
    const ProbeResult r = ProbeAccelerator(WithFakes(dir, Passed(absl::Milliseconds(1)), ""));
    CHECK(r.accelerator == Accelerator::kKvm);
    CHECK(r.reason == "KVM works: 200000-iteration guest loop ran in 1.00ms");
  }
  SECTION("QEMU not installed: the QEMU stage is skipped and says so") {
    const ProbeResult r =
        ProbeAccelerator(WithFakes(dir, Passed(absl::Milliseconds(1)), dir / "no-such-qemu"));
    CHECK(r.accelerator == Accelerator::kKvm);
    CHECK_THAT(r.reason,
               Catch::EndsWith("; qemu check skipped (" + dir / "no-such-qemu" + " not found)"));
  }
}

TEST_CASE("KVM probe: the real ioctl child on devices with a certain verdict", "[kvm_probe]") {
  ProbeOptions options;
  options.qemu_binary = "";
  SECTION("a missing device means TCG") {
    options.device = "/nonexistent/kvm";
    const ProbeResult result = ProbeAccelerator(options);
    CHECK(result.accelerator == Accelerator::kTcg);
    CHECK(result.reason ==
          "KVM unusable, using TCG: cannot open /nonexistent/kvm: No such file or directory");
  }
  SECTION("a device that is not KVM means TCG") {
    options.device = "/dev/null";
    const ProbeResult result = ProbeAccelerator(options);
    CHECK(result.accelerator == Accelerator::kTcg);
    CHECK(result.reason ==
          "KVM unusable, using TCG: KVM_GET_API_VERSION failed: Inappropriate ioctl for device");
  }
}

TEST_CASE("Accelerator flag parsing and forcing", "[kvm_probe]") {
  CHECK(*ParseAcceleratorMode("auto") == AcceleratorMode::kAuto);
  CHECK(*ParseAcceleratorMode("KVM") == AcceleratorMode::kKvm);
  CHECK(*ParseAcceleratorMode(" tcg ") == AcceleratorMode::kTcg);
  CHECK(ParseAcceleratorMode("xen").status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(AcceleratorModeName(AcceleratorMode::kAuto) == "auto");

  int probes = 0;
  ProbeOptions options;
  options.qemu_binary = "";
  options.ioctl_probe = [&](const ProbeOptions&) {
    ++probes;
    return FailedAt(KvmStage::kNone, KvmStage::kOpen, ENOENT);
  };
  const ProbeResult tcg = SelectAccelerator(AcceleratorMode::kTcg, options);
  CHECK(tcg.accelerator == Accelerator::kTcg);
  CHECK(tcg.reason == "TCG forced by --accel=tcg (KVM not probed)");
  CHECK(probes == 0);
  const ProbeResult kvm = SelectAccelerator(AcceleratorMode::kKvm, options);
  CHECK(kvm.accelerator == Accelerator::kKvm);
  CHECK(kvm.reason ==
        "KVM forced by --accel=kvm; the probe said: KVM unusable, using TCG: cannot open "
        "/dev/kvm: No such file or directory");
  CHECK(probes == 1);
  const ProbeResult automatic = SelectAccelerator(AcceleratorMode::kAuto, options);
  CHECK(automatic.accelerator == Accelerator::kTcg);
  CHECK(probes == 2);
}

TEST_CASE("BootSectorPrinting builds a valid MBR", "[kvm_probe]") {
  const std::string sector = BootSectorPrinting("hello");
  REQUIRE(sector.size() == 512);
  CHECK(static_cast<unsigned char>(sector[510]) == 0x55);
  CHECK(static_cast<unsigned char>(sector[511]) == 0xaa);
  CHECK(sector.substr(0x16, 6) == std::string("hello\0", 6));
  CHECK(BootSectorPrinting(std::string(1000, 'x')).size() == 512);
}

TEST_CASE("AcceleratorName and DomainStateName", "[kvm_probe]") {
  CHECK(AcceleratorName(Accelerator::kKvm) == "kvm");
  CHECK(AcceleratorName(Accelerator::kTcg) == "tcg");
  CHECK(DomainStateName(DomainState::kRunning) == "running");
  CHECK(DomainStateName(DomainState::kShutoff) == "shutoff");
}

}  // namespace
}  // namespace minicloud::hypervisor
