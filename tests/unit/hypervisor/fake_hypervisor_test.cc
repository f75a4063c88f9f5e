#include "agent/hypervisor/fake/fake_hypervisor.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tests/unit/hypervisor/spec_builder.h"

namespace minicloud::hypervisor {
namespace {

using testing::MakeSpec;

std::vector<std::string> Ids(const std::vector<DomainInfo>& infos) {
  std::vector<std::string> ids;
  for (const DomainInfo& i : infos) ids.push_back(i.instance_id);
  return ids;
}

TEST_CASE("Fake: create, get, list, destroy", "[fake]") {
  FakeHypervisor hv;
  REQUIRE(hv.CreateAndStart(MakeSpec("i-1")).ok());
  REQUIRE(hv.CreateAndStart(MakeSpec("i-2")).ok());
  absl::StatusOr<DomainInfo> info = hv.Get("i-1");
  REQUIRE(info.ok());
  CHECK(info->state == DomainState::kRunning);
  CHECK(Ids(*hv.List()) == std::vector<std::string>{"i-1", "i-2"});
  REQUIRE(hv.Destroy("i-1").ok());
  CHECK(hv.Get("i-1").status().code() == absl::StatusCode::kNotFound);
  CHECK(Ids(*hv.List()) == std::vector<std::string>{"i-2"});
}

TEST_CASE("Fake: CreateAndStart is idempotent for a running domain", "[fake]") {
  FakeHypervisor hv;
  REQUIRE(hv.CreateAndStart(MakeSpec("i-1")).ok());
  REQUIRE(hv.CreateAndStart(MakeSpec("i-1")).ok());
  CHECK(hv.starts() == 1);
  CHECK(hv.List()->size() == 1);
}

TEST_CASE("Fake: CreateAndStart restarts a stopped owned domain with the new spec", "[fake]") {
  FakeHypervisor hv;
  REQUIRE(hv.CreateAndStart(MakeSpec("i-1").Vcpus(1)).ok());
  REQUIRE(hv.SetState("i-1", DomainState::kShutoff).ok());
  CHECK(hv.Get("i-1")->state == DomainState::kShutoff);
  REQUIRE(hv.CreateAndStart(MakeSpec("i-1").Vcpus(4)).ok());
  CHECK(hv.Get("i-1")->state == DomainState::kRunning);
  CHECK(hv.SpecOf("i-1")->vcpus == 4);
  CHECK(hv.starts() == 2);
}

TEST_CASE("Fake: Destroy is idempotent", "[fake]") {
  FakeHypervisor hv;
  CHECK(hv.Destroy("i-nope").ok());
  REQUIRE(hv.CreateAndStart(MakeSpec("i-1")).ok());
  CHECK(hv.Destroy("i-1").ok());
  CHECK(hv.Destroy("i-1").ok());
  CHECK(hv.destroys() == 1);
}

TEST_CASE("Fake: foreign domains are invisible and untouchable", "[fake]") {
  FakeHypervisor hv;
  hv.AddForeignDomain("i-foreign");
  hv.AddForeignDomain("build-vm", DomainState::kShutoff);
  CHECK(hv.List()->empty());
  CHECK(hv.Get("i-foreign").status().code() == absl::StatusCode::kNotFound);
  const absl::Status destroy = hv.Destroy("i-foreign");
  CHECK(destroy.code() == absl::StatusCode::kFailedPrecondition);
  CHECK_THAT(std::string(destroy.message()), Catch::Contains("destroy i-foreign"));
  CHECK(hv.CreateAndStart(MakeSpec("i-foreign")).code() == absl::StatusCode::kAlreadyExists);
  // Still there, still foreign.
  CHECK(hv.Destroy("i-foreign").code() == absl::StatusCode::kFailedPrecondition);
}

TEST_CASE("Fake: injected create failure leaves nothing and is one-shot", "[fake]") {
  FakeHypervisor hv;
  hv.FailNextCreate(absl::UnavailableError("libvirt down"));
  const absl::Status s = hv.CreateAndStart(MakeSpec("i-1"));
  CHECK(s.code() == absl::StatusCode::kUnavailable);
  CHECK(std::string(s.message()) == "create i-1: libvirt down");
  CHECK(hv.List()->empty());
  CHECK(hv.CreateAndStart(MakeSpec("i-1")).ok());
}

TEST_CASE("Fake: a start failure rolls back the definition", "[fake]") {
  FakeHypervisor hv;
  hv.FailNextStart(absl::InternalError("qemu exited"));
  CHECK(hv.CreateAndStart(MakeSpec("i-1")).code() == absl::StatusCode::kInternal);
  CHECK(hv.List()->empty());
  CHECK(hv.Get("i-1").status().code() == absl::StatusCode::kNotFound);

  // Also for a stopped domain that is being restarted: nothing is left defined.
  REQUIRE(hv.CreateAndStart(MakeSpec("i-2")).ok());
  REQUIRE(hv.SetState("i-2", DomainState::kShutoff).ok());
  hv.FailNextStart(absl::InternalError("qemu exited"));
  CHECK(!hv.CreateAndStart(MakeSpec("i-2")).ok());
  CHECK(hv.List()->empty());
}

TEST_CASE("Fake: other failure hooks", "[fake]") {
  FakeHypervisor hv;
  REQUIRE(hv.CreateAndStart(MakeSpec("i-1")).ok());
  hv.FailNextDestroy(absl::DeadlineExceededError("stuck"));
  CHECK(hv.Destroy("i-1").code() == absl::StatusCode::kDeadlineExceeded);
  CHECK(hv.Get("i-1").ok());
  hv.FailNextList(absl::UnavailableError("x"));
  CHECK(hv.List().status().code() == absl::StatusCode::kUnavailable);
  CHECK(hv.List().ok());
  hv.FailNextGet(absl::UnavailableError("y"));
  CHECK(hv.Get("i-1").status().code() == absl::StatusCode::kUnavailable);
  CHECK(hv.Get("i-1").ok());
}

TEST_CASE("Fake: invalid specs are rejected like the real adapter does", "[fake]") {
  FakeHypervisor hv;
  const absl::Status s = hv.CreateAndStart(MakeSpec("i-1").RootDisk("relative.qcow2"));
  CHECK(s.code() == absl::StatusCode::kInvalidArgument);
  CHECK_THAT(std::string(s.message()), Catch::StartsWith("create i-1: "));
  CHECK(hv.List()->empty());
}

TEST_CASE("Fake: host resources", "[fake]") {
  FakeHypervisor hv({.cpus = 3, .memory_mib = 1234});
  CHECK(hv.GetHostResources()->cpus == 3);
  CHECK(hv.GetHostResources()->memory_mib == 1234);
}

TEST_CASE("Fake: thread-safe under concurrent use", "[fake]") {
  FakeHypervisor hv;
  constexpr int kThreads = 8;
  constexpr int kPerThread = 50;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const std::string id = absl::StrCat("i-", t, "-", i);
        if (!hv.CreateAndStart(MakeSpec(id)).ok()) ++failures;
        if (!hv.CreateAndStart(MakeSpec(id)).ok()) ++failures;  // idempotent repeat
        if (!hv.List().ok()) ++failures;
        if (i % 2 == 0 && !hv.Destroy(id).ok()) ++failures;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  CHECK(failures == 0);
  CHECK(hv.List()->size() == kThreads * kPerThread / 2);
  CHECK(hv.starts() == kThreads * kPerThread);
}

}  // namespace

// Would catch: the fake not counting reboots (integration tests would then prove nothing) or
// rebooting a domain that is off.
TEST_CASE("Fake: RebootDomain counts reboots of running owned domains", "[fake]") {
  FakeHypervisor hv;
  REQUIRE(hv.CreateAndStart(MakeSpec("i-reboot")).ok());
  REQUIRE(hv.RebootDomain("i-reboot").ok());
  REQUIRE(hv.RebootDomain("i-reboot").ok());
  CHECK(hv.Reboots("i-reboot") == 2);
  CHECK(hv.Get("i-reboot")->state == DomainState::kRunning);
  REQUIRE(hv.StopDomain("i-reboot", StopMode::kForce).ok());
  CHECK(hv.RebootDomain("i-reboot").code() == absl::StatusCode::kFailedPrecondition);
  CHECK(hv.Reboots("i-reboot") == 2);
  CHECK(hv.RebootDomain("i-none").code() == absl::StatusCode::kNotFound);
}

TEST_CASE("Fake: StopDomain keeps the domain, a deaf guest needs force", "[fake]") {
  using Modes = std::vector<StopMode>;
  FakeHypervisor hv;
  REQUIRE(hv.CreateAndStart(MakeSpec("i-stop")).ok());
  CHECK(hv.LastStopMethod("i-stop") == StopMethod::kNone);
  hv.IgnoreShutdownRequests(true);
  REQUIRE(hv.StopDomain("i-stop", StopMode::kGraceful).ok());
  CHECK(hv.Get("i-stop")->state == DomainState::kRunning);  // ignored the power button
  CHECK(hv.LastStopMethod("i-stop") == StopMethod::kNone);
  REQUIRE(hv.StopDomain("i-stop", StopMode::kForce).ok());
  CHECK(hv.Get("i-stop")->state == DomainState::kShutoff);
  CHECK(hv.LastStopMethod("i-stop") == StopMethod::kPowerOff);
  CHECK(hv.StopRequests("i-stop") == Modes{StopMode::kGraceful, StopMode::kForce});
  REQUIRE(hv.StopDomain("i-stop", StopMode::kGraceful).ok());  // already off: nothing happens
  CHECK(hv.StopRequests("i-stop").size() == 2);

  hv.IgnoreShutdownRequests(false);
  REQUIRE(hv.CreateAndStart(MakeSpec("i-stop")).ok());
  REQUIRE(hv.StopDomain("i-stop", StopMode::kGraceful).ok());
  CHECK(hv.Get("i-stop")->state == DomainState::kShutoff);
  CHECK(hv.LastStopMethod("i-stop") == StopMethod::kAcpi);
  CHECK(hv.StopRequests("i-stop") ==
        Modes{StopMode::kGraceful, StopMode::kForce, StopMode::kGraceful});

  REQUIRE(hv.CreateAndStart(MakeSpec("i-stop")).ok());
  REQUIRE(hv.SetState("i-stop", DomainState::kShutoff).ok());  // the guest ran `poweroff`
  CHECK(hv.LastStopMethod("i-stop") == StopMethod::kGuest);
  CHECK(hv.StopRequests("i-stop").size() == 3);

  CHECK(hv.StopDomain("i-none", StopMode::kForce).code() == absl::StatusCode::kNotFound);
  CHECK(hv.LastStopMethod("i-none") == StopMethod::kNone);
  hv.AddForeignDomain("other");
  CHECK(hv.StopDomain("other", StopMode::kForce).code() == absl::StatusCode::kNotFound);
  CHECK(hv.StopRequests("other").empty());
  REQUIRE(hv.Destroy("i-stop").ok());
  CHECK(hv.StopRequests("i-stop").empty());  // forgotten with the domain
  CHECK(StopMethodName(StopMethod::kAcpi) == "acpi");
  CHECK(StopMethodName(StopMethod::kPowerOff) == "power-off");
}

}  // namespace minicloud::hypervisor
