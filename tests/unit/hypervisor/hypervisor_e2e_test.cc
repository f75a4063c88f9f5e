// End-to-end checks of the libvirt adapter with real QEMU guests through the embedded driver
// (qemu:///embed?root=<tmpdir>), labelled e2e. Needs root, qemu-system-x86, qemu-utils and the
// libvirt-qemu account (see embed_root.h). Guests run under TCG; each test takes a few seconds.
//
// The guest is the smallest thing that boots: a 512-byte boot sector that prints a marker on
// COM1 and halts (BootSectorPrinting). A direct-kernel-boot case boots the tiny AMI built by
// images/build-tiny-ami.sh (kernel + initramfs under /var/cache/minicloud/images/tiny); without
// it that case is reported as skipped.
//
// Restart survival (the product requirement): the guest must keep running when the adapter is
// destroyed, and a new adapter - in this process and in a fresh process - must adopt it.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "agent/hypervisor/kvm_probe.h"
#include "agent/hypervisor/libvirt/embed_root.h"
#include "agent/hypervisor/libvirt/libvirt_hypervisor.h"
#include "nlohmann/json.hpp"
#include "tests/testing/skip.h"
#include "tests/unit/hypervisor/real_guest_util.h"
#include "tests/unit/hypervisor/temp_embed_root.h"

