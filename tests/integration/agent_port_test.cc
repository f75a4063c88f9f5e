// The agent's own port (AgentService, which the controller dials) over real mutual TLS on
// loopback: only the controller's client certificate gets in, and the controller talks only to
// the host it expects. Each case names the one-line bug it catches.
#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>

#include "agent/runtime/controller_tls.h"
#include "common/crypto/join_token.h"
#include "common/crypto/x509.h"
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

// Where `h`'s agent serves (what it registered), once the controller knows the host.
std::string EndpointOf(TestCloud& cloud, const TestCloud::Host& h) {
  REQUIRE(TestCloud::Eventually([&] {
    std::lock_guard<std::mutex> lock(cloud.controller().state->mu());
    return cloud.controller().state->hosts().contains(h.agent->host_id());
  }));
  std::lock_guard<std::mutex> lock(cloud.controller().state->mu());
  return cloud.controller().state->hosts().at(h.agent->host_id()).endpoint();
}

// An AgentService stub to `endpoint` over TLS trusting `ca_pem`, expecting the server to be
// `server_name`, showing `cert_pem`/`key_pem` (none when empty).
std::unique_ptr<v1::AgentService::Stub> TlsStub(const std::string& endpoint,
                                                const std::string& server_name,
                                                const std::string& ca_pem,
                                                const std::string& cert_pem = "",
                                                const std::string& key_pem = "") {
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = ca_pem;
  options.pem_cert_chain = cert_pem;
  options.pem_private_key = key_pem;
  grpc::ChannelArguments args;
  args.SetSslTargetNameOverride(server_name);
  return v1::AgentService::NewStub(
      grpc::CreateCustomChannel(endpoint, grpc::SslCredentials(options), args));
}

// The status code of a console read of an instance the agent does not run: NOT_FOUND means the
// call reached the handler.
grpc::StatusCode ConsoleCall(v1::AgentService::Stub& stub) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  v1::AgentConsoleRequest req;
  req.set_instance_id("i-0123456789abcdef0");
  v1::AgentConsoleResponse resp;
  return stub.GetConsoleOutput(&ctx, req, &resp).error_code();
}

TEST_CASE("agent port: only the controller's client certificate is let in", "[integration][mtls]") {
  TestCloud cloud;
  auto& a = cloud.AddHost("home-1a", "rack-1");
  auto& b = cloud.AddHost("home-1a", "rack-2");
  const std::string endpoint = EndpointOf(cloud, a);
  const std::string id = a.agent->host_id();
  const auto& ctl = cloud.agent_client_tls();
  // The reference: the controller's own certificate reaches the handler.
  auto as_controller =
      TlsStub(endpoint, id, ctl.ca_pem, ctl.certificate_chain_pem, ctl.private_key_pem);
  REQUIRE(ConsoleCall(*as_controller) == grpc::StatusCode::NOT_FOUND);

  // Bug: the agent's port served with InsecureServerCredentials again (plain text answered).
  auto plain =
      v1::AgentService::NewStub(grpc::CreateChannel(endpoint, grpc::InsecureChannelCredentials()));
  CHECK(ConsoleCall(*plain) == grpc::StatusCode::UNAVAILABLE);
  // Bug: GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY instead of ..._REQUIRE_...: TLS without
  // a client certificate would complete the handshake (only the per-call check left to refuse).
  auto anonymous = TlsStub(endpoint, id, ctl.ca_pem);
  CHECK(ConsoleCall(*anonymous) == grpc::StatusCode::UNAVAILABLE);

  // Bug: the AuthMetadataProcessor not installed: any certificate of the CA (here host B's,
  // valid and its own) would call the agent's port as if it were the controller.
  auto b_creds = agent::LoadHostCredentials(b.config.state_dir);
  REQUIRE(b_creds.ok());
  REQUIRE(b_creds->has_value());
  auto as_host_b =
      TlsStub(endpoint, id, ctl.ca_pem, (*b_creds)->certificate_pem, (*b_creds)->key_pem);
  CHECK(ConsoleCall(*as_host_b) == grpc::StatusCode::PERMISSION_DENIED);

  // Bug: CheckCallerIsController checking only the common name: a certificate of the CA that
  // carries the controller's name but serverAuth (as every host certificate does) is refused.
  auto ca_key = crypto::ParsePrivateKeyPem(ReadAll(cloud.pki_dir() + "/ca.key"));
  REQUIRE(ca_key.ok());
  auto key = crypto::GenerateEcKey();
  REQUIRE(key.ok());
  crypto::CertificateSpec spec{.common_name = crypto::kControllerClientName,
                               .usage = crypto::KeyUsage::kHost,
                               .not_before = absl::Now() - absl::Hours(1),
                               .not_after = absl::Now() + absl::Hours(1)};
  auto both =
      crypto::IssueCertificate(spec, key->get(), cloud.ca().ca_certificate(), ca_key->get());
  REQUIRE(both.ok());
  auto as_named_host = TlsStub(endpoint, id, ctl.ca_pem, *crypto::CertificatePem(both->get()),
                               *crypto::PrivateKeyPem(key->get()));
  CHECK(ConsoleCall(*as_named_host) == grpc::StatusCode::PERMISSION_DENIED);

  // The controller's name on a certificate of another CA is refused at the handshake (bug: the
  // port's client-certificate mode without _AND_VERIFY, accepting any chain).
  testing::TempDir other;
  auto other_ca = controller::CertificateAuthority::OpenOrCreate(other / "pki", absl::Now());
  REQUIRE(other_ca.ok());
  auto forged = (*other_ca)->IssueControllerClientCertificate(absl::Now());
  REQUIRE(forged.ok());
  auto as_forged =
      TlsStub(endpoint, id, ctl.ca_pem, forged->certificate_chain_pem, forged->private_key_pem);
  CHECK(ConsoleCall(*as_forged) == grpc::StatusCode::UNAVAILABLE);
}

