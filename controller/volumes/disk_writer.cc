#include "controller/volumes/disk_writer.h"

#include "absl/strings/str_cat.h"
#include "common/process/run.h"
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
  process::RunOptions options;
  options.merge_stderr = true;
  options.max_output_bytes = 8192;
  MC_ASSIGN_OR_RETURN(const process::RunResult ran, process::RunCapturingOutput(argv, options));
  if (ran.ok()) return absl::OkStatus();
  // The export could not be reached or written: ask again later (Unavailable, the seam's
  // "nothing known to have happened" — the write is idempotent).
  return absl::UnavailableError(
      absl::StrCat("writing the image into ", NbdUri(to), " failed: ", ran.status.message()));
}

}  // namespace minicloud::controller
