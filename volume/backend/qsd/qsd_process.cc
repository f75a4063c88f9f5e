#include "volume/backend/qsd/qsd_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/file/file_util.h"
#include "common/logging.h"
#include "common/process/run.h"
#include "common/process/spawn.h"
#include "common/status_macros.h"

namespace minicloud::volume {
namespace {

// Waits up to `grace` for `pid` (our child) to exit; true if it did (and was reaped).
bool WaitExit(pid_t pid, std::chrono::milliseconds grace) {
  const auto deadline = std::chrono::steady_clock::now() + grace;
  while (true) {
    int status = 0;
    const pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid || (r < 0 && errno == ECHILD)) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

// The last line of the daemon's log (why it would not start), with the log's path.
std::string LogTail(const std::string& log_file) {
  std::ifstream in(log_file);
  std::string line, last;
  while (std::getline(in, line)) {
    if (!absl::StripAsciiWhitespace(line).empty()) last = line;
  }
  if (last.size() > 400) last = last.substr(last.size() - 400);
  return absl::StrCat(last.empty() ? "no message" : last, " (", log_file, ")");
}

}  // namespace

// It is not our child, so we poll with kill(pid, 0).
void EndStaleDaemon(const std::string& pid_file) {
  std::ifstream in(pid_file);
  std::string text;
  if (!std::getline(in, text)) return;
  int pid = 0;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(text), &pid) || pid <= 1) return;
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink(absl::StrCat("/proc/", pid, "/exe"), ec);
  if (ec || exe.filename().string().find("qemu-storage-daemon") == std::string::npos) return;
  spdlog::warn("ending qemu-storage-daemon {} left by an earlier run", pid);
  kill(pid, SIGTERM);
  for (int i = 0; i < 250 && kill(pid, 0) == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (kill(pid, 0) == 0) kill(pid, SIGKILL);
  for (int i = 0; i < 250 && kill(pid, 0) == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

absl::StatusOr<QsdProcess> QsdProcess::Start(const QsdLaunch& launch,
                                             std::chrono::milliseconds qmp_timeout) {
  EndStaleDaemon(launch.pid_file);
  std::error_code ec;
  std::filesystem::remove(launch.qmp_socket, ec);
  file::UniqueFd log(
      open(launch.log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
  if (!log.valid()) return file::ErrnoError(errno, "open", launch.log_file);
  process::SpawnOptions options;
  options.stdout_fd = log.get();
  options.stderr_fd = log.get();
  options.fd3 = launch.fd3;
  std::vector<std::string> argv = {
      launch.binary,
      "--chardev",
      absl::StrCat("socket,id=qmp0,server=on,wait=off,path=", launch.qmp_socket),
      "--monitor",
      "chardev=qmp0",
      "--pidfile",
      launch.pid_file};
  argv.insert(argv.end(), launch.args.begin(), launch.args.end());
  MC_ASSIGN_OR_RETURN(const pid_t pid, process::Spawn(argv, options));
  // The socket appears once the daemon has parsed its arguments.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  absl::Status last = absl::UnavailableError("not tried");
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      return absl::InternalError(absl::StrCat(launch.binary, " exited at start (status ", status,
                                              "): ", LogTail(launch.log_file)));
    }
    absl::StatusOr<QmpClient> qmp = QmpClient::Connect(launch.qmp_socket, qmp_timeout);
    if (qmp.ok()) return QsdProcess(pid, std::move(*qmp));
    last = qmp.status();
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  kill(-pid, SIGKILL);
  WaitExit(pid, std::chrono::seconds(5));
  return absl::UnavailableError(
      absl::StrCat(launch.binary, ": no QMP socket in time: ", last.message()));
}

QsdProcess::QsdProcess(QsdProcess&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)), qmp_(std::move(other.qmp_)) {
  other.qmp_.reset();
}

QsdProcess& QsdProcess::operator=(QsdProcess&& other) noexcept {
  if (this != &other) {
    Stop();
    pid_ = std::exchange(other.pid_, -1);
    qmp_ = std::move(other.qmp_);
    other.qmp_.reset();
  }
  return *this;
}

bool QsdProcess::Alive() {
  if (pid_ < 0) return false;
  int status = 0;
  const pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == pid_ || (r < 0 && errno == ECHILD)) {
    pid_ = -1;
    return false;
  }
  return true;
}

void QsdProcess::Stop() {
  if (pid_ < 0) return;
  if (qmp_ && !qmp_->broken()) {
    (void)qmp_->Execute("quit");
  } else {
    kill(-pid_, SIGKILL);  // its monitor is gone or hung: nothing to ask it
  }
  qmp_.reset();
  if (!WaitExit(pid_, std::chrono::seconds(10))) {
    kill(-pid_, SIGKILL);
    WaitExit(pid_, std::chrono::seconds(10));
  }
  pid_ = -1;
}

absl::Status RunTool(const std::vector<std::string>& argv) {
  process::RunOptions options;
  options.merge_stderr = true;  // qemu-img says why on either stream
  MC_ASSIGN_OR_RETURN(const process::RunResult ran, process::RunCapturingOutput(argv, options));
  return ran.status;
}

}  // namespace minicloud::volume
