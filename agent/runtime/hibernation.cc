#include "agent/runtime/hibernation.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/logging.h"
#include "common/process/run.h"
#include "common/status_macros.h"
#include "common/storage/nbd_tls.h"

namespace minicloud::agent {
namespace fs = std::filesystem;

namespace {

constexpr char kSecretId[] = "hibernation-key";
constexpr char kTlsId[] = "hibernation-tls";

absl::Status EnsureScratch(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("create ", dir, ": ", ec.message()));
  if (chmod(dir.c_str(), 0700) != 0) {
    return absl::InternalError(absl::StrCat("chmod ", dir));
  }
  return absl::OkStatus();
}

// One qemu-img `verb` run. An encrypted volume's key goes to qemu-img in a 0600 file of the
// 0700 tmpfs scratch directory, removed when it exits (its stdin cannot be opened by path when
// it is a socket), never on its command line.
absl::StatusOr<process::RunResult> RunQemuImg(const HibernationIo& io,
                                              const v1::DesiredEbsDisk& disk,
                                              const std::string& verb,
                                              std::vector<std::string> args,
                                              absl::Duration timeout) {
  std::vector<std::string> argv = {io.qemu_img, verb};
  MC_ASSIGN_OR_RETURN(std::vector<std::string> tls, HibernationTlsObjects(disk, io.nbd_tls_dir));
  argv.insert(argv.end(), tls.begin(), tls.end());
  const std::string key_file = io.scratch_dir + "/" + disk.volume_id() + ".key";
  if (!disk.luks_key().empty()) {
    const int fd = open(key_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return absl::InternalError(absl::StrCat("create ", key_file));
    const std::string& key = disk.luks_key();
    const bool written = write(fd, key.data(), key.size()) == static_cast<ssize_t>(key.size());
    close(fd);
    if (!written) {
      unlink(key_file.c_str());
      return absl::InternalError(absl::StrCat("write ", key_file));
    }
    argv.push_back("--object");
    argv.push_back(absl::StrCat("secret,id=", kSecretId, ",file=", key_file));
  }
  argv.insert(argv.end(), args.begin(), args.end());
  process::RunOptions options;
  options.merge_stderr = true;
  options.max_output_bytes = 8192;
  options.timeout = timeout;
  absl::StatusOr<process::RunResult> ran = process::RunCapturingOutput(argv, options);
  if (!disk.luks_key().empty()) unlink(key_file.c_str());
  return ran;
}

absl::Status QemuImg(const HibernationIo& io, const v1::DesiredEbsDisk& disk,
                     std::vector<std::string> args, const std::string& what) {
  args.insert(args.begin(), "-q");
  MC_ASSIGN_OR_RETURN(const process::RunResult ran,
                      RunQemuImg(io, disk, "convert", std::move(args), absl::Minutes(30)));
  if (ran.ok()) return absl::OkStatus();
  return absl::UnavailableError(absl::StrCat(what, ": ", ran.status.message()));
}

}  // namespace

absl::StatusOr<std::vector<std::string>> HibernationTlsObjects(const v1::DesiredEbsDisk& disk,
                                                               const std::string& nbd_tls_dir) {
  if (!disk.nbd_tls()) return std::vector<std::string>{};
  if (nbd_tls_dir.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat(disk.volume_id(), ": NBD over TLS and no client credentials on this host"));
  }
  return std::vector<std::string>{
      "--object",
      storage::QemuTlsObjectArg(kTlsId, nbd_tls_dir, storage::QemuTlsEndpoint::kClient)};
}

std::string HibernationImageOpts(const v1::DesiredEbsDisk& disk, int64_t size_bytes) {
  const std::string nbd = storage::NbdBlockdevOpts({.host = disk.nbd_host(),
                                                    .port = disk.nbd_port(),
                                                    .export_name = disk.export_name(),
                                                    .tls_creds = disk.nbd_tls() ? kTlsId : "",
                                                    .tls_hostname = disk.nbd_tls_hostname()});
  std::string layer = nbd;
  if (!disk.luks_key().empty()) {
    // LUKS over NBD: every option of the lower layer moves under "file.".
    std::string nested;
    for (absl::string_view part : absl::StrSplit(nbd, ',')) {
      absl::StrAppend(&nested, ",file.", part);
    }
    layer = absl::StrCat("driver=luks,key-secret=", kSecretId, nested);
  }
  std::string nested;
  for (absl::string_view part : absl::StrSplit(layer, ',')) {
    absl::StrAppend(&nested, ",file.", part);
  }
  return absl::StrCat("driver=raw", size_bytes > 0 ? absl::StrCat(",size=", size_bytes) : "",
                      nested);
}

