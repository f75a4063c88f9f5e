// The real adapter against libvirt's in-memory test driver (test:///default): no QEMU, but the
// same C API, XML parser and error paths. The test driver keeps one shared state per process,
// with a pre-defined foreign domain named "test"; every test cleans up what it creates.
//
// The test talks to libvirt directly (like an operator with virsh would) only to simulate
// things that happen outside the adapter: a guest powering off, a domain defined by someone else.

#include "agent/hypervisor/libvirt/libvirt_hypervisor.h"

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "agent/hypervisor/domain_xml.h"
#include "agent/hypervisor/libvirt/embed_root.h"
#include "tests/testing/skip.h"
#include "tests/unit/hypervisor/spec_builder.h"

namespace minicloud::hypervisor {
namespace {

using testing::MakeSpec;

constexpr char kTestUri[] = "test:///default";
// UUID of the test driver's built-in domain "test".
constexpr char kBuiltinTestUuid[] = "6695eb01-f6a4-8304-79aa-97f2502e193f";

std::unique_ptr<LibvirtHypervisor> OpenTest() {
  absl::StatusOr<std::unique_ptr<LibvirtHypervisor>> hv = LibvirtHypervisor::Open(kTestUri);
  INFO(hv.status().ToString());
  REQUIRE(hv.ok());
  return std::move(*hv);
}

std::vector<std::string> Ids(const std::vector<DomainInfo>& infos) {
  std::vector<std::string> ids;
  for (const DomainInfo& i : infos) ids.push_back(i.instance_id);
  return ids;
}

// Direct libvirt access for simulating the outside world.
struct Raw {
  Raw() : conn(virConnectOpen(kTestUri)) { REQUIRE(conn != nullptr); }
  ~Raw() { virConnectClose(conn); }
  void StopDomain(const std::string& name) {
    virDomainPtr d = virDomainLookupByName(conn, name.c_str());
    REQUIRE(d != nullptr);
    REQUIRE(virDomainDestroy(d) == 0);
    virDomainFree(d);
  }
  bool Exists(const std::string& name) {
    virDomainPtr d = virDomainLookupByName(conn, name.c_str());
    if (d == nullptr) {
      virResetLastError();
      return false;
    }
    virDomainFree(d);
    return true;
  }
  void DefineForeign(const std::string& name) {
    const std::string xml =
        absl::StrCat("<domain type='test'><name>", name,
                     "</name><memory unit='MiB'>64</memory><os><type>hvm</type></os></domain>");
    virDomainPtr d = virDomainDefineXML(conn, xml.c_str());
    REQUIRE(d != nullptr);
    virDomainFree(d);
  }
  void Undefine(const std::string& name) {
    virDomainPtr d = virDomainLookupByName(conn, name.c_str());
    if (d == nullptr) {
      virResetLastError();
      return;
    }
    if (virDomainIsActive(d) == 1) virDomainDestroy(d);
    virDomainUndefine(d);
    virDomainFree(d);
  }
  virConnectPtr conn;
};

TEST_CASE("libvirt: Open reports unreachable URIs as Unavailable", "[libvirt]") {
  absl::StatusOr<std::unique_ptr<LibvirtHypervisor>> hv =
      LibvirtHypervisor::Open("bogus:///nowhere");
  REQUIRE(!hv.ok());
  CHECK(hv.status().code() == absl::StatusCode::kUnavailable);
  CHECK_THAT(std::string(hv.status().message()),
             Catch::StartsWith("connect to bogus:///nowhere: "));
  CHECK(LibvirtHypervisor::Open("").status().code() == absl::StatusCode::kInvalidArgument);
}

TEST_CASE("libvirt: create, get, list, destroy", "[libvirt]") {
  auto hv = OpenTest();
  REQUIRE(hv->CreateAndStart(MakeSpec("i-lv-1").Nic("br0", "02:00:00:00:00:01")).ok());
  REQUIRE(hv->CreateAndStart(MakeSpec("i-lv-2")
                                 .Uuid("ec200000-0000-4000-8000-000000000002")
                                 .Kernel("/boot/vmlinuz", "/boot/initrd", "console=ttyS0"))
              .ok());
  absl::StatusOr<DomainInfo> info = hv->Get("i-lv-1");
  REQUIRE(info.ok());
  CHECK(info->instance_id == "i-lv-1");
  CHECK(info->state == DomainState::kRunning);
  CHECK(Ids(*hv->List()) == std::vector<std::string>{"i-lv-1", "i-lv-2"});

  REQUIRE(hv->Destroy("i-lv-1").ok());
  CHECK(hv->Get("i-lv-1").status().code() == absl::StatusCode::kNotFound);
  CHECK(!Raw().Exists("i-lv-1"));  // undefined, not just stopped
  REQUIRE(hv->Destroy("i-lv-2").ok());
  CHECK(hv->List()->empty());
}

TEST_CASE("libvirt: CreateAndStart and Destroy are idempotent", "[libvirt]") {
  auto hv = OpenTest();
  const DomainSpec spec = MakeSpec("i-lv-idem");
  REQUIRE(hv->CreateAndStart(spec).ok());
  REQUIRE(hv->CreateAndStart(spec).ok());
  CHECK(Ids(*hv->List()) == std::vector<std::string>{"i-lv-idem"});
  REQUIRE(hv->Destroy("i-lv-idem").ok());
  REQUIRE(hv->Destroy("i-lv-idem").ok());
  REQUIRE(hv->Destroy("i-never-existed").ok());
  CHECK(hv->List()->empty());
}

TEST_CASE("libvirt: a stopped owned domain is reported and restarted", "[libvirt]") {
  auto hv = OpenTest();
  Raw raw;
  REQUIRE(hv->CreateAndStart(MakeSpec("i-lv-stop").Vcpus(1)).ok());
  raw.StopDomain("i-lv-stop");  // e.g. the guest ran `poweroff` (on_poweroff=destroy)
  CHECK(hv->Get("i-lv-stop")->state == DomainState::kShutoff);
  CHECK(hv->List()->at(0).state == DomainState::kShutoff);
  REQUIRE(hv->CreateAndStart(MakeSpec("i-lv-stop").Vcpus(2)).ok());
  CHECK(hv->Get("i-lv-stop")->state == DomainState::kRunning);
  REQUIRE(hv->Destroy("i-lv-stop").ok());
  // Destroy of a stopped domain undefines it too.
  REQUIRE(hv->CreateAndStart(MakeSpec("i-lv-stop")).ok());
  raw.StopDomain("i-lv-stop");
  REQUIRE(hv->Destroy("i-lv-stop").ok());
  CHECK(!raw.Exists("i-lv-stop"));
}

// Would catch: a reboot that stops or undefines the domain, a reboot of a domain that is off
// reported as success, or one reaching a domain the agent does not own.
TEST_CASE("libvirt: RebootDomain keeps the domain running", "[libvirt]") {
  auto hv = OpenTest();
  Raw raw;
  REQUIRE(hv->CreateAndStart(MakeSpec("i-lv-reboot")).ok());
  absl::Status s = hv->RebootDomain("i-lv-reboot");
  INFO(s.ToString());
  REQUIRE(s.ok());
  CHECK(hv->Get("i-lv-reboot")->state == DomainState::kRunning);
  raw.StopDomain("i-lv-reboot");
  CHECK(hv->RebootDomain("i-lv-reboot").code() == absl::StatusCode::kFailedPrecondition);
  CHECK(hv->RebootDomain("i-lv-none").code() == absl::StatusCode::kNotFound);
  CHECK(hv->RebootDomain("test").code() == absl::StatusCode::kNotFound);  // not ours
  REQUIRE(hv->Destroy("i-lv-reboot").ok());
}

TEST_CASE("libvirt: StopDomain keeps the domain defined", "[libvirt]") {
  auto hv = OpenTest();
  Raw raw;
  for (StopMode mode : {StopMode::kGraceful, StopMode::kForce}) {
    REQUIRE(hv->CreateAndStart(MakeSpec("i-lv-halt")).ok());
    REQUIRE(hv->StopDomain("i-lv-halt", mode).ok());
    CHECK(hv->Get("i-lv-halt")->state == DomainState::kShutoff);
    CHECK(raw.Exists("i-lv-halt"));                             // disks and definition stay
    CHECK(hv->StopDomain("i-lv-halt", StopMode::kForce).ok());  // already off: success
    REQUIRE(hv->CreateAndStart(MakeSpec("i-lv-halt")).ok());    // boots again
    CHECK(hv->Get("i-lv-halt")->state == DomainState::kRunning);
    REQUIRE(hv->Destroy("i-lv-halt").ok());
  }
  CHECK(hv->StopDomain("i-lv-none", StopMode::kForce).code() == absl::StatusCode::kNotFound);
  CHECK(hv->StopDomain("test", StopMode::kForce).code() == absl::StatusCode::kNotFound);
  CHECK(raw.Exists("test"));  // not ours: untouched
}

TEST_CASE("libvirt: only owned domains are listed and touched", "[libvirt]") {
  auto hv = OpenTest();
  Raw raw;
  raw.DefineForeign("i-lv-foreign");
  REQUIRE(raw.Exists("test"));  // the test driver's own domain

  REQUIRE(hv->CreateAndStart(MakeSpec("i-lv-mine")).ok());
  CHECK(Ids(*hv->List()) == std::vector<std::string>{"i-lv-mine"});
  CHECK(hv->Get("test").status().code() == absl::StatusCode::kNotFound);
  CHECK(hv->Get("i-lv-foreign").status().code() == absl::StatusCode::kNotFound);

  const absl::Status destroy = hv->Destroy("test");
  CHECK(destroy.code() == absl::StatusCode::kFailedPrecondition);
  CHECK_THAT(std::string(destroy.message()), Catch::StartsWith("destroy test: "));
  CHECK(hv->Destroy("i-lv-foreign").code() == absl::StatusCode::kFailedPrecondition);
  CHECK(raw.Exists("test"));
  CHECK(raw.Exists("i-lv-foreign"));

  const absl::Status create = hv->CreateAndStart(MakeSpec("i-lv-foreign"));
  CHECK(create.code() == absl::StatusCode::kAlreadyExists);
  CHECK(raw.Exists("i-lv-foreign"));

  REQUIRE(hv->Destroy("i-lv-mine").ok());
  raw.Undefine("i-lv-foreign");
}

TEST_CASE("libvirt: a failed create leaves nothing behind", "[libvirt]") {
  auto hv = OpenTest();
  SECTION("libvirt rejects the definition (UUID taken by another domain)") {
    const absl::Status s = hv->CreateAndStart(MakeSpec("i-lv-fail").Uuid(kBuiltinTestUuid));
    REQUIRE(!s.ok());
    CHECK_THAT(std::string(s.message()), Catch::StartsWith("create i-lv-fail: define: "));
    CHECK_THAT(std::string(s.message()), Catch::Contains("test"));  // libvirt's own words
  }
  SECTION("the spec is invalid before libvirt sees it") {
    const absl::Status s = hv->CreateAndStart(MakeSpec("i-lv-fail").MemoryMib(1));
    CHECK(s.code() == absl::StatusCode::kInvalidArgument);
    CHECK_THAT(std::string(s.message()), Catch::StartsWith("create i-lv-fail: "));
  }
  CHECK(hv->Get("i-lv-fail").status().code() == absl::StatusCode::kNotFound);
  CHECK(!Raw().Exists("i-lv-fail"));
  CHECK(hv->List()->empty());
}

TEST_CASE("libvirt: a new object re-adopts running domains", "[libvirt]") {
  // test:///default discards its state when the last connection of the process closes; keep
  // one open so the domain outlives the first adapter (as a real hypervisor's would).
  Raw keeper;
  {
    auto hv = OpenTest();
    REQUIRE(hv->CreateAndStart(MakeSpec("i-lv-adopt")).ok());
  }  // connection closed
  auto hv = OpenTest();
  CHECK(Ids(*hv->List()) == std::vector<std::string>{"i-lv-adopt"});
  CHECK(hv->Get("i-lv-adopt")->state == DomainState::kRunning);
  REQUIRE(hv->Destroy("i-lv-adopt").ok());
}

TEST_CASE("libvirt: host resources", "[libvirt]") {
  auto hv = OpenTest();
  absl::StatusOr<HostResources> r = hv->GetHostResources();
  REQUIRE(r.ok());
  CHECK(r->cpus > 0);
  CHECK(r->memory_mib > 0);
}

TEST_CASE("libvirt: concurrent use of one connection", "[libvirt]") {
  auto hv = OpenTest();
  constexpr int kThreads = 4;
  constexpr int kPerThread = 10;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        // Distinct names and UUIDs per thread, plus every thread hammering one shared id.
        const std::string id = absl::StrCat("i-lv-c", t, "-", i);
        const std::string uuid = absl::StrFormat("ec2%05d-0000-4000-8000-%012d", t, i);
        if (!hv->CreateAndStart(MakeSpec(id).Uuid(uuid)).ok()) ++failures;
        if (!hv->CreateAndStart(
                   MakeSpec("i-lv-shared").Uuid("ec2fffff-0000-4000-8000-000000000000"))
                 .ok()) {
          ++failures;
        }
        if (!hv->List().ok()) ++failures;
        if (!hv->Destroy(id).ok()) ++failures;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  CHECK(failures == 0);
  CHECK(Ids(*hv->List()) == std::vector<std::string>{"i-lv-shared"});
  REQUIRE(hv->Destroy("i-lv-shared").ok());
}

mode_t ModeOf(const std::filesystem::path& p) {
  struct stat st {};
  REQUIRE(::stat(p.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

gid_t GroupOf(const std::filesystem::path& p) {
  struct stat st {};
  REQUIRE(::stat(p.c_str(), &st) == 0);
  return st.st_gid;
}

TEST_CASE("PrepareEmbedRoot writes qemu.conf where the embedded driver reads it",
          "[libvirt][embed]") {
  char tmpl[] = "/tmp/mc-embed-root-XXXXXX";
  REQUIRE(mkdtemp(tmpl) != nullptr);
  const std::filesystem::path root = tmpl;
  const absl::Status s = PrepareEmbedRoot(root.string(), QemuAccount{});
  if (s.code() == absl::StatusCode::kFailedPrecondition) {
    // Host without the libvirt-qemu account: the message must say how to fix it, and the rest
    // of the test cannot run (deploy/install-deps.sh creates the account).
    std::filesystem::remove_all(root);
    REQUIRE_THAT(std::string(s.message()), Catch::Contains("useradd"));
    minicloud::testing::SkipTest("no libvirt-qemu account: " + std::string(s.message()));
  }
  REQUIRE(s.ok());
  std::ifstream in(root / "etc" / "qemu.conf");
  std::stringstream conf;
  conf << in.rdbuf();
  CHECK(conf.str() == EmbedQemuConf(QemuAccount{}));
  CHECK_THAT(conf.str(), Catch::Contains("user = \"root\""));
  CHECK_THAT(conf.str(), Catch::Contains("stdio_handler = \"file\""));
  CHECK_THAT(conf.str(), Catch::Contains("cgroup_controllers = [ ]"));
  CHECK_THAT(conf.str(), Catch::Contains("dynamic_ownership = 0"));
  CHECK(ModeOf(root / "etc" / "qemu.conf") == 0600);
  CHECK(PrepareEmbedRoot(root.string(), QemuAccount{}).ok());  // idempotent
  // EBS disks are plugged over QMP with their own TLS object: libvirt gets no NBD TLS setting
  // (nbd_tls = 1 would force TLS on every NBD disk it ever made).
  CHECK_THAT(EmbedQemuConf(QemuAccount{}), !Catch::Contains("nbd_tls"));
  CHECK(EmbedUri(root.string()) == "qemu:///embed?root=" + root.string());
  CHECK(PrepareEmbedRoot("relative/root", QemuAccount{}).code() ==
        absl::StatusCode::kInvalidArgument);
  CHECK(PrepareEmbedRoot("/" + std::string(60, 'x'), QemuAccount{}).code() ==
        absl::StatusCode::kInvalidArgument);
  std::filesystem::remove_all(root);
}

TEST_CASE(
    "PrepareEmbedRoot for an unprivileged QEMU: its user in qemu.conf, ROOT and ROOT/lib "
    "searchable by its group only",
    "[libvirt][embed]") {
  MC_SKIP_UNLESS(::geteuid() == 0, "needs root (the files are given to another group)");
  auto account = LookupQemuAccount(kDefaultQemuUser);
  MC_SKIP_UNLESS(account.ok(), "no minicloud-qemu account (deploy/install-deps.sh creates it)");
  char tmpl[] = "/tmp/mc-embed-root-XXXXXX";
  REQUIRE(mkdtemp(tmpl) != nullptr);
  const std::filesystem::path root = tmpl;
  const absl::Status s = PrepareEmbedRoot(root.string(), *account);
  INFO(s.ToString());
  REQUIRE(s.ok());
  std::ifstream in(root / "etc" / "qemu.conf");
  std::stringstream conf;
  conf << in.rdbuf();
  CHECK_THAT(conf.str(), Catch::Contains("user = \"minicloud-qemu\""));
  CHECK_THAT(conf.str(), Catch::Contains("group = \"minicloud-qemu\""));
  CHECK_THAT(conf.str(), Catch::Contains("dynamic_ownership = 0"));
  for (const auto& dir : {root, root / "lib"}) {
    INFO(dir);
    CHECK(ModeOf(dir) == 0710);
    CHECK(GroupOf(dir) == account->gid);
  }
  CHECK(ModeOf(root / "etc") == 0700);
  CHECK(ModeOf(root / "etc" / "qemu.conf") == 0600);
  std::filesystem::remove_all(root);
}

}  // namespace
}  // namespace minicloud::hypervisor
