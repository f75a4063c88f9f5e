#pragma once

// Every setting of minicloud-volumed and where it comes from: a command-line flag wins over the
// --config YAML file, which wins over the built-in default (as the agent's settings).

#include <CLI/CLI.hpp>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace minicloud::volume {

struct VolumedSettings {
  // The gRPC VolumeService (mutual TLS with the tls_* files; see VolumedTlsFiles).
  std::string listen = "127.0.0.1:7704";
  std::string state_dir = "/var/lib/minicloud/volumed";
  std::string region = "home-1";
  std::string availability_zone = "home-1a";
  // Where the NBD server listens (hosts of the zone dial it) and the address they are told.
  std::string nbd_listen = "127.0.0.1:10809";
  std::string nbd_advertise;  // empty: the host of nbd_listen
  std::string qsd_binary = "qemu-storage-daemon";
  std::string qemu_img = "qemu-img";
  // Mutual TLS on `listen` (SECURITY.md, "The volume service"): the files
  // `minicloud-controller issue-volume-service-cert` writes (server.crt, server.key, ca.crt).
  std::string tls_cert;
  std::string tls_key;
  std::string tls_client_ca;
  // NBD over TLS (SECURITY.md, "The volume service"): "on" with the tls_* files (the NBD server
  // then takes only clients with a certificate from tls_client_ca), "off" for plain NBD even
  // then (logged). NbdTlsOf decides.
  std::string nbd_tls = "on";
  // Serve plain text on a non-loopback `listen` anyway (flag only; logged as a warning).
  bool insecure_plaintext = false;
  std::string config_file;  // --config
};

// How the VolumeService is served, decided in one place (ResolveVolumedSettings).
enum class VolumedTransport {
  kMutualTls,  // all three tls_* files given
  kPlaintext,  // none given, and `listen` on loopback or --insecure-plaintext
};

struct HostPort {
  std::string host;
  int port = 0;
};

// "127.0.0.1:10809", "[::1]:10809", "nas.lan:0" → host and port (0..65535). InvalidArgument
// naming `what` otherwise.
absl::StatusOr<HostPort> ParseHostPort(const std::string& text, const std::string& what);

// True for 127.0.0.0/8 (as an address), ::1 and "localhost".
bool IsLoopbackHost(const std::string& host);

void AddVolumedFlags(CLI::App& app, VolumedSettings& settings);

// Loads the YAML file (flat keys: listen, state_dir, region, availability_zone, nbd_listen,
// nbd_advertise, nbd_tls, qsd_binary, qemu_img, tls_cert, tls_key, tls_client_ca) and takes each
// value whose flag was not given. Unknown keys and non-string values are InvalidArgument with the
// file and line.
absl::Status ApplyVolumedConfigFile(const CLI::App& app, VolumedSettings& settings);

// Checks the addresses and makes state_dir absolute. InvalidArgument when nbd_tls is not "on" or
// "off"; FailedPrecondition when only some of the
// tls_* files are given, or none while `listen` is not on loopback and insecure_plaintext is off
// (plain text is never the silent default where others can reach it).
absl::Status ResolveVolumedSettings(VolumedSettings& settings);

// The transport of resolved settings.
VolumedTransport TransportOf(const VolumedSettings& settings);

// True when the NBD exports of resolved settings are served over TLS with client certificates:
// mutual TLS on the VolumeService and nbd_tls "on".
bool NbdTlsOf(const VolumedSettings& settings);

}  // namespace minicloud::volume
