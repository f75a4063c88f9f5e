#pragma once

// The one qemu-storage-daemon a QsdVolumeBackend drives: starting it (QMP on a unix socket in
// the state directory, its pid file there too, the NBD listener as its fd 3), stopping it,
// noticing it died, and running qemu-img.

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "volume/backend/qsd/qmp_client.h"

namespace minicloud::volume {

struct QsdLaunch {
  std::string binary = "qemu-storage-daemon";
  std::string qmp_socket;         // <state>/qsd.qmp
  std::string pid_file;           // <state>/qsd.pid
  std::string log_file;           // <state>/qsd.log (its stderr, appended)
  std::vector<std::string> args;  // after the monitor's: --object, --nbd-server
  int fd3 = -1;                   // the daemon's file descriptor 3 (the NBD listener); -1: none
};

// Ends a qemu-storage-daemon an earlier run left behind (the pid file names a live process whose
// executable is one): SIGTERM, then SIGKILL, and waits until it is gone (so the ports and files
// it held are free).
void EndStaleDaemon(const std::string& pid_file);

class QsdProcess {
 public:
  // Ends a daemon a previous run of this process left behind (its pid file names a live
  // qemu-storage-daemon), then starts a new one and connects to its QMP socket. The daemon
  // leads its own process group; it is stopped by Stop() or the destructor.
  static absl::StatusOr<QsdProcess> Start(const QsdLaunch& launch,
                                          std::chrono::milliseconds qmp_timeout);

  QsdProcess(QsdProcess&& other) noexcept;
  QsdProcess& operator=(QsdProcess&& other) noexcept;
  QsdProcess(const QsdProcess&) = delete;
  QsdProcess& operator=(const QsdProcess&) = delete;
  ~QsdProcess() { Stop(); }

  QmpClient& qmp() { return *qmp_; }
  pid_t pid() const { return pid_; }

  // True while the daemon runs (reaps it if it has exited).
  bool Alive();
  // Asks the daemon to quit, then SIGKILLs it after a grace period; idempotent.
  void Stop();

 private:
  QsdProcess(pid_t pid, QmpClient qmp) : pid_(pid), qmp_(std::move(qmp)) {}
  pid_t pid_ = -1;
  std::optional<QmpClient> qmp_;
};

// Runs `argv` to completion; OK on exit status 0, otherwise Internal with the program's name,
// its exit status and the end of its stderr.
absl::Status RunTool(const std::vector<std::string>& argv);

}  // namespace minicloud::volume
