// Agents and the controller over real TLS on loopback (TestCloud's agent listener): joining,
// one host unable to act as another, calls without a client certificate, restarts. Each case
// names the one-line bug it catches.
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "agent/runtime/controller_tls.h"
#include "common/crypto/join_token.h"
#include "common/crypto/x509.h"
#include "controller/pki/enrollment_files.h"
#include "tests/testing/test_cloud.h"

namespace minicloud {
namespace {

using testing::TestCloud;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

mode_t ModeOf(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

v1::RegisterHostRequest RegisterAs(const std::string& host_id) {
  v1::RegisterHostRequest req;
  req.set_host_id(host_id);
  req.set_hostname("intruder");
  req.set_endpoint("127.0.0.1:1");
  req.mutable_topology()->set_region("home-1");
  req.mutable_topology()->set_availability_zone("home-1a");
  req.mutable_topology()->set_rack("rack-1");
  req.mutable_capacity()->set_vcpus(1);
  req.mutable_capacity()->set_memory_mib(512);
  return req;
}

grpc::StatusCode RegisterWith(v1::HostService::Stub& stub, const std::string& host_id) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  v1::RegisterHostResponse resp;
  return stub.RegisterHost(&ctx, RegisterAs(host_id), &resp).error_code();
}

bool Registered(TestCloud& cloud, const TestCloud::Host& h) {
  const std::string id = h.agent->host_id();
  if (id.empty()) return false;
  std::lock_guard<std::mutex> lock(cloud.controller().state->mu());
  return cloud.controller().state->hosts().contains(id);
}

TEST_CASE("mtls: an agent joins with the token and registers over mutual TLS",
          "[integration][mtls]") {
  TestCloud cloud;
  auto& h = cloud.AddHost("home-1a", "rack-1");
  REQUIRE(TestCloud::Eventually([&] { return Registered(cloud, h); }));
  const std::string tls = h.config.state_dir + "/tls";
  // Bug: the agent's private key written with the process umask (readable by others).
  CHECK(ModeOf(tls + "/host.key") == 0600);
  CHECK(ModeOf(tls) == 0700);
  auto cert = crypto::ParseCertificatePem(ReadAll(tls + "/host.crt"));
  REQUIRE(cert.ok());
  // Bug: the agent registering under another id than its certificate names.
  CHECK(*crypto::CommonName(cert->get()) == h.agent->host_id());
  CHECK(ReadAll(tls + "/ca.crt") == cloud.ca().ca_pem());
  // Its own stub works for its own id (the reference for the refusals below).
  CHECK(RegisterWith(*cloud.HostStubAs(h), h.agent->host_id()) == grpc::StatusCode::OK);
}

TEST_CASE("mtls: a host cannot register or report as another host", "[integration][mtls]") {
  TestCloud cloud;
  auto& a = cloud.AddHost("home-1a", "rack-1");
  auto& b = cloud.AddHost("home-1a", "rack-2");
  REQUIRE(TestCloud::Eventually([&] { return Registered(cloud, a) && Registered(cloud, b); }));
  auto as_b = cloud.HostStubAs(b);
  // Bug: the edge check missing on RegisterHost (host B overwrites A's endpoint and capacity).
  CHECK(RegisterWith(*as_b, a.agent->host_id()) == grpc::StatusCode::PERMISSION_DENIED);
  {
    std::lock_guard<std::mutex> lock(cloud.controller().state->mu());
    CHECK(cloud.controller().state->hosts().at(a.agent->host_id()).hostname() != "intruder");
  }
  // Bug: the edge check missing on ReportStatus or WatchDesired.
  grpc::ClientContext report_ctx;
  v1::ReportStatusRequest report;
  report.set_host_id(a.agent->host_id());
  v1::ReportStatusResponse report_resp;
  CHECK(as_b->ReportStatus(&report_ctx, report, &report_resp).error_code() ==
        grpc::StatusCode::PERMISSION_DENIED);
  grpc::ClientContext watch_ctx;
  v1::WatchDesiredRequest watch;
  watch.set_host_id(a.agent->host_id());
  v1::DesiredState desired;
  CHECK(as_b->WatchDesired(&watch_ctx, watch, &desired).error_code() ==
        grpc::StatusCode::PERMISSION_DENIED);
  // Bug: Join handing a certificate for a bound id to a new key (a valid token is not enough).
  testing::TempDir intruder;
  std::ofstream(intruder / "host-id") << a.agent->host_id() << "\n";
  auto joined = agent::JoinController(cloud.agent_endpoint(), cloud.join_token(), intruder.path(),
                                      a.agent->host_id());
  CHECK(joined.status().code() == absl::StatusCode::kPermissionDenied);
  CHECK_FALSE(std::filesystem::exists(intruder / "tls/host.crt"));
}

TEST_CASE("mtls: a call without a client certificate is refused", "[integration][mtls]") {
  TestCloud cloud;
  auto& a = cloud.AddHost("home-1a", "rack-1");
  REQUIRE(TestCloud::Eventually([&] { return Registered(cloud, a); }));
  const std::string id = a.agent->host_id();
  // TLS that checks the controller but shows no certificate (what Join uses).
  agent::HostCredentials server_only;
  server_only.ca_pem = cloud.ca().ca_pem();
  auto anonymous =
      v1::HostService::NewStub(agent::ControllerChannel(cloud.agent_endpoint(), server_only));
  // Bug: GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY without the per-call check: anyone who
  // can Join's port registers as any host.
  CHECK(RegisterWith(*anonymous, id) == grpc::StatusCode::UNAUTHENTICATED);
  // Plain text to the agent listener: no handshake.
  auto plain = v1::HostService::NewStub(
      grpc::CreateChannel(cloud.agent_endpoint(), grpc::InsecureChannelCredentials()));
  CHECK(RegisterWith(*plain, id) == grpc::StatusCode::UNAVAILABLE);
  // Bug: the HostService still registered on the API port.
  auto on_api = v1::HostService::NewStub(
      grpc::CreateChannel(cloud.endpoint(), grpc::InsecureChannelCredentials()));
  CHECK(RegisterWith(*on_api, id) == grpc::StatusCode::UNIMPLEMENTED);
  // A certificate for the right host id signed by another CA: the handshake fails.
  testing::TempDir other;
  auto other_ca = controller::CertificateAuthority::OpenOrCreate(other / "pki", absl::Now());
  REQUIRE(other_ca.ok());
  auto key = crypto::GenerateEcKey();
  REQUIRE(key.ok());
  agent::HostCredentials forged{
      .host_id = id,
      .key_pem = *crypto::PrivateKeyPem(key->get()),
      .certificate_pem = *(*other_ca)->IssueHostCertificate(key->get(), id, absl::Now()),
      .ca_pem = cloud.ca().ca_pem()};
  auto forged_stub =
      v1::HostService::NewStub(agent::ControllerChannel(cloud.agent_endpoint(), forged));
  // Bug: pem_root_certs not set on the server (client certificates accepted unverified).
  CHECK(RegisterWith(*forged_stub, id) != grpc::StatusCode::OK);
  // After an admin forgets the host, its own certificate is refused too.
  REQUIRE(controller::ForgetHost(cloud.pki_dir(), id).ok());
  // Bug: CheckCallerIsHost comparing only the name, not the key still bound to it.
  CHECK(RegisterWith(*cloud.HostStubAs(a), id) == grpc::StatusCode::PERMISSION_DENIED);
}

TEST_CASE("mtls: the agent checks the controller's CA against the token", "[integration][mtls]") {
  TestCloud cloud;
  auto token = crypto::ParseJoinToken(cloud.join_token());
  REQUIRE(token.ok());
  // Bug: FetchPinnedCa trusting whatever CA the server sends (no hash comparison).
  crypto::JoinToken wrong = *token;
  wrong.ca_sha256 = std::string(64, 'c');
  testing::TempDir dir;
  auto joined =
      agent::JoinController(cloud.agent_endpoint(), crypto::FormatJoinToken(wrong), dir.path(), "");
  CHECK(joined.status().code() == absl::StatusCode::kPermissionDenied);
  CHECK_FALSE(std::filesystem::exists(dir / "tls/host.crt"));
  // The right one works from the same directory (the key made above is reused).
  auto ok = agent::JoinController(cloud.agent_endpoint(), cloud.join_token(), dir.path(), "");
  REQUIRE(ok.ok());
  CHECK(std::filesystem::exists(dir / "tls/host.crt"));
}

TEST_CASE("mtls: a restarted agent reuses its certificate without a token", "[integration][mtls]") {
  TestCloud cloud;
  auto& h = cloud.AddHost("home-1a", "rack-1");
  REQUIRE(TestCloud::Eventually([&] { return Registered(cloud, h); }));
  const std::string id = h.agent->host_id();
  const std::string cert = ReadAll(h.config.state_dir + "/tls/host.crt");
  cloud.RestartAgent(h);
  REQUIRE(TestCloud::Eventually([&] { return Registered(cloud, h); }));
  CHECK(h.agent->host_id() == id);
  // Bug: the link joining again at every start (a new certificate, a new serial).
  CHECK(ReadAll(h.config.state_dir + "/tls/host.crt") == cert);
  // Bug: the stored certificate ignored when no token is configured.
  auto link = agent::MakeGrpcControllerLink(
      {.endpoint = cloud.agent_endpoint(), .state_dir = h.config.state_dir, .join_token = ""});
  v1::RegisterHostRequest req = RegisterAs("");
  req.set_hostname(h.config.hostname);
  auto resp = link->Register(req);
  REQUIRE(resp.ok());
  CHECK(resp->host_id() == id);
  // A host that never joined and has no token is told what is missing.
  testing::TempDir fresh;
  auto none = agent::MakeGrpcControllerLink(
      {.endpoint = cloud.agent_endpoint(), .state_dir = fresh.path(), .join_token = ""});
  CHECK(none->Register(RegisterAs("")).status().code() == absl::StatusCode::kFailedPrecondition);
  // The controller restarting (same CA in its state dir, a new server certificate) keeps agents.
  cloud.RestartController();
  CHECK(RegisterWith(*cloud.HostStubAs(h), id) == grpc::StatusCode::OK);
}

}  // namespace
}  // namespace minicloud
