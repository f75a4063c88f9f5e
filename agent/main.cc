// minicloud-agent: wiring only. Probes the accelerator, opens libvirt, runs the agent runtime and
// serves the AgentService. `minicloud-agent cleanup` destroys everything an agent created.
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "agent/api/agent_handler.h"
#include "agent/config/agent_config_file.h"
#include "agent/hypervisor/kvm_probe.h"
#include "agent/hypervisor/libvirt/embed_root.h"
#include "agent/hypervisor/libvirt/libvirt_hypervisor.h"
#include "agent/metadata/server.h"
#include "agent/network/linux_host_network.h"
#include "agent/runtime/agent.h"
#include "agent/runtime/metadata_lookup.h"
#include "common/clock.h"
#include "common/logging.h"
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

mc::agent::NetworkFactory MakeNetworkFactory(std::string bridge, std::string state_dir, bool nat) {
  return [=](const std::string& subnet)
             -> absl::StatusOr<std::unique_ptr<minicloud::network::HostNetwork>> {
    minicloud::network::HostNetworkOptions options;
    options.bridge = bridge;
    options.subnet = subnet;
    options.state_dir = state_dir;
    options.nat_egress = nat;
    auto n = minicloud::network::LinuxHostNetwork::Create(options);
    if (!n.ok()) return n.status();
    return std::unique_ptr<minicloud::network::HostNetwork>(std::move(*n));
  };
}

// Destroys every domain this agent owns, deletes instance disks and removes the host network;
// used by `cloud down`.
int Cleanup(const std::string& uri, const std::string& state_dir, const std::string& bridge) {
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
  std::ifstream subnet_file(state_dir + "/subnet");
  std::string subnet;
  if (subnet_file >> subnet) {
    auto net = MakeNetworkFactory(bridge, state_dir, false)(subnet);
    absl::Status s = net.ok() ? (*net)->Teardown() : net.status();
    if (!s.ok()) {
      spdlog::error("remove host network {}: {}", bridge, s.message());
      rc = 1;
    } else {
      spdlog::info("removed host network {}", bridge);
      std::filesystem::remove(state_dir + "/subnet", ec);
    }
  }
  return rc;
}

