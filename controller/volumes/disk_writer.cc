#include "controller/volumes/disk_writer.h"

#include <stdlib.h>

#include <cerrno>
#include <filesystem>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/file/file_util.h"
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
  MC_ASSIGN_OR_RETURN(std::vector<std::string> argv,
                      QemuImgConvertArgs(qemu_img_, tls_dir_, qcow2_path, nullptr, to));
  return Convert(argv, to, "writing the image");
}

namespace {

constexpr char kTlsCreds[] = "nbdtls0";
constexpr char kToKey[] = "to-key";

absl::Status CheckNoComma(const NbdEndpoint& e, const std::string& extra) {
  for (const std::string* field : {&e.host, &e.export_name, &e.tls_hostname, &extra}) {
    if (field->find(',') != std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("NBD endpoint ", NbdUri(e), ": a ',' cannot be passed in QEMU's options"));
    }
  }
  return absl::OkStatus();
}

// How qemu-img names export `e`: its URI when plain, its blockdev options over TLS.
absl::StatusOr<std::string> NbdName(const NbdEndpoint& e) {
  if (!e.tls) return NbdUri(e);
  MC_RETURN_IF_ERROR(CheckNoComma(e, ""));
  return storage::NbdBlockdevOpts({.host = e.host,
                                   .port = e.port,
                                   .export_name = e.export_name,
                                   .tls_creds = kTlsCreds,
                                   .tls_hostname = e.tls_hostname});
}

}  // namespace

absl::StatusOr<std::string> LuksOverNbdOptions(const NbdEndpoint& e, const std::string& secret_id,
                                               const std::string& tls_creds) {
  MC_RETURN_IF_ERROR(CheckNoComma(e, secret_id));
  const std::string nbd = storage::NbdBlockdevOpts({.host = e.host,
                                                    .port = e.port,
                                                    .export_name = e.export_name,
                                                    .tls_creds = e.tls ? tls_creds : "",
                                                    .tls_hostname = e.tls_hostname});
  std::string out = absl::StrCat("driver=luks,key-secret=", secret_id);
  for (absl::string_view part : absl::StrSplit(nbd, ',')) absl::StrAppend(&out, ",file.", part);
  return out;
}

absl::StatusOr<std::vector<std::string>> QemuImgConvertArgs(
    const std::string& qemu_img, const std::string& tls_dir, const std::string& qcow2_path,
    const NbdEndpoint* from, const NbdEndpoint& to, const std::string& to_key_file) {
  std::vector<std::string> argv = {qemu_img, "convert", "-q", "-n"};
  // A new LUKS volume does not read as zeros: written in full.
  if (to_key_file.empty()) argv.push_back("--target-is-zero");
  if (to.tls || (from != nullptr && from->tls)) {
    if (tls_dir.empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat("NBD export ", NbdUri(from != nullptr && from->tls ? *from : to),
                       " needs TLS and the controller has no NBD client certificate"));
    }
    argv.insert(argv.end(),
                {"--object",
                 storage::QemuTlsObjectArg(kTlsCreds, tls_dir, storage::QemuTlsEndpoint::kClient)});
  }
  if (!to_key_file.empty()) {
    argv.insert(argv.end(),
                {"--object", absl::StrCat("secret,id=", kToKey, ",file=", to_key_file)});
  }
  std::string source = qcow2_path;
  if (from == nullptr) {
    argv.insert(argv.end(), {"-f", "qcow2"});
  } else if (from->tls) {
    argv.push_back("--image-opts");
    MC_ASSIGN_OR_RETURN(source, NbdName(*from));
  } else {
    argv.insert(argv.end(), {"-f", "raw"});
    source = NbdUri(*from);
  }
  std::string target;
  if (!to_key_file.empty()) {
    argv.push_back("--target-image-opts");
    MC_ASSIGN_OR_RETURN(target, LuksOverNbdOptions(to, kToKey, kTlsCreds));
  } else if (to.tls) {
    argv.push_back("--target-image-opts");
    MC_ASSIGN_OR_RETURN(target, NbdName(to));
  } else {
    argv.insert(argv.end(), {"-O", "raw"});
    target = NbdUri(to);
  }
  argv.push_back(source);
  argv.push_back(target);
  return argv;
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
    MC_ASSIGN_OR_RETURN(std::vector<std::string> argv,
                        QemuImgConvertArgs(qemu_img_, tls_dir_, "", &from, to));
    return Convert(argv, to, what);
  }
  // The options are checked before a key file exists.
  MC_RETURN_IF_ERROR(LuksOverNbdOptions(to, kToKey).status());
  MC_ASSIGN_OR_RETURN(const KeyDir dir, KeyDir::Make());
  MC_ASSIGN_OR_RETURN(const std::string key_file, dir.Add("to.key", to_key));
  MC_ASSIGN_OR_RETURN(std::vector<std::string> argv,
                      QemuImgConvertArgs(qemu_img_, tls_dir_, "", &from, to, key_file));
  return Convert(argv, to, what);
}

}  // namespace minicloud::controller
