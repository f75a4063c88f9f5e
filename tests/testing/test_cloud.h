#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "agent/api/agent_handler.h"
#include "agent/api/controller_peer.h"
#include "agent/hypervisor/fake/fake_hypervisor.h"
#include "agent/network/fake/fake_host_network.h"
#include "agent/runtime/agent.h"
#include "agent/runtime/controller_tls.h"
#include "agent/runtime/nbd_client_tls.h"
#include "common/auth/grpc_request.h"
#include "controller/api/grpc_handlers.h"
#include "controller/api/host_peer.h"
#include "controller/api/server_limits.h"
#include "controller/auth/sigv4_verifier.h"
#include "controller/pki/certificate_authority.h"
#include "controller/pki/enrollment_files.h"
#include "controller/service/host_enrollment.h"
#include "tests/testing/controller_fixture.h"

namespace minicloud::testing {

// A whole cloud in one process: the controller's real services and its two gRPC servers (the
// API, and the agent listener with TLS and its CA in the controller's state dir), and agents on
// fake hypervisors that join with a join token and then talk to it over mutual TLS on loopback
// (ports chosen by the kernel); the controller calls each agent's own port over mutual TLS too.
class TestCloud {
 public:
  struct Host {
    std::unique_ptr<TempDir> dir;
    std::unique_ptr<hypervisor::FakeHypervisor> hypervisor;
    std::unique_ptr<agent::ControllerLink> link;
    std::unique_ptr<agent::Agent> agent;
    std::unique_ptr<agent::AgentHandler> handler;
    std::unique_ptr<grpc::Server> server;
    agent::AgentConfig config;
  };

  // `guest_cloudformation`: what answers guests' CloudFormation requests forwarded by the
  // agents (HostService.GuestCloudFormation); null as in a controller without it.
  // `status_check_grace`: how long a running instance's status check stays "initializing"
  // (the controller's 30 s by default; the conformance cloud shortens it, its clients wait on
  // the real clock).
  explicit TestCloud(
      query::GuestCloudFormationEndpoint* guest_cloudformation = nullptr,
      absl::Duration status_check_grace = controller::ControllerConfig{}.status_check_grace)
      : guest_cloudformation_(guest_cloudformation) {
    ctl_.config.report_interval_ms = 200;
    ctl_.config.status_check_grace = status_check_grace;
    ca_ = Must(controller::CertificateAuthority::OpenOrCreate(pki_dir(), absl::Now()));
    join_token_ = Must(controller::CreateJoinToken(pki_dir(), *ca_));
    // As main.cc: the controller calls agents with its own client certificate, over mutual TLS.
    auto client = Must(ca_->IssueControllerClientCertificate(absl::Now()));
    agent_tls_ = {.ca_pem = ca_->ca_pem(),
                  .certificate_chain_pem = client.certificate_chain_pem,
                  .private_key_pem = client.private_key_pem};
    grpc_agents_ = controller::MakeGrpcAgentClient(agent_tls_, 2000);
    ctl_.agent_client = grpc_agents_.get();
    ctl_.Reopen();
    StartController();
  }
  ~TestCloud() {
    for (auto& h : hosts_) StopAgent(*h);
    StopController();
  }

  void StartController() {
    // As the controller's first start: one access key, written to <dir>/admin-credentials.
    auto first = controller::auth::EnsureFirstAccessKey(*ctl_.access_keys, admin_credentials());
    if (!first.ok()) throw std::runtime_error(std::string(first.status().message()));
    if (!first->empty()) {
      admin_key_ = *first;
      admin_secret_ = ctl_.access_keys->Lookup(admin_key_)->secret_access_key;
    }
    verifier_ =
        controller::auth::MakeSigV4Verifier(*ctl_.access_keys, ctl_.clock, ctl_.config.region);
    compute_handler_ = std::make_unique<controller::ComputeHandler>(
        *ctl_.compute, *ctl_.images, *ctl_.key_pairs, *ctl_.groups, *ctl_.tags, *ctl_.access_keys,
        *verifier_);
    // The certificates' times are checked by TLS against the real clock.
    enrollment_ =
        std::make_unique<controller::HostEnrollment>(*ca_, pki_dir(), RealClock::Get(), ctl_.ids);
    host_handler_ = std::make_unique<controller::HostHandler>(
        *ctl_.fleet, *ctl_.images, *enrollment_, nullptr, guest_cloudformation_, 7);
    grpc::ServerBuilder b;
    int port = 0;
    b.AddListeningPort(port_ == 0 ? "127.0.0.1:0" : absl::StrCat("127.0.0.1:", port_),
                       grpc::InsecureServerCredentials(), &port);
    b.RegisterService(compute_handler_.get());
    controller::ApplyServerLimits(b, controller::WatchLimits());  // the controller's own limits
    server_ = b.BuildAndStart();
    if (!server_) throw std::runtime_error("controller server did not start");
    port_ = port;
    grpc::ServerBuilder ab;
    int agent_port = 0;
    auto cert = Must(ca_->IssueServerCertificate({"127.0.0.1"}, absl::Now()));
    ab.AddListeningPort(agent_port_ == 0 ? "127.0.0.1:0" : absl::StrCat("127.0.0.1:", agent_port_),
                        controller::AgentListenerCredentials(cert, ca_->ca_pem()), &agent_port);
    ab.RegisterService(host_handler_.get());
    controller::ApplyServerLimits(ab, controller::WatchLimits());
    agent_server_ = ab.BuildAndStart();
    if (!agent_server_) throw std::runtime_error("controller agent listener did not start");
    agent_port_ = agent_port;
    stub_ = v1::ComputeService::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", port_), grpc::InsecureChannelCredentials()));
  }

