// minicloud-agent: wiring only. Probes the accelerator, opens libvirt, runs the agent runtime and
// serves the AgentService. `minicloud-agent cleanup` destroys everything an agent created.
#include <grpcpp/grpcpp.h>
#include "common/logging.h"
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "agent/api/agent_handler.h"
#include "agent/hypervisor/kvm_probe.h"
#include "agent/hypervisor/libvirt/embed_root.h"
#include "agent/hypervisor/libvirt/libvirt_hypervisor.h"
#include "agent/runtime/agent.h"
#include "common/clock.h"
#include "common/signals.h"

namespace mc = minicloud;
namespace hv = minicloud::hypervisor;

namespace {

std::string Hostname() {
  char buf[256] = {};
  if (gethostname(buf, sizeof(buf) - 1) != 0) return "localhost";
  return buf;
}

absl::StatusOr<std::unique_ptr<hv::Hypervisor>> OpenHypervisor(const std::string& uri,
                                                               const std::string& state_dir) {
  if (uri.rfind("qemu:///embed", 0) == 0) {
    auto s = hv::PrepareEmbedRoot(state_dir + "/libvirt");
    if (!s.ok()) return s;
  }
  hv::LibvirtOptions options;
  options.uri = uri;
  options.libvirt_log_file = state_dir + "/libvirt.log";
  auto h = hv::LibvirtHypervisor::Open(options);
  if (!h.ok()) return h.status();
  return std::unique_ptr<hv::Hypervisor>(std::move(*h));
}

// Destroys every domain this agent owns and deletes instance disks; used by `cloud down`.
int Cleanup(const std::string& uri, const std::string& state_dir) {
  auto h = OpenHypervisor(uri, state_dir);
  if (!h.ok()) {
    spdlog::error("{}", h.status().message());
    return 1;
  }
  int rc = 0;
  auto domains = (*h)->List();
  if (!domains.ok()) {
    spdlog::error("{}", domains.status().message());
    return 1;
  }
  for (const auto& d : *domains) {
    if (auto s = (*h)->Destroy(d.instance_id); !s.ok()) {
      spdlog::error("destroy {}: {}", d.instance_id, s.message());
      rc = 1;
    } else {
      spdlog::info("destroyed {}", d.instance_id);
    }
  }
  std::error_code ec;
  std::filesystem::remove_all(state_dir + "/instances", ec);
  if (ec) {
    spdlog::error("remove {}/instances: {}", state_dir, ec.message());
    rc = 1;
  }
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"minicloud agent: boots and supervises the instances of one host"};
  std::string controller = "127.0.0.1:7700";
  std::string listen = "127.0.0.1:0";
  std::string advertise;
  std::string state_dir = "/var/lib/minicloud/agent";
  std::string libvirt_uri;
  std::string accel = "auto";
  std::string region = "home-1", az = "home-1a", rack = "rack-1";
  std::string hostname = Hostname();
  int vcpus = 0;
  int64_t memory_mib = 0;
  double probe_seconds = 5;
  app.add_option("--controller", controller, "controller address:port")->capture_default_str();
  app.add_option("--listen", listen, "address:port of the agent's own gRPC service (port 0 = any)")
      ->capture_default_str();
  app.add_option("--advertise", advertise, "address:port the controller dials (default: listen)");
  app.add_option("--state-dir", state_dir, "instances, AMI cache, embedded libvirt")
      ->capture_default_str();
  app.add_option("--libvirt-uri", libvirt_uri,
                 "libvirt connection (default qemu:///embed?root=<state-dir>/libvirt)");
  app.add_option("--accel", accel, "accelerator: auto probes KVM and falls back to TCG")
      ->check(CLI::IsMember({"auto", "kvm", "tcg"}))
      ->capture_default_str();
  app.add_option("--probe-seconds", probe_seconds, "time budget of the KVM probe")
      ->check(CLI::Range(0.5, 120.0));
  app.add_option("--region", region)->capture_default_str();
  app.add_option("--az", az, "availability zone")->capture_default_str();
  app.add_option("--rack", rack)->capture_default_str();
  app.add_option("--hostname", hostname)->capture_default_str();
  app.add_option("--vcpus", vcpus, "vCPUs offered (default: host CPUs)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--memory-mib", memory_mib, "memory offered (default: host memory)")
      ->check(CLI::NonNegativeNumber);
  bool cleanup = false;
  auto* cleanup_cmd = app.add_subcommand("cleanup", "destroy every instance this agent owns");
  cleanup_cmd->callback([&] { cleanup = true; });
  CLI11_PARSE(app, argc, argv);

  state_dir = std::filesystem::absolute(state_dir).lexically_normal().string();
  if (libvirt_uri.empty()) libvirt_uri = absl::StrCat("qemu:///embed?root=", state_dir, "/libvirt");
  std::error_code ec;
  std::filesystem::create_directories(state_dir, ec);
  if (ec) {
    spdlog::critical("cannot create {}: {}", state_dir, ec.message());
    return 1;
  }
  if (cleanup) return Cleanup(libvirt_uri, state_dir);

  mc::ShutdownSignal shutdown;
  hv::ProbeResult probe;
  if (accel == "auto") {
    probe = hv::ProbeAccelerator(absl::Seconds(probe_seconds));
  } else {
    probe.accelerator = accel == "kvm" ? hv::Accelerator::kKvm : hv::Accelerator::kTcg;
    probe.reason = absl::StrCat("forced with --accel ", accel);
  }
  spdlog::info("accelerator {}: {}", hv::AcceleratorName(probe.accelerator), probe.reason);

  auto hypervisor = OpenHypervisor(libvirt_uri, state_dir);
  if (!hypervisor.ok()) {
    spdlog::critical("{}", hypervisor.status().message());
    return 1;
  }
  auto resources = (*hypervisor)->GetHostResources();
  if (!resources.ok()) {
    spdlog::critical("{}", resources.status().message());
    return 1;
  }

  auto link = mc::agent::MakeGrpcControllerLink(controller);
  mc::agent::AgentConfig config;
  config.state_dir = state_dir;
  config.hostname = hostname;
  config.topology.set_region(region);
  config.topology.set_availability_zone(az);
  config.topology.set_rack(rack);
  config.capacity.set_vcpus(vcpus > 0 ? vcpus : resources->cpus);
  config.capacity.set_memory_mib(memory_mib > 0 ? memory_mib : resources->memory_mib);
  config.accelerator = probe.accelerator;
  config.accelerator_reason = probe.reason;
  mc::agent::Agent agent(config, **hypervisor, *link, mc::RealClock::Get());

  mc::agent::AgentHandler handler(agent);
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&handler);
  auto server = builder.BuildAndStart();
  if (!server || port == 0) {
    spdlog::critical("cannot listen on {}", listen);
    return 1;
  }
  if (advertise.empty()) {
    std::vector<std::string> parts = absl::StrSplit(listen, absl::MaxSplits(':', 1));
    std::string host = parts[0].empty() || parts[0] == "0.0.0.0" ? hostname : parts[0];
    advertise = absl::StrCat(host, ":", port);
  }
  agent.set_advertise_endpoint(advertise);
  if (auto s = agent.Start(); !s.ok()) {
    spdlog::critical("{}", s.message());
    return 1;
  }
  spdlog::info("minicloud-agent serving on {} for controller {} (state in {}, libvirt {})",
               advertise, controller, state_dir, libvirt_uri);
  shutdown.Wait();
  spdlog::info("shutting down; instances keep running");
  agent.Stop();
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  return 0;
}
