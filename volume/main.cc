// minicloud-volumed: the volume service of one availability zone. Wiring only: settings, the
// qemu-storage-daemon backend, the gRPC VolumeService, and a health check that restarts a dead
// qemu-storage-daemon (and so its exports) even when no call comes in.

#include <grpcpp/grpcpp.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <memory>

#include "common/crypto/join_token.h"
#include "common/logging.h"
#include "common/signals.h"
#include "volume/backend/qsd/qsd_volume_backend.h"
#include "volume/config/volumed_settings.h"
#include "volume/service/volume_grpc_service.h"
#include "volume/service/volume_tls.h"

#ifndef MINICLOUD_VERSION
#define MINICLOUD_VERSION "0"
#endif

int main(int argc, char** argv) {
  using namespace minicloud;
  using namespace minicloud::volume;
  ShutdownSignal shutdown;        // before any thread starts
  umask(077);                     // every file the daemon or qemu-storage-daemon makes is 0600
  std::signal(SIGPIPE, SIG_IGN);  // a closed stdout or socket is an error, not death
  // Logs on stderr; stdout carries only the "listening on" line.
  spdlog::set_default_logger(spdlog::stderr_color_mt("minicloud-volumed"));

  CLI::App app{"minicloud-volumed: EBS volumes of one availability zone over NBD"};
  VolumedSettings settings;
  AddVolumedFlags(app, settings);
  CLI11_PARSE(app, argc, argv);
  for (absl::Status s : {ApplyVolumedConfigFile(app, settings), ResolveVolumedSettings(settings)}) {
    if (!s.ok()) {
      spdlog::error("{}", s.message());
      return 2;
    }
  }
  const HostPort listen = *ParseHostPort(settings.listen, "listen");
  const HostPort nbd = *ParseHostPort(settings.nbd_listen, "nbd_listen");
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
      VolumeServiceCredentials(settings, absl::Now());
  if (!credentials.ok()) {
    spdlog::error("{}", credentials.status().message());
    return 2;
  }
  if (TransportOf(settings) == VolumedTransport::kPlaintext && !IsLoopbackHost(listen.host)) {
    spdlog::warn(
        "--insecure-plaintext: the VolumeService on {} has no authentication: anyone who reaches "
        "it can read and delete every volume (SECURITY.md)",
        settings.listen);
  }

  QsdBackendOptions options;
  options.state_dir = settings.state_dir;
  options.qsd_binary = settings.qsd_binary;
  options.qemu_img = settings.qemu_img;
  options.nbd_listen_host = nbd.host;
  options.nbd_listen_port = nbd.port;
  options.nbd_advertise_host = settings.nbd_advertise;
  absl::StatusOr<std::optional<storage::QemuTlsFiles>> nbd_tls = NbdTlsFiles(settings);
  if (!nbd_tls.ok()) {
    spdlog::error("NBD TLS: {}", nbd_tls.status().message());
    return 2;
  }
  options.nbd_tls = *std::move(nbd_tls);
  options.nbd_tls_hostname = crypto::VolumeServiceName(settings.availability_zone);
  if (options.nbd_tls) {
    spdlog::info("NBD on {}: TLS, clients need a certificate from {}", settings.nbd_listen,
                 settings.tls_client_ca);
  } else {
    spdlog::warn(
        "NBD on {}: plain, without TLS or authentication: anyone who reaches it can read and "
        "write every exported volume (SECURITY.md, \"The volume service\"){}",
        settings.nbd_listen,
        TransportOf(settings) == VolumedTransport::kMutualTls ? " (--nbd-tls off)"
                                                              : " (no --tls-* files)");
  }
  absl::StatusOr<std::unique_ptr<QsdVolumeBackend>> backend = QsdVolumeBackend::Open(options);
  if (!backend.ok()) {
    spdlog::error("volume backend: {}", backend.status().ToString());
    return 1;
  }
  VolumeGrpcService service(**backend, settings.availability_zone, MINICLOUD_VERSION);

  grpc::ServerBuilder builder;
  int bound_port = 0;
  builder.AddListeningPort(settings.listen, *credentials, &bound_port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || bound_port == 0) {
    spdlog::error("cannot listen on {}", settings.listen);
    return 1;
  }
  const BackendHealth health = (*backend)->Health();
  // One line on stdout that tools (and the integration test) read for the bound address.
  std::printf("minicloud-volumed listening on %s:%d zone %s (%s)\n", listen.host.c_str(),
              bound_port, settings.availability_zone.c_str(),
              TransportOf(settings) == VolumedTransport::kMutualTls ? "mutual TLS" : "plain text");
  std::fflush(stdout);
  spdlog::info("zone {}: {} ({} volumes, {} snapshots, {} exports)", settings.availability_zone,
               health.detail, health.volumes, health.snapshots, health.exports);

  while (!shutdown.WaitFor(std::chrono::seconds(5))) {
    const BackendHealth h = (*backend)->Health();  // restarts a dead qemu-storage-daemon
    if (!h.healthy) spdlog::error("volume backend unhealthy: {}", h.detail);
  }
  spdlog::info("shutting down");
  server->Shutdown();
  backend->reset();
  return 0;
}