  void StopController() {
    if (!server_) return;
    ctl_.fleet->StopWatches();
    agent_server_->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(200));
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(200));
    agent_server_.reset();
    server_.reset();
  }

  // Restarts the controller process: same store, new services, same port.
  void RestartController() {
    StopController();
    ctl_.Reopen();
    ca_ = Must(controller::CertificateAuthority::OpenOrCreate(pki_dir(), absl::Now()));
    join_token_ = Must(controller::CreateJoinToken(pki_dir(), *ca_));
    StartController();
  }

  Host& AddHost(const std::string& az, const std::string& rack, int vcpus = 8, int64_t mem = 16384,
                int64_t instance_store_gb = 0) {
    auto h = std::make_unique<Host>();
    h->dir = std::make_unique<TempDir>();
    h->hypervisor = std::make_unique<hypervisor::FakeHypervisor>(
        hypervisor::HostResources{.cpus = vcpus, .memory_mib = mem});
    h->config.state_dir = h->dir->path();
    h->config.hostname = absl::StrCat("fake-", hosts_.size() + 1);
    h->config.topology.set_region("home-1");
    h->config.topology.set_availability_zone(az);
    h->config.topology.set_rack(rack);
    h->config.capacity.set_vcpus(vcpus);
    h->config.capacity.set_memory_mib(mem);
    h->config.capacity.set_instance_store_gb(instance_store_gb);
    h->config.watch_wait_ms = 500;
    h->config.retry_ms = 100;
    h->config.hibernation_scratch_dir = h->dir->path() + "/hibernation";
    StartAgent(*h);
    hosts_.push_back(std::move(h));
    // Joining (a key, two TLS handshakes) takes a moment: the host is returned once the
    // controller knows it, so a launch right after AddHost can be placed on it.
    Host& added = *hosts_.back();
    if (!Eventually([&] {
          const std::string id = added.agent->host_id();
          std::lock_guard<std::mutex> lock(ctl_.state->mu());
          return !id.empty() && ctl_.state->hosts().contains(id);
        })) {
      throw std::runtime_error("the agent did not join and register");
    }
    return added;
  }

  void StartAgent(Host& h) {
    h.link = agent::MakeGrpcControllerLink(
        {.endpoint = agent_endpoint(), .state_dir = h.config.state_dir, .join_token = join_token_});
    auto networks =
        [](const std::string& subnet,
           const std::string&) -> absl::StatusOr<std::unique_ptr<network::HostNetwork>> {
      return std::make_unique<network::FakeHostNetwork>("br-test", subnet);
    };
    h.agent = std::make_unique<agent::Agent>(h.config, *h.hypervisor, *h.link, RealClock::Get(),
                                             networks);
    h.handler = std::make_unique<agent::AgentHandler>(*h.agent);
    // As main.cc: the agent's port serves the host certificate, so the join comes first.
    const agent::HostCredentials creds =
        Must(agent::LoadOrJoin(agent_endpoint(), h.config.state_dir, join_token_));
    // And its NBD client certificate (volume services' exports are NBD over TLS).
    if (auto s = agent::EnsureNbdClientCredentials(agent_endpoint(), creds, h.config.state_dir,
                                                   hypervisor::QemuAccount{});
        !s.ok()) {
      throw std::runtime_error(std::string(s.message()));
    }
    grpc::ServerBuilder b;
    int port = 0;
    b.AddListeningPort("127.0.0.1:0", agent::AgentPortCredentials(creds), &port);
    b.RegisterService(h.handler.get());
    h.server = b.BuildAndStart();
    h.agent->set_advertise_endpoint(absl::StrCat("127.0.0.1:", port));
    auto s = h.agent->Start();
    if (!s.ok()) throw std::runtime_error(std::string(s.message()));
  }

  void StopAgent(Host& h) {
    if (h.agent) h.agent->Stop();
    if (h.server) h.server->Shutdown(std::chrono::system_clock::now());
    h.server.reset();
    h.handler.reset();
    h.agent.reset();
  }

  void RestartAgent(Host& h) {
    StopAgent(h);
    StartAgent(h);
  }

  // The API stub; every call needs Sign(ctx, "<Method>", request) first (SigV4, the admin key).
  v1::ComputeService::Stub& api() { return *stub_; }
  // Signs one ComputeService call with the admin key at the controller's (fake) clock; `request`
  // is nullptr for client-streaming calls (RegisterImage).
  void Sign(grpc::ClientContext& ctx, const char* method,
            const google::protobuf::Message* request) {
    for (const auto& [name, value] :
         auth::SignGrpcCall(auth::ComputeMethodPath(method), request, {admin_key_, admin_secret_},
                            ctl_.config.region, ctl_.clock.Now())) {
      ctx.AddMetadata(name, value);
    }
  }
  // <controller state dir>/admin-credentials and the key in it.
  std::string admin_credentials() const { return ctl_.dir / "admin-credentials"; }
  const std::string& admin_key() const { return admin_key_; }
  const std::string& admin_secret() const { return admin_secret_; }
  // host:port of the controller's API (ComputeService, SigV4-signed gRPC).
  std::string endpoint() const { return absl::StrCat("127.0.0.1:", port_); }
  // host:port of the controller's agent listener (HostService, TLS).
  std::string agent_endpoint() const { return absl::StrCat("127.0.0.1:", agent_port_); }
  const std::string& join_token() const { return join_token_; }
  std::string pki_dir() { return ctl_.dir / "pki"; }
  controller::CertificateAuthority& ca() { return *ca_; }
  // A HostService stub with the credentials `h`'s agent stored when it joined.
  std::unique_ptr<v1::HostService::Stub> HostStubAs(const Host& h) {
    auto creds = Must(agent::LoadHostCredentials(h.config.state_dir));
    if (!creds) throw std::runtime_error("host has not joined");
    return v1::HostService::NewStub(agent::ControllerChannel(agent_endpoint(), *creds));
  }
  // What the controller calls agents with (its CA, its client certificate and key).
  const controller::AgentClientTls& agent_client_tls() const { return agent_tls_; }
  ControllerFixture& controller() { return ctl_; }
  std::vector<std::unique_ptr<Host>>& hosts() { return hosts_; }

  // Polls `pred` until it holds or `timeout` passes.
  static bool Eventually(const std::function<bool()>& pred,
                         std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (pred()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return pred();
  }

  std::string StateOf(const std::string& instance_id) {
    grpc::ClientContext ctx;
    v1::DescribeInstancesRequest req;
    req.add_instance_ids(instance_id);
    v1::DescribeInstancesResponse resp;
    Sign(ctx, "DescribeInstances", &req);
    auto s = stub_->DescribeInstances(&ctx, req, &resp);
    if (!s.ok() || resp.reservations_size() == 0) return "error: " + s.error_message();
    return resp.reservations(0).instances(0).state().name();
  }

 private:
  template <typename T>
  static T Must(absl::StatusOr<T> v) {
    if (!v.ok()) throw std::runtime_error(std::string(v.status().message()));
    return std::move(*v);
  }

  query::GuestCloudFormationEndpoint* guest_cloudformation_ = nullptr;
  ControllerFixture ctl_;
  controller::AgentClientTls agent_tls_;
  std::unique_ptr<controller::AgentClient> grpc_agents_;
  int port_ = 0;
  std::unique_ptr<auth::RequestVerifier> verifier_;
  std::string admin_key_, admin_secret_;
  int agent_port_ = 0;
  std::unique_ptr<controller::CertificateAuthority> ca_;
  std::string join_token_;
  std::unique_ptr<controller::HostEnrollment> enrollment_;
  std::unique_ptr<grpc::Server> agent_server_;
  std::unique_ptr<controller::ComputeHandler> compute_handler_;
  std::unique_ptr<controller::HostHandler> host_handler_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::ComputeService::Stub> stub_;
  std::vector<std::unique_ptr<Host>> hosts_;
};

}  // namespace minicloud::testing
