#pragma once

// One running minicloud-volumed binary (build/bin) on a state directory, for integration tests:
// started with its gRPC listener on `listen` (port 0: the kernel picks; the port it printed is
// port()), SIGTERMed and reaped by Stop() or the destructor. Pause()/Resume() (SIGSTOP/SIGCONT)
// make it hang without closing its socket.

#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <memory>
#include <string>

#include "common/file/file_util.h"
#include "common/process/spawn.h"
#include "minicloud/v1/volume_service.grpc.pb.h"

namespace minicloud::testing {

class VolumedProcess {
 public:
  VolumedProcess(const std::string& state_dir, const std::string& nbd_listen,
                 const std::string& listen = "127.0.0.1:0", const std::string& zone = "test-1b") {
    int fds[2];
    REQUIRE(pipe2(fds, O_CLOEXEC) == 0);
    file::UniqueFd read_end(fds[0]), write_end(fds[1]);
    process::SpawnOptions options;
    options.stdout_fd = write_end.get();
    options.stderr_fd = 2;
    absl::StatusOr<pid_t> pid = process::Spawn(
        {std::string(MINICLOUD_BINARY_DIR) + "/bin/minicloud-volumed", "--state-dir", state_dir,
         "--listen", listen, "--nbd-listen", nbd_listen, "--availability-zone", zone},
        options);
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
    stub_ = volume::v1::VolumeService::NewStub(
        grpc::CreateChannel(endpoint(), grpc::InsecureChannelCredentials()));
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

 private:
  pid_t pid_ = -1;
  int port_ = 0;
  int exit_status_ = -1;
  std::unique_ptr<volume::v1::VolumeService::Stub> stub_;
};

}  // namespace minicloud::testing
