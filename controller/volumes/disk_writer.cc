#include "controller/volumes/disk_writer.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/file/file_util.h"
#include "common/process/spawn.h"
#include "common/status_macros.h"

namespace minicloud::controller {

std::string NbdUri(const NbdEndpoint& e) {
  const bool v6 = e.host.find(':') != std::string::npos;
  return absl::StrCat("nbd://", v6 ? "[" : "", e.host, v6 ? "]" : "", ":", e.port, "/",
                      e.export_name);
}

absl::Status QemuImgDiskWriter::WriteQcow2(const std::string& qcow2_path, const NbdEndpoint& to) {
  const std::vector<std::string> argv = {qemu_img_, "convert", "-q", "-n",  "--target-is-zero",
                                         "-f",      "qcow2",   "-O", "raw", qcow2_path,
                                         NbdUri(to)};
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return file::ErrnoError(errno, "pipe", "qemu-img");
  file::UniqueFd read_end(fds[0]), write_end(fds[1]);
  process::SpawnOptions options;
  options.stdout_fd = write_end.get();
  options.stderr_fd = write_end.get();
  MC_ASSIGN_OR_RETURN(const pid_t pid, process::Spawn(argv, options));
  write_end.Reset();
  std::string output;
  char buf[4096];
  while (true) {
    const ssize_t n = read(read_end.get(), buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    output.append(buf, static_cast<size_t>(n));
    if (output.size() > 8192) output.erase(0, output.size() - 8192);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return absl::OkStatus();
  // The export could not be reached or written: ask again later (Unavailable, the seam's
  // "nothing known to have happened" — the write is idempotent).
  return absl::UnavailableError(absl::StrCat("writing the image into ", NbdUri(to),
                                             " failed: ", absl::StripAsciiWhitespace(output)));
}

}  // namespace minicloud::controller
