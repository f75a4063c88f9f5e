#include "agent/hypervisor/libvirt/embed_root.h"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/file/file_util.h"
#include "common/string_view_compat.h"

namespace minicloud::hypervisor {
namespace {

// The compiled-in default QEMU user/group of Debian's libvirt (meson -Dqemu_user/-Dqemu_group).
constexpr char kLibvirtQemuUser[] = "libvirt-qemu";
constexpr char kLibvirtQemuGroup[] = "libvirt-qemu";
constexpr size_t kMaxRootLength = 50;

bool UserExists(const char* name) {
  passwd pw;
  passwd* result = nullptr;
  char buf[4096];
  return getpwnam_r(name, &pw, buf, sizeof(buf), &result) == 0 && result != nullptr;
}

bool GroupExists(const char* name) {
  group gr;
  group* result = nullptr;
  char buf[4096];
  return getgrnam_r(name, &gr, buf, sizeof(buf), &result) == 0 && result != nullptr;
}

}  // namespace

std::string EmbedQemuConf(const QemuAccount& account) {
  std::string conf =
      "# Written by minicloud (agent/hypervisor/libvirt/embed_root.cc); rewritten on start.\n";
  if (account.privileged()) {
    absl::StrAppend(&conf, "# QEMU runs as root (qemu_user: root): unconfined.\n");
  } else {
    absl::StrAppend(&conf,
                    "# QEMU runs unprivileged; the agent gives this group exactly the files a "
                    "guest\n# needs (agent/hypervisor/qemu_account.h).\n");
  }
  absl::StrAppend(&conf, "user = \"", account.user, "\"\n", "group = \"", account.group, "\"\n");
  absl::StrAppend(
      &conf,
      "# libvirt opens serial/console files itself and passes QEMU the fd; no virtlogd.\n"
      "stdio_handler = \"file\"\n"
      "# No AppArmor/SELinux labelling. No ownership changes either: with dynamic ownership\n"
      "# libvirt would give QEMU's account the shared AMI files (backing files of many disks)\n"
      "# for good; the agent sets group and mode instead.\n"
      "security_driver = \"none\"\n"
      "dynamic_ownership = 0\n"
      "remember_owner = 0\n"
      "# No per-domain cgroups: a guest's vCPU threads share the CPU like any other process of\n"
      "# the host. With cgroup v1, libvirt's machine/ group weighs as much as ONE task against\n"
      "# everything in the root group, so a loaded host starved guests (docs/PERFORMANCE.md).\n"
      "cgroup_controllers = [ ]\n");
  return conf;
}

std::string EmbedUri(std::string_view root_dir) {
  return absl::StrCat("qemu:///embed?root=", AbslView(root_dir));
}

absl::Status PrepareEmbedRoot(std::string_view root_dir, const QemuAccount& account) {
  const std::string context = absl::StrCat("prepare libvirt embed root ", AbslView(root_dir));
  if (root_dir.empty() || root_dir[0] != '/') {
    return absl::InvalidArgumentError(absl::StrCat(context, ": the root must be absolute"));
  }
  // QEMU monitor sockets live at DIR/lib/qemu/domain-<N>-<name up to 20 chars>/monitor.sock;
  // a UNIX socket path has at most 107 bytes.
  if (root_dir.size() > kMaxRootLength) {
    return absl::InvalidArgumentError(absl::StrCat(
        context, ": longer than ", kMaxRootLength,
        " characters; QEMU monitor socket paths under it would exceed the UNIX socket limit"));
  }
  if (geteuid() == 0 && (!UserExists(kLibvirtQemuUser) || !GroupExists(kLibvirtQemuGroup))) {
    return absl::FailedPreconditionError(absl::StrCat(
        context, ": libvirt's QEMU driver needs the '", kLibvirtQemuUser,
        "' user and group to exist even when qemu.conf says root; install libvirt-daemon-system "
        "or run: groupadd --system ",
        kLibvirtQemuGroup, " && useradd --system --gid ", kLibvirtQemuGroup,
        " --no-create-home --home-dir /var/lib/libvirt --shell /usr/sbin/nologin ",
        kLibvirtQemuUser));
  }
  const std::filesystem::path root(root_dir);
  // QEMU, under its own account, creates its monitor socket in ROOT/lib/qemu/domain-N-NAME/
  // (which libvirt gives to the account) and reads the master key there: it must be able to
  // search ROOT and ROOT/lib. Everything else (etc, run, log, cache) stays the agent's.
  for (const auto& dir : {root, root / "lib"}) {
    if (absl::Status s = account.ShareDirectory(dir.string()); !s.ok()) {
      return absl::Status(s.code(), absl::StrCat(context, ": ", s.message()));
    }
  }
  if (absl::Status s = file::EnsureDirectoryMode((root / "etc").string(), 0700); !s.ok()) {
    return absl::Status(s.code(), absl::StrCat(context, ": ", s.message()));
  }

  const std::filesystem::path conf = root / "etc" / "qemu.conf";
  const std::string want = EmbedQemuConf(account);
  {
    std::ifstream in(conf);
    std::stringstream have;
    have << in.rdbuf();
    if (in && have.str() == want) return absl::OkStatus();
  }
  absl::Status written = file::WriteFileAtomic(conf.string(), want, 0600);
  if (!written.ok()) {
    return absl::Status(written.code(), absl::StrCat(context, ": ", written.message()));
  }
  return absl::OkStatus();
}

}  // namespace minicloud::hypervisor
