// bench_imds_server: the metadata server as a standalone process for bench/imds/run.sh.
// Serves one fixed instance (IMDSv1 and v2 allowed, as the agent's default metadata options) to
// every source address, so all of a load generator's connections count as one guest.
//
//   bench_imds_server --port 18080 --limits shipped|off [--listen 127.0.0.1] [--threads 1]
//   bench_imds_server --dump DIR PATH...   write the exact response bodies (for nginx) and exit
//
// --limits shipped: the ServerOptions the agent runs with (agent/main.cc leaves them at their
//   defaults): per-instance token bucket, per-source and global connection caps.
// --limits off: rate limiting disabled, connection caps raised to 100,000 (measures the HTTP
//   path alone).
//
// Loopback only by default; runs until SIGINT/SIGTERM.

#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/time/clock.h"
#include "agent/metadata/handler.h"
#include "agent/metadata/server.h"
#include "common/clock.h"
#include "common/logging.h"
#include "controller/identity/identity_signer.h"

using namespace minicloud::metadata;

namespace {

InstanceMetadata BenchInstance() {
  InstanceMetadata m;
  m.instance_id = "i-0123456789abcdef0";
  m.image_id = "ami-0abcdef1234567890";
  m.instance_type = "t3.micro";
  m.reservation_id = "r-0fedcba9876543210";
  m.account_id = "123456789012";
  m.region = "eu-west-1";
  m.availability_zone = "eu-west-1a";
  m.local_ipv4 = "10.0.0.5";
  m.hostname = m.local_hostname = Ec2PrivateDnsName(m.local_ipv4, m.region);
  m.mac = "02:00:0a:00:00:05";
  m.interface_id = "eni-0a1b2c3d4e5f60718";
  m.subnet_id = "subnet-0123abcd";
  m.vpc_id = "vpc-0123abcd";
  m.security_groups = {{"sg-0aaa1111", "default"}};
  m.public_keys = {
      {"bench",
       "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBenchKeyBenchKeyBenchKeyBenchKeyBenchKey0000 bench"}};
  m.pending_time = absl::FromUnixSeconds(1'700'000'000);
  // A fixed, unsigned document of the real shape: signing is not what is measured.
  minicloud::identity::IdentityFields f;
  f.account_id = m.account_id;
  f.availability_zone = m.availability_zone;
  f.image_id = m.image_id;
  f.instance_id = m.instance_id;
  f.instance_type = m.instance_type;
  f.pending_time = m.pending_time;
  f.private_ip = m.local_ipv4;
  f.region = m.region;
  m.identity.document = minicloud::identity::BuildIdentityDocument(f);
  m.identity.signature = "unsigned";
  m.identity.pkcs7 = "unsigned";
  m.identity.rsa2048 = "unsigned";
  return m;
}

std::atomic<bool> g_stop{false};

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  spdlog::set_level(spdlog::level::warn);
  const TokenAuthority tokens = *TokenAuthority::WithRandomKey();
  auto instance = std::make_shared<const InstanceMetadata>(BenchInstance());

  if (!args.empty() && args[0] == "--dump") {
    if (args.size() < 3) {
      std::cerr << "usage: bench_imds_server --dump DIR PATH...\n";
      return 2;
    }
    for (size_t i = 2; i < args.size(); ++i) {
      Request req;
      req.method = "GET";
      req.target = args[i];
      const Response r = Handle(req, instance.get(), tokens, absl::Now());
      if (r.status != 200) {
        std::cerr << args[i] << ": status " << r.status << "\n";
        return 1;
      }
      const std::filesystem::path out = std::filesystem::path(args[1]) / args[i].substr(1);
      std::filesystem::create_directories(out.parent_path());
      std::ofstream(out, std::ios::binary) << r.body;
    }
    return 0;
  }

  std::string listen = "127.0.0.1";
  std::string limits;
  int port = 18080;
  int threads = 1;
  for (size_t i = 0; i + 1 < args.size(); i += 2) {
    if (args[i] == "--port") {
      if (!absl::SimpleAtoi(args[i + 1], &port)) return 2;
    } else if (args[i] == "--limits") {
      limits = args[i + 1];
    } else if (args[i] == "--listen") {
      listen = args[i + 1];
    } else if (args[i] == "--threads") {
      if (!absl::SimpleAtoi(args[i + 1], &threads)) return 2;
    } else {
      std::cerr << "unknown flag " << args[i] << "\n";
      return 2;
    }
  }
  ServerOptions opts;  // the defaults are what the agent ships
  if (limits == "off") {
    opts.requests_per_second = 0;
    opts.max_connections_per_source = 100000;
    opts.max_connections = 100000;
  } else if (limits != "shipped") {
    std::cerr << "--limits shipped|off is required\n";
    return 2;
  }
  opts.listen = {boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address(listen),
                                                static_cast<uint16_t>(port))};
  opts.threads = threads;
  std::cerr << "limits " << limits << ": requests_per_second=" << opts.requests_per_second
            << " burst=" << opts.burst
            << " max_connections_per_source=" << opts.max_connections_per_source
            << " max_connections=" << opts.max_connections << "\n";
  Server server(
      opts, [instance](const boost::asio::ip::address&) { return instance; }, tokens,
      minicloud::RealClock::Get());
  if (absl::Status s = server.Start(); !s.ok()) {
    std::cerr << s << "\n";
    return 1;
  }
  std::signal(SIGINT, [](int) { g_stop = true; });
  std::signal(SIGTERM, [](int) { g_stop = true; });
  std::cout << "ready " << server.local_endpoints().at(0).port() << std::endl;
  while (!g_stop) ::pause();
  server.Stop();
  return 0;
}
