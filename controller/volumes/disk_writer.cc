#include "controller/volumes/disk_writer.h"

#include <stdlib.h>

#include <cerrno>
#include <filesystem>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/file/file_util.h"
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

absl::StatusOr<std::string> LuksOverNbdOptions(const NbdEndpoint& e, const std::string& secret_id) {
  for (const std::string* field : {&e.host, &e.export_name, &secret_id}) {
    if (field->find(',') != std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("NBD endpoint ", NbdUri(e), ": a ',' cannot be passed in QEMU's options"));
    }
  }
  return absl::StrCat("driver=luks,key-secret=", secret_id,
                      ",file.driver=nbd,file.server.type=inet,file.server.host=", e.host,
                      ",file.server.port=", e.port, ",file.export=", e.export_name);
}

namespace {

// A 0700 directory of key files for one qemu-img run, removed with everything in it.
class KeyDir {
 public:
  static absl::StatusOr<KeyDir> Make() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "minicloud-copy-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) return file::ErrnoError(errno, "mkdtemp", tmpl);
    return KeyDir(std::move(tmpl));
  }
  KeyDir(KeyDir&& o) noexcept : path_(std::exchange(o.path_, "")) {}
  KeyDir(const KeyDir&) = delete;
  ~KeyDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  // Writes `key` to <dir>/<name> (0600); its path.
  absl::StatusOr<std::string> Add(const std::string& name, const std::string& key) const {
    const std::string path = absl::StrCat(path_, "/", name);
    MC_RETURN_IF_ERROR(file::WriteFileAtomic(path, key, 0600));
    return path;
  }

 private:
  explicit KeyDir(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

}  // namespace

absl::Status QemuImgDiskWriter::CopyExport(const NbdEndpoint& from, const NbdEndpoint& to,
                                           const std::string& to_key) {
  const std::string what = absl::StrCat("copying ", NbdUri(from));
  if (to_key.empty()) {
    return Convert({qemu_img_, "convert", "-q", "-n", "--target-is-zero", "-f", "raw", "-O", "raw",
                    NbdUri(from), NbdUri(to)},
                   to, what);
  }
  MC_ASSIGN_OR_RETURN(const std::string target, LuksOverNbdOptions(to, "to-key"));
  MC_ASSIGN_OR_RETURN(const KeyDir dir, KeyDir::Make());
  MC_ASSIGN_OR_RETURN(const std::string key_file, dir.Add("to.key", to_key));
  // Written in full: no --target-is-zero.
  return Convert({qemu_img_, "convert", "-q", "-n", "--object",
                  absl::StrCat("secret,id=to-key,file=", key_file), "-f", "raw",
                  "--target-image-opts", NbdUri(from), target},
                 to, what);
}

}  // namespace minicloud::controller
