#pragma once

// Every setting of minicloud-volumed and where it comes from: a command-line flag wins over the
// --config YAML file, which wins over the built-in default (as the agent's settings).

#include <CLI/CLI.hpp>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace minicloud::volume {

struct VolumedSettings {
  // The gRPC VolumeService. Loopback by default: it has no authentication yet (SECURITY.md).
  std::string listen = "127.0.0.1:7704";
  std::string state_dir = "/var/lib/minicloud/volumed";
  std::string region = "home-1";
  std::string availability_zone = "home-1a";
  // Where the NBD server listens (hosts of the zone dial it) and the address they are told.
  std::string nbd_listen = "127.0.0.1:10809";
  std::string nbd_advertise;  // empty: the host of nbd_listen
  std::string qsd_binary = "qemu-storage-daemon";
  std::string qemu_img = "qemu-img";
  std::string config_file;  // --config
};

struct HostPort {
  std::string host;
  int port = 0;
};

// "127.0.0.1:10809", "[::1]:10809", "nas.lan:0" → host and port (0..65535). InvalidArgument
// naming `what` otherwise.
absl::StatusOr<HostPort> ParseHostPort(const std::string& text, const std::string& what);

// True for 127.0.0.0/8, ::1 and "localhost".
bool IsLoopbackHost(const std::string& host);

void AddVolumedFlags(CLI::App& app, VolumedSettings& settings);

// Loads the YAML file (flat keys: listen, state_dir, region, availability_zone, nbd_listen,
// nbd_advertise, qsd_binary, qemu_img) and takes each value whose flag was not given. Unknown
// keys and non-string values are InvalidArgument with the file and line.
absl::Status ApplyVolumedConfigFile(const CLI::App& app, VolumedSettings& settings);

// Checks the addresses and makes state_dir absolute.
absl::Status ResolveVolumedSettings(VolumedSettings& settings);

}  // namespace minicloud::volume