TEST_CASE("agent port: the controller talks only to the host it expects", "[integration][mtls]") {
  TestCloud cloud;
  auto& a = cloud.AddHost("home-1a", "rack-1");
  auto& b = cloud.AddHost("home-1a", "rack-2");
  const std::string b_endpoint = EndpointOf(cloud, b);
  auto agents = controller::MakeGrpcAgentClient(cloud.agent_client_tls(), 2000);
  // The reference: host B at its own address answers (NotFound: it runs no such instance).
  CHECK(agents->GetConsoleOutput({b.agent->host_id(), b_endpoint}, "i-0123456789abcdef0", 100)
            .status()
            .code() == absl::StatusCode::kNotFound);
  // Bug: the channel without SetSslTargetNameOverride(host_id) (or checking only the CA): host
  // B, answering at the address host A registered, would serve A's console.
  auto wrong =
      agents->GetConsoleOutput({a.agent->host_id(), b_endpoint}, "i-0123456789abcdef0", 100);
  CHECK(wrong.status().code() == absl::StatusCode::kUnavailable);
  // An agent whose certificate another CA issued for host A's id is refused (bug: the
  // controller's channel accepting any chain, e.g. a verifier that skips the CA check).
  testing::TempDir other;
  auto other_ca = controller::CertificateAuthority::OpenOrCreate(other / "pki", absl::Now());
  REQUIRE(other_ca.ok());
  auto key = crypto::GenerateEcKey();
  REQUIRE(key.ok());
  agent::HostCredentials impostor{.host_id = a.agent->host_id(),
                                  .key_pem = *crypto::PrivateKeyPem(key->get()),
                                  .certificate_pem = *(*other_ca)->IssueHostCertificate(
                                      key->get(), a.agent->host_id(), absl::Now()),
                                  .ca_pem = cloud.ca().ca_pem()};
  agent::AgentHandler handler(*a.agent);
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", agent::AgentPortCredentials(impostor), &port);
  builder.RegisterService(&handler);
  auto server = builder.BuildAndStart();
  REQUIRE(server);
  auto forged = agents->GetConsoleOutput({a.agent->host_id(), absl::StrCat("127.0.0.1:", port)},
                                         "i-0123456789abcdef0", 100);
  CHECK(forged.status().code() == absl::StatusCode::kUnavailable);
  server->Shutdown(std::chrono::system_clock::now());
}

TEST_CASE("agent port: console output reaches the API over mutual TLS", "[integration][mtls]") {
  TestCloud cloud;
  auto& host = cloud.AddHost("home-1a", "rack-1");
  const std::string image = cloud.controller().RegisterImage();
  grpc::ClientContext run_ctx;
  v1::RunInstancesRequest run;
  run.set_image_id(image);
  run.set_instance_type("t3.micro");
  run.set_min_count(1);
  run.set_max_count(1);
  v1::Reservation launched;
  cloud.Sign(run_ctx, "RunInstances", &run);
  REQUIRE(cloud.api().RunInstances(&run_ctx, run, &launched).ok());
  const std::string id = launched.instances(0).instance_id();
  REQUIRE(TestCloud::Eventually([&] { return cloud.StateOf(id) == "running"; }));
  std::ofstream(host.agent->InstanceDir(id).value() + "/console.log") << "login: over mTLS\n";
  grpc::ClientContext ctx;
  v1::GetConsoleOutputRequest req;
  req.set_instance_id(id);
  v1::GetConsoleOutputResponse resp;
  cloud.Sign(ctx, "GetConsoleOutput", &req);
  grpc::Status s = cloud.api().GetConsoleOutput(&ctx, req, &resp);
  INFO(s.error_message());
  REQUIRE(s.ok());
  // Bug: the controller dialling agents with the host id of another host, or without its client
  // certificate: the call is refused and the console comes back empty or as an error.
  CHECK(resp.output() == "login: over mTLS\n");
}

}  // namespace
}  // namespace minicloud
