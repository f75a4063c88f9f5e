#pragma once

// A LUKS image served over NBD on loopback, for the hypervisor tests that plug encrypted EBS
// disks into real QEMU (labelled e2e). qemu-nbd stands where the volume service's export is in
// production (volume_qsd_crypt_test proves the service exports the same bytes).

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "agent/hypervisor/hypervisor.h"
#include "tests/unit/hypervisor/real_guest_util.h"

namespace minicloud::hypervisor::real_guest {

// A TCP port on 127.0.0.1 that was free a moment ago.
inline int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0);
  socklen_t len = sizeof(a);
  REQUIRE(getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
  close(fd);
  return ntohs(a.sin_port);
}

// A LUKS image (16 MiB, or the raw `payload` encrypted) under `dir`, opened with `key`, served
// read-write by qemu-nbd on a free loopback port; stopped when this goes away.
struct LuksExport {
  LuksExport(const std::filesystem::path& dir, const std::string& name, const std::string& key,
             const std::filesystem::path& payload = {})
      : port(FreePort()), export_name(name), key(key), image(dir / (name + ".luks")) {
    pid_file = dir / (name + ".pid");
    // The payload only ever exists encrypted on the export.
    const std::string make =
        payload.empty()
            ? absl::StrCat("qemu-img create -q -f luks --object secret,id=s0,data=", key,
                           " -o key-secret=s0,iter-time=10 ", image.string(), " 16M")
            : absl::StrCat("qemu-img convert -q --object secret,id=s0,data=", key,
                           " -f raw -O luks -o key-secret=s0,iter-time=10 ", payload.string(), " ",
                           image.string());
    // Up to ten tries: QEMU 7.2 gives up sizing the key slots now and then ("Unable to get
    // accurate CPU usage", volume/backend/qsd/qsd_crypt.cc).
    int rc = -1;
    for (int attempt = 1; attempt <= 10 && rc != 0; ++attempt) {
      if (attempt > 1) std::this_thread::sleep_for(std::chrono::milliseconds(20 * attempt));
      rc = Run(make);
    }
    REQUIRE(rc == 0);
    serve = absl::StrCat("qemu-nbd --fork --persistent -e 4 -f raw -b 127.0.0.1 -p ", port, " -x ",
                         name, " --pid-file=", pid_file.string(), " ", image.string());
    REQUIRE(Run(serve) == 0);
  }
  ~LuksExport() { Stop(); }
  // Ends the server (its clients see the connection drop) and waits until it is gone.
  void Stop() {
    const std::string pid = ReadFile(pid_file);
    if (pid.empty()) return;
    const pid_t p = static_cast<pid_t>(std::stol(pid));
    kill(p, SIGTERM);
    for (int i = 0; i < 500 && kill(p, 0) == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    std::filesystem::remove(pid_file);
  }
  // Stop, then serve the same image on the same port again (a restarted volume service).
  void Restart() {
    Stop();
    REQUIRE(Run(serve) == 0);
  }
  // Stop, grow the payload to `bytes` (the LUKS header stays), serve again: the volume
  // service's grow, which re-creates the export.
  void Grow(int64_t bytes) {
    Stop();
    REQUIRE(Run(absl::StrCat("qemu-img resize -q --object secret,id=s0,data=", key,
                             " --image-opts driver=luks,key-secret=s0,file.filename=",
                             image.string(), " ", bytes)) == 0);
    REQUIRE(Run(serve) == 0);
  }
  // The disk at virtio `target` ("vda" is the boot disk), opened with `key`.
  EbsDisk Disk(const std::string& key, const std::string& target) const {
    return EbsDisk{.volume_id = export_name,
                   .nbd_host = "127.0.0.1",
                   .nbd_port = port,
                   .export_name = export_name,
                   .target_dev = target,
                   .iotune = {},
                   .boot = target == "vda",
                   .luks_key = key};
  }
  int port;
  std::string export_name;
  std::string key;
  std::filesystem::path image;
  std::filesystem::path pid_file;
  std::string serve;  // the qemu-nbd command line
};

}  // namespace minicloud::hypervisor::real_guest