absl::StatusOr<int64_t> SaveToVolume(hypervisor::Hypervisor& hv, const std::string& instance_id,
                                     const v1::DesiredEbsDisk& disk, const HibernationIo& io) {
  const std::string what = absl::StrCat("hibernate ", instance_id, " onto ", disk.volume_id());
  MC_RETURN_IF_ERROR(EnsureScratch(io.scratch_dir));
  const std::string path = io.scratch_dir + "/" + instance_id + ".save";
  // The volume first: a volume that cannot be opened leaves the guest running (the caller
  // stops it the plain way).
  {
    MC_ASSIGN_OR_RETURN(
        const process::RunResult ran,
        RunQemuImg(io, disk, "info", {"--image-opts", HibernationImageOpts(disk, 0)},
                   absl::Seconds(15)));
    if (!ran.ok()) {
      return absl::UnavailableError(
          absl::StrCat(what, ": the volume cannot be opened: ", ran.status.message()));
    }
  }
  MC_RETURN_IF_ERROR(hv.SaveDomain(instance_id, path));
  std::error_code ec;
  const int64_t bytes = static_cast<int64_t>(fs::file_size(path, ec));
  absl::Status copied =
      ec ? absl::InternalError(absl::StrCat("size of ", path, ": ", ec.message()))
         : QemuImg(io, disk,
                   {"-n", "-f", "raw", path, "--target-image-opts", HibernationImageOpts(disk, 0)},
                   what);
  if (copied.ok() && bytes > disk.size_gib() * (int64_t{1} << 30)) {
    copied = absl::ResourceExhaustedError(
        absl::StrCat(what, ": the image (", bytes, " bytes) is larger than the volume"));
  }
  if (!copied.ok()) {
    // The domain is off with its disks intact (as after a power-off): the next start boots
    // cold. The volume was checked before the save, so this is a failure mid-copy.
    spdlog::error("{}", copied.message());
    fs::remove(path, ec);
    return copied;
  }
  fs::remove(path, ec);
  spdlog::info("{}: {} bytes", what, bytes);
  return bytes;
}

absl::Status RestoreFromVolume(hypervisor::Hypervisor& hv, const hypervisor::DomainSpec& spec,
                               const v1::DesiredEbsDisk& disk, int64_t bytes,
                               const HibernationIo& io) {
  const std::string what = absl::StrCat("resume ", spec.instance_id, " from ", disk.volume_id());
  if (bytes <= 0) return absl::FailedPreconditionError(absl::StrCat(what, ": no saved image"));
  MC_RETURN_IF_ERROR(EnsureScratch(io.scratch_dir));
  const std::string path = io.scratch_dir + "/" + spec.instance_id + ".restore";
  // QEMU's raw driver cuts at whole sectors: read up to the next one, then cut the file to the
  // image's own length.
  const int64_t sectors = (bytes + 511) / 512 * 512;
  absl::Status s = QemuImg(
      io, disk, {"--image-opts", HibernationImageOpts(disk, sectors), "-O", "raw", path}, what);
  std::error_code ec;
  if (s.ok()) {
    fs::resize_file(path, static_cast<uintmax_t>(bytes), ec);
    if (ec) s = absl::InternalError(absl::StrCat(what, ": cut ", path, ": ", ec.message()));
  }
  if (s.ok()) s = hv.RestoreDomain(spec, path);
  fs::remove(path, ec);
  return s;
}

namespace {
constexpr char kHibernatedNote[] = "/hibernated";
}  // namespace

absl::Status WriteHibernatedNote(const std::string& instance_dir, int boot, int64_t bytes) {
  const std::string path = instance_dir + kHibernatedNote;
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << boot << " " << bytes << "\n";
    out.close();
    if (!out) return absl::InternalError(absl::StrCat("write ", tmp));
  }
  std::error_code ec;
  std::filesystem::permissions(
      tmp, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write, ec);
  std::filesystem::rename(tmp, path, ec);
  if (ec) return absl::InternalError(absl::StrCat("rename ", tmp, ": ", ec.message()));
  return absl::OkStatus();
}

int64_t ReadHibernatedNote(const std::string& instance_dir, int boot) {
  std::ifstream in(instance_dir + kHibernatedNote);
  int noted_boot = -1;
  int64_t bytes = 0;
  std::string rest;
  if (!(in >> noted_boot >> bytes) || (in >> rest) || noted_boot != boot || bytes <= 0) return 0;
  return bytes;
}

void RemoveHibernatedNote(const std::string& instance_dir) {
  std::error_code ec;
  std::filesystem::remove(instance_dir + kHibernatedNote, ec);
}

}  // namespace minicloud::agent
