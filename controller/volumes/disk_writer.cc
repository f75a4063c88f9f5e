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

namespace {

// Runs `qemu-img convert` into the export `to`. A failure is Unavailable (the seam's "nothing
// known to have happened": the write is idempotent, so it is asked again later).
absl::Status Convert(const std::vector<std::string>& argv, const NbdEndpoint& to,
                     absl::string_view what) {
  process::RunOptions options;
  options.merge_stderr = true;
  options.max_output_bytes = 8192;
  MC_ASSIGN_OR_RETURN(const process::RunResult ran, process::RunCapturingOutput(argv, options));
  if (ran.ok()) return absl::OkStatus();
  return absl::UnavailableError(
      absl::StrCat(what, " into ", NbdUri(to), " failed: ", ran.status.message()));
}

}  // namespace

absl::Status QemuImgDiskWriter::WriteQcow2(const std::string& qcow2_path, const NbdEndpoint& to) {
  return Convert({qemu_img_, "convert", "-q", "-n", "--target-is-zero", "-f", "qcow2", "-O", "raw",
                  qcow2_path, NbdUri(to)},
                 to, "writing the image");
}

absl::Status QemuImgDiskWriter::CopyExport(const NbdEndpoint& from, const NbdEndpoint& to) {
  return Convert({qemu_img_, "convert", "-q", "-n", "--target-is-zero", "-f", "raw", "-O", "raw",
                  NbdUri(from), NbdUri(to)},
                 to, absl::StrCat("copying ", NbdUri(from)));
}

}  // namespace minicloud::controller
