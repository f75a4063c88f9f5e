// minicloud-controller: wiring only. Opens the store, builds the services and serves gRPC.
#include <grpcpp/grpcpp.h>
#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <filesystem>
#include <thread>

#include "absl/strings/str_join.h"
#include "common/clock.h"
#include "common/file/file_util.h"
#include "common/ids.h"
#include "common/logging.h"
#include "common/signals.h"
#include "common/storage/nbd_tls.h"
#include "controller/agent_client/agent_client.h"
#include "controller/api/cloudformation_handlers.h"
#include "controller/api/grpc_handlers.h"
#include "controller/api/host_peer.h"
#include "controller/api/server_limits.h"
#include "controller/auth/access_key_service.h"
#include "controller/auth/secret_box.h"
#include "controller/auth/sigv4_verifier.h"
#include "controller/iam/session_verifier.h"
#include "controller/identity/cloud_identity_signer.h"
#include "controller/pki/certificate_authority.h"
#include "controller/pki/enrollment_files.h"
#include "controller/pki/volume_service_files.h"
#include "controller/query/guest_cloudformation_query.h"
#include "controller/query/http_server.h"
#include "controller/query/query_api.h"
#include "controller/scheduler/scheduler.h"
#include "controller/service/cache_blob_store.h"
#include "controller/service/cloud_state.h"
#include "controller/service/compute_service.h"
#include "controller/service/fleet_service.h"
#include "controller/service/host_enrollment.h"
#include "controller/service/image_service.h"
#include "controller/service/instance_profile_service.h"
#include "controller/service/key_pair_service.h"
#include "controller/service/stack_service.h"
#include "controller/service/volume_service.h"
#include "controller/store/rocksdb_store.h"
#include "controller/volumes/grpc_volume_service_client.h"
#include "controller/volumes/volume_keys.h"

namespace mc = minicloud;
namespace ctl = minicloud::controller;