// "1.2.3.4:80" or "[fd00::1]:80".
absl::StatusOr<boost::asio::ip::tcp::endpoint> ParseEndpoint(const std::string& text) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos) return absl::InvalidArgumentError("expected address:port");
  std::string host = text.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  boost::system::error_code ec;
  auto address = boost::asio::ip::make_address(host, ec);
  int port = 0;
  if (ec || !absl::SimpleAtoi(text.substr(colon + 1), &port) || port <= 0 || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("bad address '", text, "'"));
  }
  return boost::asio::ip::tcp::endpoint(address, static_cast<unsigned short>(port));
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
  std::string bridge = "br-mc0";
  bool nat = false;
  std::vector<std::string> metadata_listen = {"169.254.169.254:80", "[fd00:ec2::254]:80"};
  app.add_option("--bridge", bridge, "Linux bridge for guests (<= 15 characters)")
      ->capture_default_str();
  app.add_flag("--nat", nat, "masquerade guest traffic leaving the host (internet egress)");
  app.add_option("--metadata-listen", metadata_listen,
                 "addresses of the instance metadata service, bound to the bridge")
      ->capture_default_str();
  int64_t instance_store_gb = -1;
  app.add_option("--instance-store-gb", instance_store_gb,
                 "disk offered for instance store (default: free space of --state-dir)");
  int stop_timeout_s = 120;
  app.add_option("--stop-timeout", stop_timeout_s,
                 "seconds a guest gets to shut down on stop-instances before it is powered off")
      ->check(CLI::Range(1, 3600))
      ->capture_default_str();
  std::string config_file;
  app.add_option("--config", config_file,
                 "YAML file with these settings (topology, capacity, network, ...); flags win");
  bool cleanup = false;
  auto* cleanup_cmd = app.add_subcommand("cleanup", "destroy every instance this agent owns");
  cleanup_cmd->callback([&] { cleanup = true; });
  CLI11_PARSE(app, argc, argv);
  if (!config_file.empty()) {
    auto file = mc::agent::LoadAgentConfig(config_file);
    if (!file.ok()) {
      spdlog::critical("{}", file.status().message());
      return 2;
    }
    // A value from the file is used unless the same setting was given as a flag.
    auto take = [&](const char* flag, const auto& from, auto& to) {
      if (from.has_value() && app.count(flag) == 0) to = *from;
    };
    take("--controller", file->controller, controller);
    take("--listen", file->listen, listen);
    take("--advertise", file->advertise, advertise);
    take("--state-dir", file->state_dir, state_dir);
    take("--hostname", file->hostname, hostname);
    take("--accel", file->accel, accel);
    take("--region", file->region, region);
    take("--az", file->availability_zone, az);
    take("--rack", file->rack, rack);
    take("--vcpus", file->vcpus, vcpus);
    take("--memory-mib", file->memory_mib, memory_mib);
    take("--instance-store-gb", file->instance_store_gb, instance_store_gb);
    take("--bridge", file->bridge, bridge);
    take("--nat", file->nat, nat);
    take("--stop-timeout", file->stop_timeout_seconds, stop_timeout_s);
  }

  state_dir = std::filesystem::absolute(state_dir).lexically_normal().string();
  if (libvirt_uri.empty()) libvirt_uri = absl::StrCat("qemu:///embed?root=", state_dir, "/libvirt");
  std::error_code ec;
  std::filesystem::create_directories(state_dir, ec);
  if (ec) {
    spdlog::critical("cannot create {}: {}", state_dir, ec.message());
    return 1;
  }
  if (cleanup) return Cleanup(libvirt_uri, state_dir, bridge);

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
  if (instance_store_gb < 0) {
    // Offer the free space of the state directory's filesystem (where instance disks live).
    const auto space = std::filesystem::space(state_dir, ec);
    instance_store_gb = ec ? 0 : static_cast<int64_t>(space.available >> 30);
  }
  config.capacity.set_instance_store_gb(instance_store_gb);
  config.stop_timeout_ms = stop_timeout_s * 1000;
  config.accelerator = probe.accelerator;
  config.accelerator_reason = probe.reason;
  mc::agent::Agent agent(config, **hypervisor, *link, mc::RealClock::Get(),
                         MakeNetworkFactory(bridge, state_dir, nat));

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

  // The metadata service answers on the bridge once the host network exists; until then (no
  // instance yet) it retries binding in the background.
  std::unique_ptr<minicloud::metadata::Server> imds;
  std::thread imds_starter([&] {
    minicloud::metadata::ServerOptions options;
    for (const auto& l : metadata_listen) {
      auto ep = ParseEndpoint(l);
      if (!ep.ok()) {
        spdlog::critical("--metadata-listen {}: {}", l, ep.status().message());
        return;
      }
      options.listen.push_back(*ep);
    }
    const auto lookup = minicloud::agent::MetadataLookup(agent);
    auto tokens = minicloud::metadata::TokenAuthority::WithRandomKey();
    if (!tokens.ok()) {
      spdlog::critical("metadata tokens: {}", tokens.status().message());
      return;
    }
    while (!shutdown.Requested()) {
      auto server = std::make_unique<minicloud::metadata::Server>(options, lookup, *tokens,
                                                                  mc::RealClock::Get());
      if (auto s = server->Start(); s.ok()) {
        spdlog::info("instance metadata service listening on {} (bridge {})",
                     absl::StrJoin(metadata_listen, ", "), bridge);
        imds = std::move(server);
        return;
      }
      if (shutdown.WaitFor(std::chrono::seconds(1))) return;
    }
  });
  shutdown.Wait();
  spdlog::info("shutting down; instances keep running");
  imds_starter.join();
  if (imds) imds->Stop();
  agent.Stop();
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  return 0;
}