namespace minicloud::hypervisor {
namespace {

namespace fs = std::filesystem;
using real_guest::ReadFile;
using real_guest::Run;
using real_guest::WaitFor;

constexpr char kMarker[] = "MINICLOUD-E2E-GUEST-UP";
constexpr char kChildRootEnv[] = "MINICLOUD_E2E_CHILD_ROOT";
constexpr char kChildIdEnv[] = "MINICLOUD_E2E_CHILD_ID";

// The embed root of one test (temp_embed_root.h).
struct EmbedRoot : real_guest::TempEmbedRoot {
  EmbedRoot() : TempEmbedRoot("mchv") {}
};

// base.qcow2 holding the boot sector, and an overlay on top of it (what the agent boots).
fs::path MakeBootSectorDisk(const fs::path& dir) {
  std::string image = BootSectorPrinting(absl::StrCat(kMarker, "\r\n"));
  image.resize(1 << 20, '\0');  // SeaBIOS skips single-sector virtio disks
  const fs::path raw = dir / "base.raw";
  std::ofstream(raw, std::ios::binary).write(image.data(), image.size());
  const fs::path base = dir / "base.qcow2";
  const fs::path overlay = dir / "root.qcow2";
  REQUIRE(Run(absl::StrCat("qemu-img convert -q -f raw -O qcow2 ", raw.string(), " ",
                           base.string())) == 0);
  REQUIRE(Run(absl::StrCat("qemu-img create -q -f qcow2 -F qcow2 -b ", base.string(), " ",
                           overlay.string())) == 0);
  return overlay;
}

// make_disk=false reuses the disk of an existing guest (it is in use: do not rewrite it).
DomainSpec BootSectorSpec(const std::string& id, const fs::path& root, bool make_disk = true) {
  DomainSpec spec;
  spec.instance_id = id;
  spec.smbios_uuid = "ec2e2e00-0000-4000-8000-" + id.substr(id.size() - 12);  // unique per id
  spec.smbios_serial = spec.smbios_uuid;
  spec.vcpus = 1;
  spec.memory_mib = 64;
  spec.accelerator = Accelerator::kTcg;
  spec.root_disk = make_disk ? MakeBootSectorDisk(root).string() : (root / "root.qcow2").string();
  spec.console_log = (root / "console.log").string();
  return spec;
}

std::unique_ptr<LibvirtHypervisor> OpenOrDie(const std::string& uri) {
  absl::StatusOr<std::unique_ptr<LibvirtHypervisor>> hv = LibvirtHypervisor::Open(uri);
  INFO(hv.status().ToString());
  REQUIRE(hv.ok());
  return std::move(*hv);
}

// The QEMU pid libvirt recorded for the domain.
pid_t QemuPid(const fs::path& root, const std::string& id) {
  const std::string text = ReadFile(root / "run" / "qemu" / (id + ".pid"));
  return text.empty() ? -1 : static_cast<pid_t>(std::stol(text));
}

bool Alive(pid_t pid) { return pid > 0 && kill(pid, 0) == 0; }

// The process's line for the cpu controller in /proc/PID/cgroup ("" when there is none).
std::string CpuCgroup(pid_t pid) {
  std::istringstream in(ReadFile(fs::path("/proc") / std::to_string(pid) / "cgroup"));
  for (std::string line; std::getline(in, line);) {
    const auto first = line.find(':');
    const auto second = line.find(':', first + 1);
    if (first == std::string::npos || second == std::string::npos) continue;
    const std::string controllers = "," + line.substr(first + 1, second - first - 1) + ",";
    // cgroup v1 names the controllers; the v2 unified line ("0::/path") carries them all.
    if (controllers.find(",cpu,") != std::string::npos || controllers == ",,") {
      return line.substr(second + 1);
    }
  }
  return "";
}

bool Lists(LibvirtHypervisor& hv, const std::string& id, DomainState state) {
  absl::StatusOr<std::vector<DomainInfo>> list = hv.List();
  if (!list.ok()) return false;
  for (const DomainInfo& d : *list) {
    if (d.instance_id == id && d.state == state) return true;
  }
  return false;
}

// The embedded driver allows ONE root per process, for the life of the process (it keeps
// DIR/run/qemu/driver.pid locked even after the last connection closed). The in-process tests
// share one root; the restart test uses its own root and touches it only from child processes.
EmbedRoot& SharedRoot() {
  // Never destroyed (the driver outlives main()); its directory is removed at exit.
  static EmbedRoot* root = [] {
    auto* r = new EmbedRoot();
    std::atexit([] {
      std::error_code ec;
      fs::remove_all(SharedRoot().dir, ec);
    });
    return r;
  }();
  return *root;
}

// Re-executes this test binary to run one hidden "[.e2e-child]" test case in a fresh process.
int RunChild(const std::string& test_name, const fs::path& root, const std::string& id) {
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    setenv(kChildRootEnv, root.c_str(), 1);
    setenv(kChildIdEnv, id.c_str(), 1);
    execl("/proc/self/exe", "hypervisor_e2e_test", test_name.c_str(), "--reporter", "compact",
          static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

struct ChildEnv {
  ChildEnv() {
    const char* r = std::getenv(kChildRootEnv);
    const char* i = std::getenv(kChildIdEnv);
    REQUIRE(r != nullptr);
    REQUIRE(i != nullptr);
    root = r;
    id = i;
  }
  fs::path root;
  std::string id;
};

// Agent #1: starts the guest, waits for its console, then dies without closing anything
// (like a crash or SIGKILL of the agent).
TEST_CASE("e2e child: start a guest then crash", "[.e2e-child]") {
  ChildEnv env;
  auto hv = OpenOrDie(EmbedUri(env.root.string()));
  const DomainSpec spec = BootSectorSpec(env.id, env.root);
  const absl::Status created = hv->CreateAndStart(spec);
  INFO(created.ToString());
  REQUIRE(created.ok());
  const bool printed =
      WaitFor([&] { return ReadFile(spec.console_log).find(kMarker) != std::string::npos; },
              std::chrono::seconds(60));
  INFO("console: " << ReadFile(spec.console_log));
  REQUIRE(printed);
  std::fflush(nullptr);
  std::_Exit(0);  // no destructors, no virConnectClose
}

// Agent #2: a fresh process adopts the guest and survives an in-process adapter restart;
// then it exits normally (connection closed, driver shut down at exit).
TEST_CASE("e2e child: adopt the guest", "[.e2e-child]") {
  ChildEnv env;
  const pid_t qemu = QemuPid(env.root, env.id);
  REQUIRE(Alive(qemu));
  auto hv = OpenOrDie(EmbedUri(env.root.string()));
  REQUIRE(Lists(*hv, env.id, DomainState::kRunning));
  CHECK(QemuPid(env.root, env.id) == qemu);  // the same QEMU, not a restart
  // Idempotent create of an adopted guest does not restart it.
  CHECK(hv->CreateAndStart(BootSectorSpec(env.id, env.root, /*make_disk=*/false)).ok());
  CHECK(QemuPid(env.root, env.id) == qemu);

  hv.reset();  // close the connection; the guest keeps running
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  REQUIRE(Alive(qemu));
  hv = OpenOrDie(EmbedUri(env.root.string()));
  CHECK(Lists(*hv, env.id, DomainState::kRunning));
  CHECK(hv->Get(env.id)->state == DomainState::kRunning);
}

// Agent #3: destroys the guest as its very first call. The driver reconnects to running QEMUs
// on a background thread when it starts; a destroy racing with that reconnect can make libvirt
// report "domain is not running" although it killed QEMU. Destroy() must still succeed.
TEST_CASE("e2e child: destroy the guest right after connecting", "[.e2e-child]") {
  ChildEnv env;
  const pid_t qemu = QemuPid(env.root, env.id);
  REQUIRE(Alive(qemu));
  auto hv = OpenOrDie(EmbedUri(env.root.string()));
  const absl::Status destroyed = hv->Destroy(env.id);
  INFO(destroyed.ToString());
  REQUIRE(destroyed.ok());
  CHECK(hv->List()->empty());
  CHECK(hv->Get(env.id).status().code() == absl::StatusCode::kNotFound);
  CHECK(WaitFor([&] { return !Alive(qemu); }, std::chrono::seconds(10)));
  CHECK(hv->Destroy(env.id).ok());  // idempotent
}

// Kills a QEMU the test started if the test failed before destroying it.
struct QemuReaper {
  ~QemuReaper() {
    if (Alive(pid)) kill(pid, SIGKILL);
  }
  pid_t pid = -1;
};

// Destroys the domain when the test ends, whatever happened.
struct DomainGuard {
  ~DomainGuard() {
    if (auto hv = LibvirtHypervisor::Open(uri); hv.ok()) (void)(*hv)->Destroy(id);
  }
  std::string uri;
  std::string id;
};

TEST_CASE("hypervisor e2e: a guest survives its agent process and is adopted by the next one",
          "[e2e]") {
  EmbedRoot root;  // used only by the child processes
  const std::string id = "i-e2e0000000000001";
  const auto start = std::chrono::steady_clock::now();
  REQUIRE(RunChild("e2e child: start a guest then crash", root.dir, id) == 0);
  WARN("guest started and printed its marker after "
       << std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                start)
              .count()
       << " ms (includes the driver's first-use QEMU capability probe)");
  QemuReaper reaper{.pid = QemuPid(root.dir, id)};
  const pid_t qemu = reaper.pid;
  REQUIRE(Alive(qemu));  // the agent crashed, the guest did not

  REQUIRE(RunChild("e2e child: adopt the guest", root.dir, id) == 0);
  REQUIRE(Alive(qemu));  // the agent exited normally, the guest did not
  CHECK(QemuPid(root.dir, id) == qemu);

  REQUIRE(RunChild("e2e child: destroy the guest right after connecting", root.dir, id) == 0);
  CHECK(!Alive(qemu));
  CHECK(!fs::exists(root.dir / "etc" / "qemu" / (id + ".xml")));  // undefined
  CHECK(!fs::exists(root.dir / "run" / "qemu" / (id + ".xml")));  // no runtime state
  CHECK_THAT(ReadFile(root.dir / "console.log"), Catch::Contains(kMarker));
}

TEST_CASE("hypervisor e2e: a real guest boots and an in-process adapter restart keeps it",
          "[e2e]") {
  EmbedRoot& root = SharedRoot();
  const std::string id = "i-e2e0000000000005";
  const fs::path dir = root.dir / id;
  fs::create_directories(dir);
  const DomainSpec spec = BootSectorSpec(id, dir);
  DomainGuard guard{.uri = root.uri(), .id = id};
  auto hv = OpenOrDie(root.uri());
  REQUIRE(hv->CreateAndStart(spec).ok());
  REQUIRE(WaitFor([&] { return ReadFile(spec.console_log).find(kMarker) != std::string::npos; },
                  std::chrono::seconds(60)));
  const pid_t qemu = QemuPid(root.dir, id);
  REQUIRE(Alive(qemu));
  // The guest is scheduled like any process of the host, in the agent's own CPU cgroup (no
  // libvirt machine/ group weighing as one task; see EmbedQemuConf).
  CHECK(CpuCgroup(qemu) == CpuCgroup(getpid()));
  hv.reset();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  CHECK(Alive(qemu));
  hv = OpenOrDie(root.uri());
  CHECK(Lists(*hv, id, DomainState::kRunning));
  CHECK(QemuPid(root.dir, id) == qemu);
  REQUIRE(hv->Destroy(id).ok());
  CHECK(hv->List()->empty());
}

TEST_CASE("hypervisor e2e: the embedded driver serves one root per process", "[e2e]") {
  auto hv = OpenOrDie(SharedRoot().uri());  // this process's root
  EmbedRoot other;
  absl::StatusOr<std::unique_ptr<LibvirtHypervisor>> second = LibvirtHypervisor::Open(other.uri());
  REQUIRE(!second.ok());
  CHECK(second.status().code() == absl::StatusCode::kUnavailable);
  CHECK_THAT(std::string(second.status().message()), Catch::Contains("already open"));
  // The same root again is fine.
  CHECK(LibvirtHypervisor::Open(SharedRoot().uri()).ok());
}

TEST_CASE("hypervisor e2e: a guest that fails to start leaves nothing behind", "[e2e]") {
  EmbedRoot& root = SharedRoot();
  const std::string id = "i-e2e0000000000002";
  const fs::path dir = root.dir / id;
  fs::create_directories(dir);
  DomainSpec spec = BootSectorSpec(id, dir);
  spec.root_disk = (dir / "missing.qcow2").string();
  auto hv = OpenOrDie(root.uri());
  const absl::Status s = hv->CreateAndStart(spec);
  INFO(s.ToString());
  REQUIRE(!s.ok());
  CHECK_THAT(std::string(s.message()), Catch::StartsWith("create " + id + ": start: "));
  CHECK_THAT(std::string(s.message()), Catch::Contains("missing.qcow2"));
  CHECK(hv->Get(id).status().code() == absl::StatusCode::kNotFound);
  CHECK(hv->List()->empty());
  CHECK(!fs::exists(root.dir / "etc" / "qemu" / (id + ".xml")));
}

TEST_CASE("hypervisor e2e: a guest whose QEMU dies is reported stopped and can be started again",
          "[e2e]") {
  // Stands in for a guest powering itself off (on_poweroff=destroy): the QEMU process ends and
  // the domain stays defined but inactive.
  EmbedRoot& root = SharedRoot();
  const std::string id = "i-e2e0000000000003";
  const fs::path dir = root.dir / id;
  fs::create_directories(dir);
  const DomainSpec spec = BootSectorSpec(id, dir);
  DomainGuard guard{.uri = root.uri(), .id = id};
  auto hv = OpenOrDie(root.uri());
  REQUIRE(hv->CreateAndStart(spec).ok());
  const pid_t qemu = QemuPid(root.dir, id);
  REQUIRE(Alive(qemu));
  kill(qemu, SIGKILL);
  REQUIRE(WaitFor(
      [&] {
        return Lists(*hv, id, DomainState::kShutoff) || Lists(*hv, id, DomainState::kCrashed);
      },
      std::chrono::seconds(10)));
  REQUIRE(hv->CreateAndStart(spec).ok());
  CHECK(hv->Get(id)->state == DomainState::kRunning);
  CHECK(QemuPid(root.dir, id) != qemu);
  REQUIRE(hv->Destroy(id).ok());
  CHECK(hv->List()->empty());
}

// The tiny AMI of images/build-tiny-ami.sh (manifest.json + kernel + initramfs + qcow2).
// MINICLOUD_TINY_AMI_DIR overrides where it is looked for.
TEST_CASE("hypervisor e2e: the tiny AMI boots with a direct kernel boot", "[e2e]") {
  const char* env_dir = std::getenv("MINICLOUD_TINY_AMI_DIR");
  const fs::path ami = env_dir != nullptr ? env_dir : "/var/cache/minicloud/images/tiny";
  MC_SKIP_UNLESS(fs::exists(ami / "manifest.json"),
                 "no tiny AMI at " + ami.string() + " (run images/build-tiny-ami.sh)");
  const nlohmann::json manifest = nlohmann::json::parse(ReadFile(ami / "manifest.json"));
  EmbedRoot& root = SharedRoot();
  const std::string id = "i-e2e0000000000004";
  const fs::path dir = root.dir / id;
  fs::create_directories(dir);
  DomainSpec spec = BootSectorSpec(id, dir);
  const fs::path overlay = dir / "ami-root.qcow2";
  REQUIRE(Run(absl::StrCat("qemu-img create -q -f qcow2 -F qcow2 -b ",
                           (ami / manifest["disk"]["file"].get<std::string>()).string(), " ",
                           overlay.string())) == 0);
  spec.root_disk = overlay.string();
  spec.memory_mib = 256;
  spec.kernel = (ami / manifest["kernel"]["file"].get<std::string>()).string();
  spec.initrd = (ami / manifest["ramdisk"]["file"].get<std::string>()).string();
  spec.kernel_cmdline = manifest.value("kernel_cmdline", "console=ttyS0");
  DomainGuard guard{.uri = root.uri(), .id = id};
  auto hv = OpenOrDie(root.uri());
  const auto start = std::chrono::steady_clock::now();
  const absl::Status created = hv->CreateAndStart(spec);
  INFO(created.ToString());
  REQUIRE(created.ok());
  const nlohmann::json markers = manifest.value("console_markers", nlohmann::json::object());
  const std::string booted_marker = markers.value("booted", "minicloud-tiny: booted");
  const std::string heartbeat_marker = markers.value("heartbeat", "minicloud-tiny: heartbeat");
  const bool booted =
      WaitFor([&] { return ReadFile(spec.console_log).find(booted_marker) != std::string::npos; },
              std::chrono::seconds(90));
  const std::string console = ReadFile(spec.console_log);
  INFO("console tail: " << console.substr(console.size() > 3000 ? console.size() - 3000 : 0));
  REQUIRE(booted);
  WARN("tiny AMI booted after " << std::chrono::duration_cast<std::chrono::milliseconds>(
                                       std::chrono::steady_clock::now() - start)
                                       .count()
                                << " ms");

  // With no adapter open the guest keeps running and writing its console.
  auto count = [&](const std::string& text) {
    size_t n = 0;
    for (size_t pos = 0; (pos = text.find(heartbeat_marker, pos)) != std::string::npos; ++pos) {
      ++n;
    }
    return n;
  };
  hv.reset();
  const size_t beats = count(ReadFile(spec.console_log));
  CHECK(
      WaitFor([&] { return count(ReadFile(spec.console_log)) > beats; }, std::chrono::seconds(60)));
  hv = OpenOrDie(root.uri());
  CHECK(Lists(*hv, id, DomainState::kRunning));
  REQUIRE(hv->Destroy(id).ok());
}

}  // namespace
}  // namespace minicloud::hypervisor
