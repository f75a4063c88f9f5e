// minicloud-agent: wiring only. Probes the accelerator, opens libvirt, joins the controller (once),
// runs the agent runtime and serves the AgentService over mutual TLS. `minicloud-agent cleanup`
// destroys everything an agent created.
#include <arpa/inet.h>
#include <grpcpp/grpcpp.h>
#include <netdb.h>
#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "agent/api/agent_handler.h"
#include "agent/api/controller_peer.h"
#include "agent/config/agent_settings.h"
#include "agent/hypervisor/kvm_probe.h"
#include "agent/hypervisor/libvirt/embed_root.h"
#include "agent/hypervisor/libvirt/libvirt_hypervisor.h"
#include "agent/hypervisor/qemu_account.h"
#include "agent/metadata/server.h"
#include "agent/network/dnsmasq.h"
#include "agent/network/linux_host_network.h"
#include "agent/network/resolv_conf.h"
#include "agent/network/tcp_relay.h"
#include "agent/runtime/agent.h"
#include "agent/runtime/controller_tls.h"
#include "agent/runtime/guest_cloudformation.h"
#include "agent/runtime/host_state.h"
#include "agent/runtime/metadata_lookup.h"
#include "agent/runtime/nbd_client_tls.h"
#include "common/clock.h"
#include "common/logging.h"
#include "common/process/fd_limit.h"
#include "common/signals.h"

namespace mc = minicloud;
namespace hv = minicloud::hypervisor;

namespace {

absl::StatusOr<std::unique_ptr<hv::Hypervisor>> OpenHypervisor(const std::string& uri,
                                                               const std::string& state_dir,
                                                               const hv::QemuAccount& qemu) {
  // QEMU's NBD client credentials (filled once the host has joined), shared with QEMU's account
  // before any guest starts.
  const std::string nbd_tls_dir = mc::agent::NbdClientTlsDir(state_dir);
  if (auto s = qemu.ShareDirectory(nbd_tls_dir); !s.ok()) return s;
  if (uri.rfind("qemu:///embed", 0) == 0) {
    auto s = hv::PrepareEmbedRoot(state_dir + "/libvirt", qemu);
    if (!s.ok()) return s;
  }
  hv::LibvirtOptions options;
  options.uri = uri;
  options.nbd_tls_dir = nbd_tls_dir;
  options.libvirt_log_file = state_dir + "/libvirt.log";
  auto h = hv::LibvirtHypervisor::Open(options);
  if (!h.ok()) return h.status();
  return std::unique_ptr<hv::Hypervisor>(std::move(*h));
}

// The controller's IPv4 address (guests may not reach it through the host), if --controller names
// one; a host name is resolved once.
std::vector<std::string> ControllerAddresses(const std::string& controller) {
  const std::string host = controller.substr(0, controller.rfind(':'));
  addrinfo hints{};
  hints.ai_family = AF_INET;
  addrinfo* found = nullptr;
  std::vector<std::string> out;
  if (getaddrinfo(host.c_str(), nullptr, &hints, &found) != 0) {
    spdlog::warn("cannot resolve the controller's address '{}'; guests are not kept from it", host);
    return out;
  }
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    char text[INET_ADDRSTRLEN] = {};
    const auto* sin = reinterpret_cast<const sockaddr_in*>(a->ai_addr);
    if (inet_ntop(AF_INET, &sin->sin_addr, text, sizeof(text)) != nullptr &&
        std::find(out.begin(), out.end(), text) == out.end()) {
      out.push_back(text);
    }
  }
  freeaddrinfo(found);
  return out;
}