namespace {

// The host part of "host:port", "[v6]:port"; empty for a wildcard address.
std::string HostOf(const std::string& endpoint) {
  std::string host = endpoint.substr(0, endpoint.rfind(':'));
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return host == "0.0.0.0" || host == "::" ? "" : host;
}

// <state>/pki (the CA, join tokens, host bindings), created when absent.
absl::StatusOr<std::unique_ptr<ctl::CertificateAuthority>> OpenPki(const std::string& state_dir) {
  if (auto s = mc::file::EnsureDirectoryMode(state_dir, 0700); !s.ok()) return s;
  return ctl::CertificateAuthority::OpenOrCreate(state_dir + "/pki", absl::Now());
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"minicloud controller: the EC2-style API, scheduler and state of a minicloud"};
  std::vector<std::string> listen = {"127.0.0.1:7700"};
  std::string state_dir = "/var/lib/minicloud/controller";
  ctl::ControllerConfig config;
  double host_timeout_s = 15, launch_timeout_s = 600, volume_retry_budget_s = 300;
  std::vector<std::string> agent_listen = {"127.0.0.1:7702"};
  std::vector<std::string> tls_names;
  app.add_option("--listen", listen, "address:port of the gRPC API (the CLI); repeatable")
      ->capture_default_str();
  app.add_option("--agent-listen", agent_listen,
                 "address:port of the agents' service (TLS; agents join with a join token, then "
                 "present the client certificate the controller issued); repeatable")
      ->capture_default_str();
  app.add_option("--tls-san", tls_names,
                 "extra name or IP address in the agent listener's certificate (agents check the "
                 "pinned CA and the name minicloud-controller; these are for other clients); "
                 "repeatable");
  app.add_option("--state-dir", state_dir, "where the store and AMI files live")
      ->capture_default_str();
  app.add_option("--region", config.region,
                 "the region placement groups are created in (hosts of other regions never "
                 "take their instances)")
      ->capture_default_str();
  app.add_option("--region-endpoint", config.region_endpoint,
                 "the endpoint DescribeRegions reports (default: the first --listen address)");
  app.add_option("--owner-id", config.owner_id, "account id shown as OwnerId")
      ->capture_default_str();
  app.add_option("--cpu-allocation-ratio", config.cpu_allocation_ratio, "vCPU overcommit")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--memory-allocation-ratio", config.memory_allocation_ratio, "memory overcommit")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--reserved-host-memory-mib", config.reserved_host_memory_mib,
                 "memory kept back on every host")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--report-interval-ms", config.report_interval_ms,
                 "how often agents report status")
      ->capture_default_str()
      ->check(CLI::Range(100, 60000));
  app.add_option("--host-timeout", host_timeout_s,
                 "seconds without a report before a host is "
                 "unreachable")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--launch-timeout", launch_timeout_s, "seconds a launch may stay pending")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--volume-retry-budget", volume_retry_budget_s,
                 "seconds a volume is retried while its zone's volume service cannot be reached; "
                 "then it is in error and a launch waiting for it ends (keep it below "
                 "--launch-timeout)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--max-instances-per-call", config.max_instances_per_call,
                 "instances one RunInstances call may launch (a larger MinCount is refused, a "
                 "larger MaxCount is cut to it)")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  std::vector<std::string> volume_services;
  app.add_option("--volume-service", volume_services,
                 "<availability-zone>=<host:port>: the zone's volume service (minicloud-volumed); "
                 "repeatable, one per zone. A zone without one has no EBS volumes");
  std::vector<std::string> plaintext_volume_zones;
  app.add_option("--plaintext-volume-service", plaintext_volume_zones,
                 "<availability-zone>: dial that zone's volume service in plain text (a "
                 "minicloud-volumed on loopback without TLS files); repeatable. Without it the "
                 "controller uses mutual TLS (issue-volume-service-cert)");
  double volume_deadline_s = 30;
  app.add_option("--volume-service-deadline", volume_deadline_s,
                 "seconds one call to a volume service may take before it counts as unreachable "
                 "(the volume stays creating or deleting and is retried)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  ctl::WatchLimits watch_limits;
  app.add_option("--max-waiting-watches", watch_limits.max_waiting,
                 "agents' long-polls that may wait at once (one per host; more are refused)")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  mc::query::HttpServerOptions query_options;
  app.add_option("--query-listen", query_options.listen,
                 "address:port of the EC2 Query API (HTTP, SigV4); '' turns it off")
      ->capture_default_str();
  app.add_option("--query-threads", query_options.threads, "threads serving the Query API")
      ->capture_default_str()
      ->check(CLI::Range(1, 256));
  // Admin subcommands: they work on the state directory, also while the controller runs.
  auto* join_token_cmd =
      app.add_subcommand("join-token", "print a new join token for an agent (and keep it valid)");
  std::string forget_host_id;
  auto* forget_cmd =
      app.add_subcommand("forget-host",
                         "drop a host's certificate binding: its certificate is refused and its id "
                         "may join again with a new key");
  forget_cmd->add_option("host-id", forget_host_id, "the host id (h-...)")->required();
  std::string volume_cert_zone, volume_cert_out;
  std::vector<std::string> volume_cert_names;
  auto* volume_cert_cmd = app.add_subcommand(
      "issue-volume-service-cert",
      "write the TLS files of a zone's minicloud-volumed (ca.crt, server.crt, server.key, 0600) "
      "into a directory; copy them to its machine and give them to --tls-client-ca, --tls-cert, "
      "--tls-key");
  volume_cert_cmd->add_option("--zone", volume_cert_zone, "the availability zone it serves")
      ->required();
  volume_cert_cmd->add_option("--name", volume_cert_names,
                              "a DNS name or IP address it is reached at (its --nbd-advertise "
                              "host, say); repeatable");
  volume_cert_cmd->add_option("--out", volume_cert_out, "directory for the files (made 0700)")
      ->required();
  app.fallthrough();  // --state-dir before or after the subcommand
  CLI11_PARSE(app, argc, argv);
  if (join_token_cmd->parsed() || forget_cmd->parsed() || volume_cert_cmd->parsed()) {
    ::umask(077);
    auto ca = OpenPki(state_dir);
    if (!ca.ok()) {
      spdlog::critical("{}", ca.status().message());
      return 1;
    }
    if (volume_cert_cmd->parsed()) {
      absl::Status s = ctl::CheckZoneOfRegion(volume_cert_zone, config.region);
      if (s.ok()) {
        s = ctl::WriteVolumeServiceFiles(**ca, volume_cert_zone, volume_cert_names, volume_cert_out,
                                         absl::Now());
      }
      if (!s.ok()) {
        spdlog::critical("issue-volume-service-cert: {}", s.message());
        return 1;
      }
      std::printf("wrote %s/{%s,%s,%s} for the volume service of %s\n", volume_cert_out.c_str(),
                  ctl::kVolumeServiceCaFile, ctl::kVolumeServiceCertFile,
                  ctl::kVolumeServiceKeyFile, volume_cert_zone.c_str());
      return 0;
    }
    if (forget_cmd->parsed()) {
      if (auto s = ctl::ForgetHost(state_dir + "/pki", forget_host_id); !s.ok()) {
        spdlog::critical("{}", s.message());
        return 1;
      }
      std::printf("host %s forgotten: its certificate is refused from now on\n",
                  forget_host_id.c_str());
      return 0;
    }
    auto token = ctl::CreateJoinToken(state_dir + "/pki", **ca);
    if (!token.ok()) {
      spdlog::critical("{}", token.status().message());
      return 1;
    }
    std::printf("%s\n", token->c_str());
    return 0;
  }
  config.host_timeout = absl::Seconds(host_timeout_s);
  config.launch_timeout = absl::Seconds(launch_timeout_s);
  config.volume_retry_budget = absl::Seconds(volume_retry_budget_s);

  // The store holds user data and the identity-signing key: nothing the controller writes is
  // for anyone else. Files 0600 (RocksDB, blobs, the key) and directories 0700, also when an
  // older version left them 0755.
  ::umask(077);
  for (const char* sub : {"", "/db", "/blobs"}) {
    if (auto s = mc::file::EnsureDirectoryMode(state_dir + sub, 0700); !s.ok()) {
      spdlog::critical("state dir: {}", s.message());
      return 1;
    }
  }
  auto store = ctl::RocksDbStore::Open(state_dir + "/db");
  if (!store.ok()) {
    spdlog::critical("{}", store.status().message());
    return 1;
  }
  auto blobs = ctl::CacheBlobStore::Open(state_dir + "/blobs");
  if (!blobs.ok()) {
    spdlog::critical("{}", blobs.status().message());
    return 1;
  }

  mc::Clock& clock = mc::RealClock::Get();
  mc::IdGenerator ids(mc::SeedFromEntropy());
  auto signer = ctl::CloudIdentitySigner::Open(state_dir + "/identity", clock);
  if (!signer.ok()) {
    spdlog::critical("identity signing key: {}", signer.status().message());
    return 1;
  }
  if (config.region_endpoint.empty() && !listen.empty()) config.region_endpoint = listen[0];
  // The CA (agent listener, agents' ports), and a first join token for agents at <state>/join-token
  // (root only).
  auto ca = OpenPki(state_dir);
  if (!ca.ok()) {
    spdlog::critical("certificate authority: {}", ca.status().message());
    return 1;
  }
  if (!std::filesystem::exists(state_dir + "/join-token")) {
    auto token = ctl::CreateJoinToken(state_dir + "/pki", **ca);
    absl::Status s = token.status();
    if (s.ok()) s = mc::file::WriteFileAtomic(state_dir + "/join-token", *token + "\n", 0600);
    if (!s.ok()) {
      spdlog::critical("join token: {}", s.message());
      return 1;
    }
    spdlog::info("wrote a join token for agents to {}/join-token", state_dir);
  }
  std::vector<std::string> server_names = tls_names;
  for (const auto& l : agent_listen) server_names.push_back(HostOf(l));
  auto server_cert = (*ca)->IssueServerCertificate(server_names, absl::Now());
  if (!server_cert.ok()) {
    spdlog::critical("agent listener certificate: {}", server_cert.status().message());
    return 1;
  }
  // What the controller shows agents when it calls their port (kept in memory, new each start).
  auto client_cert = (*ca)->IssueControllerClientCertificate(absl::Now());
  if (!client_cert.ok()) {
    spdlog::critical("controller client certificate: {}", client_cert.status().message());
    return 1;
  }
  ctl::CloudState state(**store, config);
  if (auto s = state.Load(clock.Now()); !s.ok()) {
    spdlog::critical("load state: {}", s.message());
    return 1;
  }
  // Access keys: secrets sealed under the master key file; the first start creates one key and
  // writes it where root (and only root) can read it.
  auto box = ctl::auth::SecretBox::LoadOrCreate(state_dir + "/master.key");
  if (!box.ok()) {
    spdlog::critical("access key master key: {}", box.status().message());
    return 1;
  }
  // Instance profiles' session tokens are sealed in the same box (bound to their own purpose).
  ctl::iam::SessionSealer sealer(*box);
  // Encrypted EBS volumes' data keys are sealed in the same box (bound to their own purpose).
  ctl::VolumeKeys volume_keys(*box, [](size_t n) { return ctl::auth::RandomBytes(n); });
  ctl::auth::AccessKeyService access_keys(**store, clock, *std::move(box));
  if (auto s = access_keys.Load(); !s.ok()) {
    spdlog::critical("load access keys: {}", s.message());
    return 1;
  }
  const std::string admin_credentials = state_dir + "/admin-credentials";
  auto first_key = ctl::auth::EnsureFirstAccessKey(access_keys, admin_credentials);
  if (!first_key.ok()) {
    spdlog::critical("first access key: {}", first_key.status().message());
    return 1;
  }
  if (!first_key->empty()) {
    spdlog::info("created access key {}; its credentials are in {} (mode 0600)", *first_key,
                 admin_credentials);
  }
  mc::scheduler::SpreadScheduler scheduler;
  auto agents =
      ctl::MakeGrpcAgentClient({.ca_pem = (*ca)->ca_pem(),
                                .certificate_chain_pem = client_cert->certificate_chain_pem,
                                .private_key_pem = client_cert->private_key_pem});
  ctl::ComputeService compute(state, clock, ids, scheduler, *agents);
  ctl::KeyPairService key_pairs(state, clock, ids);
  ctl::ImageService images(state, clock, ids, **blobs);
  ctl::FleetService fleet(state, clock, ids, **signer, watch_limits);
  ctl::PlacementGroupService groups(state, clock, ids);
  ctl::TagService tags(state);
  // EBS volumes live on each availability zone's volume service (minicloud-volumed), named with
  // --volume-service. A zone without one has no volumes: CreateVolume answers
  // InsufficientVolumeCapacity there, and nothing pretends to store a volume.
  ctl::VolumeFleet volume_fleet;
  for (const auto& value : volume_services) {
    auto flag = ctl::ParseVolumeServiceFlag(value);
    absl::Status s = flag.status();
    if (s.ok()) s = ctl::CheckZoneOfRegion(flag->zone, config.region);
    if (s.ok() && volume_fleet.Serves(flag->zone)) {
      s = absl::InvalidArgumentError(
          absl::StrCat("--volume-service: zone ", flag->zone, " is given more than once"));
    }
    if (!s.ok()) {
      spdlog::critical("{}", s.message());
      return 1;
    }
    // Mutual TLS with the controller's client certificate unless the zone is named plaintext.
    ctl::GrpcVolumeServiceOptions options{.endpoint = flag->endpoint,
                                          .zone = flag->zone,
                                          .tls = std::nullopt,
                                          .deadline = absl::Seconds(2)};
    const bool plaintext =
        std::count(plaintext_volume_zones.begin(), plaintext_volume_zones.end(), flag->zone) > 0;
    if (!plaintext) {
      options.tls =
          ctl::VolumeServiceTls{.ca_pem = (*ca)->ca_pem(),
                                .certificate_chain_pem = client_cert->certificate_chain_pem,
                                .private_key_pem = client_cert->private_key_pem};
    }
    // A daemon that answers must serve the zone it is given for; one that does not answer yet
    // may start later (calls to it count as unreachable and are retried).
    auto served = ctl::ProbeVolumeServiceZone(options);
    if (served.ok() && *served != flag->zone) {
      spdlog::critical("--volume-service {}: the volume service at {} serves zone {}, not {}",
                       value, flag->endpoint, *served, flag->zone);
      return 1;
    }
    if (!served.ok()) spdlog::warn("{} (retried when volumes need it)", served.status().message());
    options.deadline = absl::Seconds(volume_deadline_s);
    volume_fleet.Add(flag->zone, ctl::MakeGrpcVolumeServiceClient(options));
    spdlog::info("volume service of {} at {} ({})", flag->zone, flag->endpoint,
                 plaintext ? "plain text" : "mutual TLS");
  }
  ctl::VolumeService volumes(state, clock, ids, volume_fleet);
  volumes.SetVolumeKeys(&volume_keys);
  fleet.SetVolumeKeys(&volume_keys);
  compute.SetVolumeStates([&volumes] { return volumes.ZoneStates(); });
  // EBS-backed AMIs: their uploaded disks are written into each zone's volume service over NBD.
  // Their exports are NBD over TLS where the service has TLS: qemu-img shows the controller's
  // client certificate, from files (0600 in a 0700 directory, rewritten at each start).
  const std::string nbd_tls_dir = state_dir + "/nbd-tls";
  if (auto s = mc::storage::WriteQemuTlsDir(nbd_tls_dir, mc::storage::QemuTlsEndpoint::kClient,
                                            {.ca_pem = (*ca)->ca_pem(),
                                             .certificate_pem = client_cert->certificate_chain_pem,
                                             .key_pem = client_cert->private_key_pem});
      !s.ok()) {
    spdlog::critical("NBD client certificate: {}", s.message());
    return 1;
  }
  ctl::QemuImgDiskWriter disk_writer("qemu-img", nbd_tls_dir);
  volumes.SetImageSource(&**blobs, &disk_writer);
  images.SetVolumes(&volumes);
  images.SetCompute(&compute);
  compute.SetEbsHooks(
      {.serves_zone =
           [&volume_fleet](const std::string& zone) { return volume_fleet.Serves(zone); },
       .launched =
           [&volumes](const std::vector<std::string>& ids) { volumes.FinishLaunchVolumes(ids); },
       .zone_copy =
           [&volumes](const mc::v1::SnapshotRecord& snap, const std::string& zone, bool encrypt) {
             return volumes.CheckZoneCopyLocked(snap, zone, encrypt);
           }});
  ctl::InstanceProfileService profiles(state, clock, sealer);
  // CloudFormation stacks over the services above. The CloudFormation surfaces (Query actions,
  // gRPC, the guest endpoint) take it as a StackApi; the reconciler below drives it.
  ctl::StackService stacks(state, clock, ids, compute, key_pairs, groups, &volumes);
  // Every ComputeService call is signed with an access key (SigV4, service ec2, this region);
  // instance-profile sessions (X-Amz-Security-Token) are checked by the same SigV4 verifier.
  auto account_verifier = ctl::auth::MakeSigV4Verifier(access_keys, clock, config.region);
  auto verifier = ctl::iam::MakeSessionAwareVerifier(
      *account_verifier, sealer, clock, config.region,
      [&](const mc::v1::SessionTokenPayload& s) { return profiles.StillValid(s); });
  ctl::ComputeHandler compute_handler(compute, images, key_pairs, groups, tags, access_keys,
                                      *verifier, &profiles, &volumes);
  ctl::HostEnrollment enrollment(**ca, state_dir + "/pki", clock, ids);
  // The CloudFormation surfaces over the stack engine: the gRPC CloudFormation service, the
  // Query actions (below) and the endpoint guests reach through their hosts at
  // http://169.254.169.254/cloudformation/.
  ctl::CloudFormationHandler cloudformation_handler(&stacks, *verifier);
  mc::query::GuestCloudFormationQuery guest_cfn(&stacks);
  ctl::HostHandler host_handler(fleet, images, enrollment, &profiles, &guest_cfn,
                                mc::SeedFromEntropy());

  // The EC2 Query API, behind the same access keys: every request is verified (SigV4) before
  // anything else reads it. CloudFormation's Query actions are served on the same port.
  mc::query::Services query_services{compute, images, key_pairs, groups, tags, &volumes};
  query_services.stacks = &stacks;
  mc::query::QueryApi query_api(query_services, *verifier, mc::SeedFromEntropy());
  std::unique_ptr<mc::query::HttpServer> query_server;
  if (!query_options.listen.empty()) {
    auto started = mc::query::HttpServer::Start(
        query_options, [&](const mc::query::HttpRequest& r) { return query_api.Handle(r); });
    if (!started.ok()) {
      spdlog::critical("{}", started.status().message());
      return 1;
    }
    query_server = std::move(*started);
    spdlog::info("EC2 Query API on {} (region {})", query_options.listen, config.region);
  }

  // Two servers, so the HostService is never reachable on the API port.
  grpc::ServerBuilder builder;
  std::vector<int> ports(listen.size(), 0);
  for (size_t i = 0; i < listen.size(); ++i) {
    builder.AddListeningPort(listen[i], grpc::InsecureServerCredentials(), &ports[i]);
  }
  builder.RegisterService(&compute_handler);
  builder.RegisterService(&cloudformation_handler);
  ctl::ApplyServerLimits(builder, watch_limits);
  auto server = builder.BuildAndStart();
  if (!server || std::count(ports.begin(), ports.end(), 0) > 0) {
    spdlog::critical("cannot listen on {}", absl::StrJoin(listen, ", "));
    return 1;
  }
  grpc::ServerBuilder agent_builder;
  std::vector<int> agent_ports(agent_listen.size(), 0);
  const auto tls = ctl::AgentListenerCredentials(*server_cert, (*ca)->ca_pem());
  for (size_t i = 0; i < agent_listen.size(); ++i) {
    agent_builder.AddListeningPort(agent_listen[i], tls, &agent_ports[i]);
  }
  agent_builder.RegisterService(&host_handler);
  ctl::ApplyServerLimits(agent_builder, watch_limits);
  auto agent_server = agent_builder.BuildAndStart();
  if (!agent_server || std::count(agent_ports.begin(), agent_ports.end(), 0) > 0) {
    spdlog::critical("cannot listen on {}", absl::StrJoin(agent_listen, ", "));
    return 1;
  }
  spdlog::info(
      "minicloud-controller serving the API on {} and agents (TLS, CA sha256 {}) on {} (state "
      "in {})",
      absl::StrJoin(listen, ", "), (*ca)->ca_sha256(), absl::StrJoin(agent_listen, ", "),
      state_dir);

  mc::ShutdownSignal shutdown;
  std::thread reconciler([&] {
    while (!shutdown.WaitFor(std::chrono::seconds(1))) {
      if (auto s = fleet.Reconcile(); !s.ok()) spdlog::error("reconcile: {}", s.message());
      volumes.Reconcile();       // volumes left creating or deleting by an unreachable service
      images.ReconcileImages();  // CreateImage / CopyImage AMIs still pending
      stacks.Advance();          // stacks creating, updating or deleting (also after a restart)
    }
  });
  shutdown.Wait();
  spdlog::info("shutting down");
  fleet.StopWatches();  // the agents' long-polls answer now, so the servers drain at once
  if (query_server) query_server->Stop();
  agent_server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  reconciler.join();
  return 0;
}
