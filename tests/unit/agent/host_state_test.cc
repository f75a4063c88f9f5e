// `minicloud-agent cleanup`: everything the agent created on the host goes, and a failed step
// neither stops the others nor passes as success.
#include "agent/runtime/host_state.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "agent/hypervisor/fake/fake_hypervisor.h"
#include "agent/network/fake/fake_host_network.h"

namespace minicloud::agent {
namespace {

namespace fs = std::filesystem;

struct StateDir {
  StateDir() {
    path = (fs::temp_directory_path() / ("minicloud-host-state-" + std::to_string(::getpid())))
               .string();
    fs::remove_all(path);
    fs::create_directories(path + "/instances/i-1");
    std::ofstream(path + "/instances/i-1/root.qcow2") << "disk";
    fs::create_directories(path + "/images");
    std::ofstream(path + "/subnet") << "10.0.7.0/24\n";
  }
  ~StateDir() { fs::remove_all(path); }
  std::string path;
};

// Builds FakeHostNetworks (whose Teardown fails with `teardown` when set) and remembers the
// subnets asked for.
struct Networks {
  std::vector<std::string> subnets;
  absl::Status teardown = absl::OkStatus();
  NetworkFactory Factory() {
    return [this](const std::string& subnet,
                  const std::string&) -> absl::StatusOr<std::unique_ptr<network::HostNetwork>> {
      subnets.push_back(subnet);
      auto net = std::make_unique<network::FakeHostNetwork>("br-mc0", subnet);
      if (!teardown.ok()) net->FailNext("Teardown", teardown);
      return std::unique_ptr<network::HostNetwork>(std::move(net));
    };
  }
};

hypervisor::DomainSpec Spec(const std::string& id) {
  hypervisor::DomainSpec spec;
  spec.instance_id = id;
  spec.smbios_uuid = "ec2e4b1c-0000-4000-8000-00000000000" + id.substr(id.size() - 1);
  spec.root_disk = "/var/lib/minicloud/agent/instances/" + id + "/root.qcow2";
  spec.vcpus = 1;
  spec.memory_mib = 128;
  return spec;
}

TEST_CASE("cleanup removes domains, instance disks and the host network", "[agent][cleanup]") {
  StateDir dir;
  hypervisor::FakeHypervisor hv;
  REQUIRE(hv.CreateAndStart(Spec("i-1")).ok());
  REQUIRE(hv.CreateAndStart(Spec("i-2")).ok());
  Networks nets;
  CHECK(CleanupHost(hv, dir.path, nets.Factory()).ok());
  CHECK(hv.List()->empty());
  CHECK(hv.destroys() == 2);
  CHECK_FALSE(fs::exists(dir.path + "/instances"));
  CHECK(fs::exists(dir.path + "/images"));  // the AMI cache stays
  CHECK(nets.subnets == std::vector<std::string>{"10.0.7.0/24"});
  CHECK_FALSE(fs::exists(dir.path + "/subnet"));
  // Idempotent: a second run finds nothing and does not build a network.
  CHECK(CleanupHost(hv, dir.path, nets.Factory()).ok());
  CHECK(nets.subnets.size() == 1);
}

TEST_CASE("cleanup keeps going after a failed step and reports it", "[agent][cleanup]") {
  SECTION("a domain that will not go") {
    StateDir dir;
    hypervisor::FakeHypervisor hv;
    REQUIRE(hv.CreateAndStart(Spec("i-1")).ok());
    REQUIRE(hv.CreateAndStart(Spec("i-2")).ok());
    hv.FailNextDestroy(absl::UnavailableError("libvirt went away"));
    Networks nets;
    const absl::Status s = CleanupHost(hv, dir.path, nets.Factory());
    CHECK_FALSE(s.ok());
    CHECK(std::string(s.message()).find("1 step(s) failed") != std::string::npos);
    CHECK(hv.List()->size() == 1);  // the other one is gone
    CHECK_FALSE(fs::exists(dir.path + "/instances"));
    CHECK_FALSE(fs::exists(dir.path + "/subnet"));
  }
  SECTION("a network that will not go keeps its subnet file for the next try") {
    StateDir dir;
    hypervisor::FakeHypervisor hv;
    Networks nets;
    nets.teardown = absl::InternalError("nft: busy");
    CHECK_FALSE(CleanupHost(hv, dir.path, nets.Factory()).ok());
    CHECK(fs::exists(dir.path + "/subnet"));
    CHECK_FALSE(fs::exists(dir.path + "/instances"));
  }
  SECTION("a failed listing stops before touching anything") {
    StateDir dir;
    hypervisor::FakeHypervisor hv;
    hv.FailNextList(absl::UnavailableError("no libvirt"));
    Networks nets;
    CHECK(CleanupHost(hv, dir.path, nets.Factory()).code() == absl::StatusCode::kUnavailable);
    CHECK(fs::exists(dir.path + "/instances/i-1/root.qcow2"));
    CHECK(nets.subnets.empty());
  }
}

TEST_CASE("the state directory is created with its parents, or the error names it",
          "[agent][cleanup]") {
  const std::string base =
      (fs::temp_directory_path() / ("minicloud-state-dir-" + std::to_string(::getpid()))).string();
  fs::remove_all(base);
  CHECK(EnsureStateDir(base + "/a/b").ok());
  CHECK(fs::is_directory(base + "/a/b"));
  CHECK(EnsureStateDir(base + "/a/b").ok());
  std::ofstream(base + "/file") << "x";
  const absl::Status s = EnsureStateDir(base + "/file/sub");
  CHECK_FALSE(s.ok());
  CHECK(std::string(s.message()).rfind("cannot create " + base + "/file/sub: ", 0) == 0);
  fs::remove_all(base);
}

}  // namespace
}  // namespace minicloud::agent
