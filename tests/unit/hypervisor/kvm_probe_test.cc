#include "agent/hypervisor/kvm_probe.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <string>

namespace minicloud::hypervisor {
namespace {

// Slack for fork/exec and scheduling on a loaded 2-core machine.
constexpr absl::Duration kSlack = absl::Milliseconds(500);

absl::Duration Time(const std::function<void()>& f) {
  const auto start = std::chrono::steady_clock::now();
  f();
  return absl::FromChrono(std::chrono::steady_clock::now() - start);
}

TEST_CASE("KVM probe: returns within its budget with a reason", "[kvm_probe]") {
  const absl::Duration budget = absl::Seconds(2);
  ProbeResult result;
  const absl::Duration took = Time([&] { result = ProbeAccelerator(budget); });
  INFO("accelerator=" << AcceleratorName(result.accelerator) << " reason=" << result.reason
                      << " took=" << absl::FormatDuration(took));
  CHECK(took < budget + kSlack);
  CHECK(result.elapsed <= took);
  CHECK(!result.reason.empty());
  // Whatever the verdict, the reason says which way it went.
  if (result.accelerator == Accelerator::kKvm) {
    CHECK_THAT(result.reason, Catch::StartsWith("KVM works"));
  } else {
    CHECK_THAT(result.reason, Catch::StartsWith("KVM unusable, using TCG"));
  }
}

TEST_CASE("KVM probe: a tiny budget still returns promptly", "[kvm_probe]") {
  ProbeOptions options;
  options.budget = absl::Milliseconds(1);
  ProbeResult result;
  const absl::Duration took = Time([&] { result = ProbeAccelerator(options); });
  CHECK(took < options.budget + kSlack);
  CHECK(!result.reason.empty());
}

TEST_CASE("KVM probe: a missing device means TCG and says why", "[kvm_probe]") {
  ProbeOptions options;
  options.device = "/nonexistent/kvm";
  const ProbeResult result = ProbeAccelerator(options);
  CHECK(result.accelerator == Accelerator::kTcg);
  CHECK_THAT(result.reason, Catch::Contains("cannot open /nonexistent/kvm"));
  CHECK_THAT(result.reason, Catch::Contains("No such file or directory"));
}

TEST_CASE("KVM probe: a device that is not KVM means TCG", "[kvm_probe]") {
  ProbeOptions options;
  options.device = "/dev/null";
  const ProbeResult result = ProbeAccelerator(options);
  CHECK(result.accelerator == Accelerator::kTcg);
  CHECK_THAT(result.reason, Catch::Contains("KVM_GET_API_VERSION"));
}

TEST_CASE("KVM probe: a loop limit nobody can meet means TCG", "[kvm_probe]") {
  ProbeOptions options;
  options.max_loop_time = absl::ZeroDuration();
  const ProbeResult result = ProbeAccelerator(options);
  CHECK(result.accelerator == Accelerator::kTcg);
  INFO(result.reason);
  // Either KVM is not there at all, or it ran and was "too slow".
  const bool explained = result.reason.find("too slowly") != std::string::npos ||
                         result.reason.find("cannot open") != std::string::npos ||
                         result.reason.find("did not complete") != std::string::npos;
  CHECK(explained);
}

TEST_CASE("Accelerator flag parsing and forcing", "[kvm_probe]") {
  CHECK(*ParseAcceleratorMode("auto") == AcceleratorMode::kAuto);
  CHECK(*ParseAcceleratorMode("KVM") == AcceleratorMode::kKvm);
  CHECK(*ParseAcceleratorMode(" tcg ") == AcceleratorMode::kTcg);
  CHECK(ParseAcceleratorMode("xen").status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(AcceleratorModeName(AcceleratorMode::kAuto) == "auto");

  ProbeOptions options;
  options.budget = absl::Milliseconds(300);
  const ProbeResult tcg = SelectAccelerator(AcceleratorMode::kTcg, options);
  CHECK(tcg.accelerator == Accelerator::kTcg);
  CHECK_THAT(tcg.reason, Catch::Contains("--accel=tcg"));
  const ProbeResult kvm = SelectAccelerator(AcceleratorMode::kKvm, options);
  CHECK(kvm.accelerator == Accelerator::kKvm);
  CHECK_THAT(kvm.reason, Catch::Contains("--accel=kvm"));
  CHECK_THAT(kvm.reason, Catch::Contains("probe said"));
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