mc::agent::NetworkFactory MakeNetworkFactory(const mc::agent::AgentSettings& settings, bool nat) {
  const std::vector<std::string> controller = ControllerAddresses(settings.controller);
  return [=](const std::string& subnet, const std::string& vpc_cidr)
             -> absl::StatusOr<std::unique_ptr<minicloud::network::HostNetwork>> {
    minicloud::network::HostNetworkOptions options;
    options.bridge = settings.bridge;
    options.subnet = subnet;
    options.state_dir = settings.state_dir;
    options.nat_egress = nat;
    options.blocked_destinations = controller;
    options.dns = true;
    options.vpc_cidr = vpc_cidr;
    options.dns_domain = minicloud::network::PrivateDnsDomain(settings.region);
    options.dns_upstream = settings.dns_upstream;
    auto n = minicloud::network::LinuxHostNetwork::Create(options);
    if (!n.ok()) return n.status();
    return std::unique_ptr<minicloud::network::HostNetwork>(std::move(*n));
  };
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
  mc::agent::AgentSettings settings = mc::agent::DefaultAgentSettings();
  mc::agent::AddAgentFlags(app, settings);
  bool cleanup = false;
  auto* cleanup_cmd = app.add_subcommand("cleanup", "destroy every instance this agent owns");
  cleanup_cmd->callback([&] { cleanup = true; });
  CLI11_PARSE(app, argc, argv);
  if (auto s = mc::agent::ApplyConfigFile(app, settings); !s.ok()) {
    spdlog::critical("{}", s.message());
    return 2;
  }
  mc::agent::ResolveDerived(settings);
  if (!settings.dns_upstream.empty()) {
    if (auto s = minicloud::network::ValidateUpstreams(settings.dns_upstream); !s.ok()) {
      spdlog::critical("--dns-upstream: {}", s.message());
      return 2;
    }
  }
  // One descriptor per metadata connection: the default soft limit (1024) is too low.
  if (auto limit = mc::process::RaiseFdLimit(); limit.ok()) {
    spdlog::info("open file limit {} (hard {})", limit->soft, limit->hard);
  } else {
    spdlog::warn("cannot raise the open file limit: {}", limit.status().message());
  }
  // Everything the agent writes is its own (0600 files, 0700 directories); what QEMU's account
  // may open is granted file by file (agent/hypervisor/qemu_account.h).
  ::umask(077);
  if (auto s = mc::agent::EnsureStateDir(settings.state_dir); !s.ok()) {
    spdlog::critical("{}", s.message());
    return 1;
  }
  auto qemu = hv::LookupQemuAccount(settings.qemu_user);
  if (!qemu.ok()) {
    spdlog::critical("{}", qemu.status().message());
    return 1;
  }
  if (cleanup) {
    auto h = OpenHypervisor(settings.libvirt_uri, settings.state_dir, *qemu);
    if (!h.ok()) {
      spdlog::error("{}", h.status().message());
      return 1;
    }
    return mc::agent::CleanupHost(**h, settings.state_dir, MakeNetworkFactory(settings, false)).ok()
               ? 0
               : 1;
  }

  mc::ShutdownSignal shutdown;
  hv::ProbeResult probe;
  if (settings.accel == "auto") {
    probe = hv::ProbeAccelerator(absl::Seconds(settings.probe_seconds));
  } else {
    probe.accelerator = settings.accel == "kvm" ? hv::Accelerator::kKvm : hv::Accelerator::kTcg;
    probe.reason = absl::StrCat("forced with --accel ", settings.accel);
  }
  spdlog::info("accelerator {}: {}", hv::AcceleratorName(probe.accelerator), probe.reason);
  // Refuse now rather than fail every launch with "Permission denied".
  absl::Status qemu_ok = qemu->CheckCanReach(settings.state_dir);
  if (qemu_ok.ok() && probe.accelerator == hv::Accelerator::kKvm) {
    qemu_ok = qemu->CheckCanOpenDevice("/dev/kvm");
  }
  if (!qemu_ok.ok()) {
    spdlog::critical("{}", qemu_ok.message());
    return 1;
  }
  spdlog::info("QEMU runs as {}:{}{}", qemu->user, qemu->group,
               qemu->privileged() ? " (unconfined: qemu_user is root)" : "");

  auto hypervisor = OpenHypervisor(settings.libvirt_uri, settings.state_dir, *qemu);
  if (!hypervisor.ok()) {
    spdlog::critical("{}", hypervisor.status().message());
    return 1;
  }
  auto resources = (*hypervisor)->GetHostResources();
  if (!resources.ok()) {
    spdlog::critical("{}", resources.status().message());
    return 1;
  }

  std::string join_token = settings.join_token;
  if (join_token.empty() && !settings.join_token_file.empty()) {
    std::ifstream in(settings.join_token_file);
    if (!(in >> join_token)) {
      spdlog::critical("cannot read a join token from {}", settings.join_token_file);
      return 2;
    }
  }
  // The agent's own port serves the host certificate, so the join (or the one an earlier run
  // stored) comes first; a controller not reachable yet is waited for.
  absl::StatusOr<mc::agent::HostCredentials> host_credentials;
  while (true) {
    host_credentials = mc::agent::LoadOrJoin(settings.controller, settings.state_dir, join_token);
    if (host_credentials.ok()) {
      // What this host's QEMU shows volume services' NBD ports (never the host's own key).
      absl::Status nbd = mc::agent::EnsureNbdClientCredentials(
          settings.controller, *host_credentials, settings.state_dir, *qemu);
      if (nbd.ok()) break;
      if (nbd.code() == absl::StatusCode::kUnimplemented) {
        // A controller of an earlier version: volumes over plain NBD still attach.
        spdlog::error("no NBD client certificate (volumes over NBD with TLS will not attach): {}",
                      nbd.message());
        break;
      }
      host_credentials = nbd;
    }
    if (host_credentials.status().code() == absl::StatusCode::kFailedPrecondition) {
      spdlog::critical("{}", host_credentials.status().message());
      return 1;
    }
    spdlog::warn("{} (retrying)", host_credentials.status().message());
    if (shutdown.WaitFor(std::chrono::seconds(2))) return 0;
  }
  auto link = mc::agent::MakeGrpcControllerLink(
      {.endpoint = settings.controller, .state_dir = settings.state_dir, .join_token = join_token});
  mc::agent::AgentConfig config;
  config.state_dir = settings.state_dir;
  config.hostname = settings.hostname;
  config.topology.set_region(settings.region);
  config.topology.set_availability_zone(settings.availability_zone);
  config.topology.set_rack(settings.rack);
  config.capacity.set_vcpus(settings.vcpus > 0 ? settings.vcpus : resources->cpus);
  config.capacity.set_memory_mib(settings.memory_mib > 0 ? settings.memory_mib
                                                         : resources->memory_mib);
  if (settings.instance_store_gb < 0) {
    // Offer the free space of the state directory's filesystem (where instance disks live).
    std::error_code ec;
    const auto space = std::filesystem::space(settings.state_dir, ec);
    settings.instance_store_gb = ec ? 0 : static_cast<int64_t>(space.available >> 30);
  }
  config.capacity.set_instance_store_gb(settings.instance_store_gb);
  config.stop_timeout_ms = settings.stop_timeout_s * 1000;
  config.accelerator = probe.accelerator;
  config.accelerator_reason = probe.reason;
  config.qemu_account = *qemu;
  mc::agent::Agent agent(config, **hypervisor, *link, mc::RealClock::Get(),
                         MakeNetworkFactory(settings, settings.nat));

  mc::agent::AgentHandler handler(agent);
  grpc::ServerBuilder builder;
  int port = 0;
  // Mutual TLS only: the controller's client certificate (agent/api/controller_peer.h).
  builder.AddListeningPort(settings.listen, mc::agent::AgentPortCredentials(*host_credentials),
                           &port);
  builder.RegisterService(&handler);
  auto server = builder.BuildAndStart();
  if (!server || port == 0) {
    spdlog::critical("cannot listen on {}", settings.listen);
    return 1;
  }
  if (settings.advertise.empty()) {
    std::vector<std::string> parts = absl::StrSplit(settings.listen, absl::MaxSplits(':', 1));
    std::string host = parts[0].empty() || parts[0] == "0.0.0.0" ? settings.hostname : parts[0];
    settings.advertise = absl::StrCat(host, ":", port);
  }
  agent.set_advertise_endpoint(settings.advertise);
  if (auto s = agent.Start(); !s.ok()) {
    spdlog::critical("{}", s.message());
    return 1;
  }
  spdlog::info("minicloud-agent serving on {} for controller {} (state in {}, libvirt {})",
               settings.advertise, settings.controller, settings.state_dir, settings.libvirt_uri);

  // The metadata service answers on the bridge once the host network exists; until then (no
  // instance yet) it retries binding in the background.
  std::unique_ptr<minicloud::metadata::Server> imds;
  std::thread imds_starter([&] {
    minicloud::metadata::ServerOptions options;
    for (const auto& l : settings.metadata_listen) {
      auto ep = ParseEndpoint(l);
      if (!ep.ok()) {
        spdlog::critical("--metadata-listen {}: {}", l, ep.status().message());
        return;
      }
      options.listen.push_back(*ep);
    }
    // /cloudformation/... goes to the controller; the helpers' archive is a file of this host.
    options.cloudformation = minicloud::agent::CloudFormationForwarder(agent, *link);
    options.cfn_bootstrap_archive = settings.cfn_bootstrap_archive;
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
                     absl::StrJoin(settings.metadata_listen, ", "), settings.bridge);
        imds = std::move(server);
        return;
      }
      if (shutdown.WaitFor(std::chrono::seconds(1))) return;
    }
  });
  // The EC2 Query API relay, next to the metadata service on the bridge (same retry).
  std::unique_ptr<minicloud::network::TcpRelay> query_relay;
  std::thread relay_starter([&] {
    if (settings.query_relay_listen.empty()) return;
    auto listen = ParseEndpoint(settings.query_relay_listen);
    if (!listen.ok()) {
      spdlog::critical("--query-relay-listen {}: {}", settings.query_relay_listen,
                       listen.status().message());
      return;
    }
    std::string upstream = settings.query_relay_upstream;
    if (upstream.empty()) {
      upstream = absl::StrCat(settings.controller.substr(0, settings.controller.rfind(':')), ":",
                              minicloud::network::kQueryRelayPort);
    }
    const size_t colon = upstream.rfind(':');
    minicloud::network::TcpRelayOptions options;
    options.listen_address = listen->address().to_string();
    options.listen_port = listen->port();
    options.upstream_host = upstream.substr(0, colon);
    options.upstream_port = colon == std::string::npos ? "8773" : upstream.substr(colon + 1);
    if (absl::StartsWith(options.upstream_host, "[")) {
      options.upstream_host = options.upstream_host.substr(1, options.upstream_host.size() - 2);
    }
    while (!shutdown.Requested()) {
      if (auto r = minicloud::network::TcpRelay::Start(options); r.ok()) {
        spdlog::info("EC2 Query API relay {} -> {}", settings.query_relay_listen, upstream);
        query_relay = std::move(*r);
        return;
      }
      if (shutdown.WaitFor(std::chrono::seconds(1))) return;
    }
  });
  shutdown.Wait();
  spdlog::info("shutting down; instances keep running");
  imds_starter.join();
  relay_starter.join();
  if (query_relay) query_relay->Stop();
  if (imds) imds->Stop();
  agent.Stop();
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  return 0;
}
