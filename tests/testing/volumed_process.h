#pragma once

// One running minicloud-volumed binary (build/bin) on a state directory, for integration tests:
// started with its gRPC listener on `listen` (port 0: the kernel picks; the port it printed is
// port()), SIGTERMed and reaped by Stop() or the destructor. Pause()/Resume() (SIGSTOP/SIGCONT)
// make it hang without closing its socket.
//
// With a VolumedTls it serves mutual TLS with files the controller's CA issued
// (WriteVolumeServiceFiles, what `minicloud-controller issue-volume-service-cert` writes), and
// stub() and client_options() show the controller's client certificate, as the controller does;
// without, plain text on loopback. Its NBD exports are then over TLS too (unless `extra_args`
// say --nbd-tls off): nbd_client_dir() holds the controller's client certificate as QEMU reads
// it (tests/testing/nbd_io.h).

#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/crypto/join_token.h"
#include "common/file/file_util.h"
#include "common/process/spawn.h"
#include "controller/pki/volume_service_files.h"
#include "controller/volumes/grpc_volume_service_client.h"
#include "minicloud/v1/volume_service.grpc.pb.h"
#include "tests/testing/nbd_io.h"

namespace minicloud::testing {

struct VolumedTls {
  std::string dir;                      // ca.crt, server.crt, server.key
  controller::VolumeServiceTls client;  // the controller's side
};

// The files of zone `zone`'s volume service from `ca` in `dir` (names: 127.0.0.1), and a fresh
// controller client certificate of the same CA.
inline VolumedTls MakeVolumedTls(const controller::CertificateAuthority& ca,
                                 const std::string& zone, const std::string& dir) {
  REQUIRE(controller::WriteVolumeServiceFiles(ca, zone, {"127.0.0.1"}, dir, absl::Now()).ok());
  auto client = ca.IssueControllerClientCertificate(absl::Now());
  REQUIRE(client.ok());
  return {dir,
          {.ca_pem = ca.ca_pem(),
           .certificate_chain_pem = client->certificate_chain_pem,
           .private_key_pem = client->private_key_pem}};
}

class VolumedProcess {
 public:
  VolumedProcess(const std::string& state_dir, const std::string& nbd_listen,
                 const std::string& listen = "127.0.0.1:0", const std::string& zone = "test-1b",
                 std::optional<VolumedTls> tls = std::nullopt,
                 const std::vector<std::string>& extra_args = {})
      : zone_(zone), tls_(std::move(tls)) {
    int fds[2];
    REQUIRE(pipe2(fds, O_CLOEXEC) == 0);
    file::UniqueFd read_end(fds[0]), write_end(fds[1]);
    process::SpawnOptions options;
    options.stdout_fd = write_end.get();
    options.stderr_fd = 2;
    std::vector<std::string> argv = {std::string(MINICLOUD_BINARY_DIR) + "/bin/minicloud-volumed",
                                     "--state-dir",
                                     state_dir,
                                     "--listen",
                                     listen,
                                     "--nbd-listen",
                                     nbd_listen,
                                     "--availability-zone",
                                     zone};
    if (tls_) {
      argv.insert(argv.end(),
                  {"--tls-cert", tls_->dir + "/server.crt", "--tls-key", tls_->dir + "/server.key",
                   "--tls-client-ca", tls_->dir + "/ca.crt"});
      nbd_client_dir_ = WriteNbdClientDir(tls_->client, tls_->dir + "/nbd-client");
    }
    argv.insert(argv.end(), extra_args.begin(), extra_args.end());
    absl::StatusOr<pid_t> pid = process::Spawn(argv, options);
    REQUIRE(pid.ok());
    pid_ = *pid;
    write_end.Reset();
    // "minicloud-volumed listening on 127.0.0.1:PORT zone <zone>"
    std::string line;
    char c;
    while (read(read_end.get(), &c, 1) == 1 && c != '\n') line += c;
    INFO(line);
    char host[64];
    REQUIRE(std::sscanf(line.c_str(), "minicloud-volumed listening on %63[^:]:%d", host, &port_) ==
            2);
    stub_ = Stub(client_options().tls);
  }
  ~VolumedProcess() { Stop(); }
  VolumedProcess(const VolumedProcess&) = delete;
  VolumedProcess& operator=(const VolumedProcess&) = delete;

  void Stop(int signal = SIGTERM) {
    if (pid_ <= 0) return;
    kill(pid_, signal);
    if (signal != SIGCONT) kill(pid_, SIGCONT);  // a paused daemon cannot act on SIGTERM
    int status = 0;
    waitpid(pid_, &status, 0);
    exit_status_ = status;
    pid_ = -1;
  }
  void Pause() { kill(pid_, SIGSTOP); }
  void Resume() { kill(pid_, SIGCONT); }

  int port() const { return port_; }
  std::string endpoint() const { return "127.0.0.1:" + std::to_string(port_); }
  int exit_status() const { return exit_status_; }
  volume::v1::VolumeService::Stub& stub() { return *stub_; }
  // QEMU client credentials of the controller's certificate; empty without TLS.
  const std::string& nbd_client_dir() const { return nbd_client_dir_; }

  // What the controller's client of this daemon is given (its TLS side when the daemon has TLS).
  controller::GrpcVolumeServiceOptions client_options(
      absl::Duration deadline = absl::Seconds(30)) const {
    return {.endpoint = endpoint(),
            .zone = zone_,
            .tls = tls_ ? std::optional(tls_->client) : std::nullopt,
            .deadline = deadline};
  }

  // A stub showing `tls` (plain text when nullopt) and checking the zone's server name.
  std::unique_ptr<volume::v1::VolumeService::Stub> Stub(
      const std::optional<controller::VolumeServiceTls>& tls) const {
    if (!tls) {
      return volume::v1::VolumeService::NewStub(
          grpc::CreateChannel(endpoint(), grpc::InsecureChannelCredentials()));
    }
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = tls->ca_pem;
    ssl.pem_cert_chain = tls->certificate_chain_pem;
    ssl.pem_private_key = tls->private_key_pem;
    grpc::ChannelArguments args;
    args.SetSslTargetNameOverride(crypto::VolumeServiceName(zone_));
    return volume::v1::VolumeService::NewStub(
        grpc::CreateCustomChannel(endpoint(), grpc::SslCredentials(ssl), args));
  }

 private:
  const std::string zone_;
  const std::optional<VolumedTls> tls_;
  pid_t pid_ = -1;
  int port_ = 0;
  int exit_status_ = -1;
  std::string nbd_client_dir_;
  std::unique_ptr<volume::v1::VolumeService::Stub> stub_;
};

}  // namespace minicloud::testing
