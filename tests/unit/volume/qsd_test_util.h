#pragma once

// Helpers of the qsd backend tests: the fixture the contract runs on (a real
// qemu-storage-daemon in a temp dir, NBD on a kernel-chosen loopback port) and qemu-io over NBD.

#include <sys/wait.h>

#include <cstdio>
#include <memory>
#include <string>

#include "common/process/spawn.h"
#include "tests/testing/skip.h"
#include "tests/testing/temp_dir.h"
#include "tests/unit/volume/volume_backend_contract.h"
#include "volume/backend/qsd/qsd_volume_backend.h"

namespace minicloud::volume::testing {

inline bool HaveProgram(const std::string& name) { return process::ResolveProgram(name).ok(); }

inline void SkipUnlessQemuTools() {
  MC_SKIP_UNLESS(HaveProgram("qemu-storage-daemon"),
                 "qemu-storage-daemon not found (Debian package qemu-system-common)");
  MC_SKIP_UNLESS(HaveProgram("qemu-img") && HaveProgram("qemu-io"),
                 "qemu-img / qemu-io not found (Debian package qemu-utils)");
}

// Runs qemu-io on the NBD export with the given commands ("write -P 0xaa 0 1M"); true when
// every command succeeded (qemu-io exits 1 on a failed command, e.g. a pattern mismatch).
inline bool QemuIo(const NbdEndpoint& e, const std::vector<std::string>& commands,
                   std::string* output = nullptr) {
  std::string cmd = "qemu-io -f raw";
  for (const std::string& c : commands) cmd += " -c '" + c + "'";
  cmd += " '" + e.Uri() + "' 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return false;
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  const int status = pclose(p);
  UNSCOPED_INFO("qemu-io " << e.Uri() << ": " << out);
  if (output != nullptr) *output = out;
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

class QsdFixture {
 public:
  QsdFixture() {
    SkipUnlessQemuTools();
    Open();
  }
  VolumeBackend& backend() { return *backend_; }
  QsdVolumeBackend& qsd() { return *backend_; }
  const std::string& state_dir() const { return dir_.path(); }
  void Restart() {
    backend_.reset();
    Open();
  }
  void Close() { backend_.reset(); }
  void Open() {
    QsdBackendOptions options;
    options.state_dir = dir_.path() + "/state";
    options.nbd_listen_port = 0;
    absl::StatusOr<std::unique_ptr<QsdVolumeBackend>> b = QsdVolumeBackend::Open(options);
    INFO(b.status().ToString());
    REQUIRE(b.ok());
    backend_ = std::move(*b);
  }

 private:
  minicloud::testing::TempDir dir_;
  std::unique_ptr<QsdVolumeBackend> backend_;
};

}  // namespace minicloud::volume::testing
