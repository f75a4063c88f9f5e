// bench_query_server: the controller of bench/query. Wired as controller/main.cc wires the
// controller (RocksDB store on disk, the same services, the gRPC server with the controller's
// limits, the reconcile loop, the real clock) plus the Query API exactly as it is built for users
// (QueryApi over the same services, SigV4 verification over the controller's access keys, the Beast
// HTTP server with its default options). Hosts are in-process agents (agent/runtime) on fake
// hypervisors, speaking real gRPC to the controller on loopback, so the instances in the store were
// launched, reported and are "running" as on a real fleet.
//
//   bench_query_server --dir=DIR --instances=10000 --ready-file=FILE
//
// Before serving the benchmark it launches --instances instances (1% of them t3.small, the rest
// t3.micro, so an instance-type filter selects 1%) and waits for every one to be running. Then it
// writes FILE ("grpc=PORT query=PORT key=ID secret=SECRET image=AMI") and serves until SIGTERM.

#include <grpcpp/grpcpp.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "agent/hypervisor/fake/fake_hypervisor.h"
#include "agent/network/fake/fake_host_network.h"
#include "agent/runtime/agent.h"
#include "common/clock.h"
#include "common/ids.h"
#include "common/signals.h"
#include "controller/agent_client/agent_client.h"
#include "controller/api/grpc_handlers.h"
#include "controller/api/host_peer.h"
#include "controller/api/server_limits.h"
#include "controller/auth/access_key_service.h"
#include "controller/auth/secret_box.h"
#include "controller/auth/sigv4_verifier.h"
#include "controller/identity/cloud_identity_signer.h"
#include "controller/pki/certificate_authority.h"
#include "controller/pki/enrollment_files.h"
#include "controller/query/http_server.h"
#include "controller/query/query_api.h"
#include "controller/scheduler/scheduler.h"
#include "controller/service/cache_blob_store.h"
#include "controller/service/cloud_state.h"
#include "controller/service/compute_service.h"
#include "controller/service/fleet_service.h"
#include "controller/service/host_enrollment.h"
#include "controller/service/image_service.h"
#include "controller/service/key_pair_service.h"
#include "controller/service/placement_group_service.h"
#include "controller/service/tag_service.h"
#include "controller/store/rocksdb_store.h"

namespace mc = minicloud;
namespace ctl = minicloud::controller;
namespace v1 = minicloud::v1;

namespace {

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "bench_query_server: %s\n", what.c_str());
  std::_Exit(1);  // agent threads are running: no static destructors
}

template <typename T>
T Must(absl::StatusOr<T> v, const std::string& what) {
  if (!v.ok()) Die(absl::StrCat(what, ": ", v.status().ToString()));
  return *std::move(v);
}

std::string Flag(int argc, char** argv, const std::string& name, const std::string& def) {
  const std::string prefix = "--" + name + "=";
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]).rfind(prefix, 0) == 0) return std::string(argv[i] + prefix.size());
  }
  return def;
}

int IntFlag(int argc, char** argv, const std::string& name, int def) {
  int v = def;
  if (!absl::SimpleAtoi(Flag(argc, argv, name, std::to_string(def)), &v)) {
    Die("--" + name + " wants an integer");
  }
  return v;
}

std::string ReadAll(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream out;
  out << f.rdbuf();
  return out.str();
}

// One in-process agent on a fake hypervisor, with its own gRPC server for the controller's calls.
struct FakeHost {
  std::unique_ptr<mc::hypervisor::FakeHypervisor> hypervisor;
  std::unique_ptr<mc::agent::ControllerLink> link;
  std::unique_ptr<mc::agent::Agent> agent;
};

