#include "controller/volumes/disk_writer.h"

#include "absl/strings/str_cat.h"
#include "common/process/run.h"
#include "common/status_macros.h"
#include "common/storage/nbd_tls.h"

namespace minicloud::controller {

std::string NbdUri(const NbdEndpoint& e) {
  const bool v6 = e.host.find(':') != std::string::npos;
  return absl::StrCat("nbd://", v6 ? "[" : "", e.host, v6 ? "]" : "", ":", e.port, "/",
                      e.export_name);
}

namespace {

constexpr char kTlsCreds[] = "nbdtls0";

std::string BlockdevOpts(const NbdEndpoint& e) {
  return storage::NbdBlockdevOpts({.host = e.host,
                                   .port = e.port,
                                   .export_name = e.export_name,
                                   .tls_creds = e.tls ? kTlsCreds : "",
                                   .tls_hostname = e.tls_hostname});
}

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

absl::StatusOr<std::vector<std::string>> QemuImgConvertArgs(const std::string& qemu_img,
                                                            const std::string& tls_dir,
                                                            const std::string& qcow2_path,
                                                            const NbdEndpoint* from,
                                                            const NbdEndpoint& to) {
  std::vector<std::string> argv = {qemu_img, "convert", "-q", "-n", "--target-is-zero"};
  if (to.tls || (from != nullptr && from->tls)) {
    if (tls_dir.empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat("NBD export ", NbdUri(from != nullptr && from->tls ? *from : to),
                       " needs TLS and the controller has no NBD client certificate"));
    }
    argv.push_back("--object");
    argv.push_back(
        storage::QemuTlsObjectArg(kTlsCreds, tls_dir, storage::QemuTlsEndpoint::kClient));
  }
  if (from != nullptr) {
    argv.insert(argv.end(), {"--image-opts", "--target-image-opts", BlockdevOpts(*from)});
  } else {
    argv.insert(argv.end(), {"--target-image-opts", "-f", "qcow2", qcow2_path});
  }
  argv.push_back(BlockdevOpts(to));
  return argv;
}

absl::Status QemuImgDiskWriter::WriteQcow2(const std::string& qcow2_path, const NbdEndpoint& to) {
  MC_ASSIGN_OR_RETURN(std::vector<std::string> argv,
                      QemuImgConvertArgs(qemu_img_, tls_dir_, qcow2_path, nullptr, to));
  return Convert(argv, to, "writing the image");
}

absl::Status QemuImgDiskWriter::CopyExport(const NbdEndpoint& from, const NbdEndpoint& to) {
  MC_ASSIGN_OR_RETURN(std::vector<std::string> argv,
                      QemuImgConvertArgs(qemu_img_, tls_dir_, "", &from, to));
  return Convert(argv, to, absl::StrCat("copying ", NbdUri(from)));
}

}  // namespace minicloud::controller