int64_t CountInState(ctl::ComputeService& compute, const std::string& state) {
  v1::DescribeInstancesRequest req;
  auto* f = req.add_filters();
  f->set_name("instance-state-name");
  f->add_values(state);
  auto resp = Must(compute.DescribeInstances(req), "describe");
  int64_t n = 0;
  for (const auto& r : resp.reservations()) n += r.instances_size();
  return n;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string dir = Flag(argc, argv, "dir", "");
  const std::string ready_file = Flag(argc, argv, "ready-file", "");
  const int instances = IntFlag(argc, argv, "instances", 10000);
  const int hosts = IntFlag(argc, argv, "hosts", 40);
  const int azs = IntFlag(argc, argv, "azs", 4);
  if (dir.empty() || ready_file.empty()) Die("--dir and --ready-file are required");
  std::filesystem::create_directories(dir + "/db");
  std::filesystem::create_directories(dir + "/blobs");

  // The controller, as controller/main.cc builds it.
  ctl::ControllerConfig config;
  auto store = Must(ctl::RocksDbStore::Open(dir + "/db"), "store");
  auto blobs = Must(ctl::CacheBlobStore::Open(dir + "/blobs"), "blobs");
  mc::Clock& clock = mc::RealClock::Get();
  mc::IdGenerator ids(mc::SeedFromEntropy());
  auto signer = Must(ctl::CloudIdentitySigner::Open(dir + "/identity", clock), "signer");
  ctl::CloudState state(*store, config);
  if (auto s = state.Load(clock.Now()); !s.ok()) Die(s.ToString());
  mc::scheduler::SpreadScheduler scheduler;
  // The controller's CA (agent listener, and the client certificate it calls agents with).
  auto ca = Must(ctl::CertificateAuthority::OpenOrCreate(dir + "/pki", absl::Now()), "CA");
  auto client_cert = Must(ca->IssueControllerClientCertificate(absl::Now()), "client cert");
  auto agents =
      ctl::MakeGrpcAgentClient({.ca_pem = ca->ca_pem(),
                                .certificate_chain_pem = client_cert.certificate_chain_pem,
                                .private_key_pem = client_cert.private_key_pem});
  ctl::WatchLimits watch_limits;
  ctl::ComputeService compute(state, clock, ids, scheduler, *agents);
  ctl::KeyPairService key_pairs(state, clock, ids);
  ctl::ImageService images(state, clock, ids, *blobs);
  ctl::FleetService fleet(state, clock, ids, *signer, watch_limits);
  ctl::PlacementGroupService groups(state, clock, ids);
  // Access keys as main.cc keeps them (sealed in the store), one created as `minicloud
  // create-access-key` does; every gRPC and Query call is verified with SigV4 over them.
  auto box = Must(ctl::auth::SecretBox::LoadOrCreate(dir + "/master.key"), "master key");
  ctl::auth::AccessKeyService access_keys(*store, clock, std::move(box));
  if (auto s = access_keys.Load(); !s.ok()) Die(s.ToString());
  const v1::AccessKey key =
      Must(access_keys.CreateAccessKey(v1::CreateAccessKeyRequest()), "access key").access_key();
  const std::string& key_id = key.access_key_id();
  const std::string& secret = key.secret_access_key();
  auto verifier = ctl::auth::MakeSigV4Verifier(access_keys, clock, config.region);
  ctl::TagService tags(state);
  ctl::ComputeHandler compute_handler(compute, images, key_pairs, groups, tags, access_keys,
                                      *verifier);
  // Agents join over the agent listener (TLS, client certificates), as main.cc serves them.
  const std::string join_token = Must(ctl::CreateJoinToken(dir + "/pki", *ca), "join token");
  ctl::HostEnrollment enrollment(*ca, dir + "/pki", clock, ids);
  ctl::HostHandler host_handler(fleet, images, enrollment);
  grpc::ServerBuilder builder;
  int grpc_port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &grpc_port);
  builder.RegisterService(&compute_handler);
  ctl::ApplyServerLimits(builder, watch_limits);
  auto server = builder.BuildAndStart();
  if (!server || grpc_port == 0) Die("gRPC server did not start");
  grpc::ServerBuilder agent_builder;
  int agent_port = 0;
  auto server_cert = Must(ca->IssueServerCertificate({"127.0.0.1"}, absl::Now()), "server cert");
  agent_builder.AddListeningPort(
      "127.0.0.1:0", ctl::AgentListenerCredentials(server_cert, ca->ca_pem()), &agent_port);
  agent_builder.RegisterService(&host_handler);
  ctl::ApplyServerLimits(agent_builder, watch_limits);
  auto agent_server = agent_builder.BuildAndStart();
  if (!agent_server || agent_port == 0) Die("agent listener did not start");
  mc::ShutdownSignal shutdown;
  std::thread reconciler([&] {
    while (!shutdown.WaitFor(std::chrono::seconds(1))) {
      if (auto s = fleet.Reconcile(); !s.ok())
        std::fprintf(stderr, "reconcile: %s\n", std::string(s.message()).c_str());
    }
  });

  // The Query API, as main.cc builds it.
  std::mt19937_64 rng(mc::SeedFromEntropy());
  mc::query::QueryApi query(mc::query::Services{compute, images, key_pairs, groups, tags},
                            *verifier, rng());
  mc::query::HttpServerOptions http_options;  // the defaults users get
  http_options.listen = "127.0.0.1:0";
  auto http =
      Must(mc::query::HttpServer::Start(
               http_options, [&](const mc::query::HttpRequest& r) { return query.Handle(r); }),
           "query server");

  // An AMI: a small qcow2 registered through the image service.
  const std::string disk = dir + "/bench-ami.qcow2";
  if (std::system(absl::StrCat("qemu-img create -q -f qcow2 ", disk, " 64M").c_str()) != 0) {
    Die("qemu-img create failed");
  }
  const std::string bytes = ReadAll(disk);
  v1::RegisterImageRequest reg;
  reg.set_name("bench-ami");
  reg.set_image_size_bytes(static_cast<int64_t>(bytes.size()));
  auto upload = Must(images.BeginRegisterImage(reg), "register image");
  if (auto s = upload->Append(bytes); !s.ok()) Die(s.ToString());
  const std::string image_id = Must(upload->Finish(), "register image").image_id();

  // The fleet: agents on fake hypervisors, each big enough that capacity never refuses a launch.
  const std::string endpoint = absl::StrCat("127.0.0.1:", agent_port);
  std::vector<std::unique_ptr<FakeHost>> fleet_hosts;
  for (int i = 0; i < hosts; ++i) {
    auto h = std::make_unique<FakeHost>();
    const int vcpus = 4096;
    const int64_t mem = 4 << 20;  // MiB: 4 TiB
    h->hypervisor = std::make_unique<mc::hypervisor::FakeHypervisor>(
        mc::hypervisor::HostResources{.cpus = vcpus, .memory_mib = mem});
    mc::agent::AgentConfig c;
    c.state_dir = absl::StrCat(dir, "/host-", i);
    std::filesystem::create_directories(c.state_dir);
    c.hostname = absl::StrCat("fake-", i);
    c.topology.set_region(config.region);
    c.topology.set_availability_zone(config.region + static_cast<char>('a' + i % azs));
    c.topology.set_rack(absl::StrCat("rack-", i));
    c.capacity.set_vcpus(vcpus);
    c.capacity.set_memory_mib(mem);
    h->link = mc::agent::MakeGrpcControllerLink(
        {.endpoint = endpoint, .state_dir = c.state_dir, .join_token = join_token});
    auto networks =
        [](const std::string& subnet,
           const std::string&) -> absl::StatusOr<std::unique_ptr<mc::network::HostNetwork>> {
      return std::make_unique<mc::network::FakeHostNetwork>("br-bench", subnet);
    };
    h->agent = std::make_unique<mc::agent::Agent>(c, *h->hypervisor, *h->link, clock, networks);
    h->agent->set_advertise_endpoint("127.0.0.1:1");  // console output is not benchmarked
    if (auto s = h->agent->Start(); !s.ok()) Die(s.ToString());
    fleet_hosts.push_back(std::move(h));
  }
  for (int tries = 0;; ++tries) {
    auto d = Must(compute.DescribeHosts(v1::DescribeHostsRequest()), "describe hosts");
    if (d.hosts_size() >= hosts) break;
    if (tries > 600) Die("hosts did not register");
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }

  // The instances: calls of at most max_instances_per_call, 1% t3.small.
  const auto start = std::chrono::steady_clock::now();
  const int small = instances / 100;
  int calls = 0;
  for (int launched = 0; launched < instances;) {
    const bool is_small = launched < small;
    const int n =
        std::min(is_small ? small - launched : instances - launched, config.max_instances_per_call);
    v1::RunInstancesRequest req;
    req.set_image_id(image_id);
    req.set_instance_type(is_small ? "t3.small" : "t3.micro");
    req.set_min_count(n);
    req.set_max_count(n);
    // AZs in turn: each AZ's subnet has 4,091 addresses (a /20, the default VPC's layout).
    req.mutable_placement()->set_availability_zone(config.region +
                                                   static_cast<char>('a' + calls++ % azs));
    Must(compute.RunInstances(req), "run instances");
    launched += n;
  }
  for (int tries = 0;; ++tries) {
    const int64_t pending = CountInState(compute, "pending");
    if (pending == 0) break;
    if (tries % 20 == 0)
      std::fprintf(stderr, "bench_query_server: %lld pending\n", static_cast<long long>(pending));
    if (tries > 6000) Die("instances did not reach running");
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  const int64_t running = CountInState(compute, "running");
  if (running != instances) Die(absl::StrCat(running, " running, wanted ", instances));
  std::fprintf(stderr, "bench_query_server: %lld instances running after %.0f s\n",
               static_cast<long long>(running),
               std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());

  {
    std::ofstream f(ready_file + ".tmp");
    f << "grpc=" << grpc_port << " query=" << http->port() << " key=" << key_id
      << " secret=" << secret << " image=" << image_id << " region=" << config.region << "\n";
  }
  std::filesystem::rename(ready_file + ".tmp", ready_file);

  shutdown.Wait();
  http->Stop();
  for (auto& h : fleet_hosts) h->agent->Stop();
  state.desired_changed().notify_all();
  agent_server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  reconciler.join();
  return 0;
}
