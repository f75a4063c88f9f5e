// LinuxHostNetwork's DHCP side: the hosts file dnsmasq serves, and the dnsmasq process itself
// (started, found again after an agent restart, reloaded, stopped), its directory and upstream
// resolvers. The rest of the class is in linux_host_network.cc.

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <set>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "agent/network/command.h"
#include "agent/network/dnsmasq.h"
#include "agent/network/linux_host_network.h"
#include "agent/network/proc_files.h"
#include "agent/network/resolv_conf.h"
#include "common/file/file_util.h"
#include "common/logging.h"
#include "common/status_macros.h"

namespace minicloud::network {
namespace {

using proc_files::ErrnoError;
using proc_files::ProcessGone;
using proc_files::ReadCmdline;
using proc_files::ReadFile;

bool HasArg(const std::vector<std::string>& args, const std::string& arg) {
  for (const std::string& a : args) {
    if (a == arg) return true;
  }
  return false;
}

// Whether this process is in the machine's initial network namespace (where loopback resolvers
// of the machine listen).
bool InInitialNetns() {
  struct stat self {
  }, init{};
  if (stat("/proc/self/ns/net", &self) != 0 || stat("/proc/1/ns/net", &init) != 0) return false;
  return self.st_dev == init.st_dev && self.st_ino == init.st_ino;
}

}  // namespace

absl::Status LinuxHostNetwork::EnsureDhcpServer() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!ensured_) {
    return absl::FailedPreconditionError(
        absl::StrCat("DHCP server for ", options_.bridge, ": EnsureBridge has not run"));
  }
  return Annotate(EnsureDhcpServerLocked(/*reload=*/false),
                  absl::StrCat("DHCP server for ", options_.bridge));
}

std::optional<int> LinuxHostNetwork::DhcpServerPid() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<int> pids = FindDnsmasqPids(/*exhaustive=*/false);
  if (pids.empty()) return std::nullopt;
  return pids[0];
}

std::vector<DhcpHost> LinuxHostNetwork::DhcpHostsLocked() const {
  std::vector<DhcpHost> hosts;
  for (const auto& [id, n] : instances_) {
    hosts.push_back(DhcpHost{*MacAddress::Parse(n.mac), *Ipv4Address::Parse(n.ip), n.hostname});
  }
  return hosts;
}

// Writes the hosts file and makes dnsmasq use it: SIGHUP, or a restart when the lease file holds
// leases that no longer match (a departed instance, a changed MAC/IP), which dnsmasq would
// otherwise keep honouring for the lease time.
absl::Status LinuxHostNetwork::PublishHostsLocked() {
  const std::vector<DhcpHost> hosts = DhcpHostsLocked();
  MC_RETURN_IF_ERROR(
      file::WriteFileAtomic(DnsmasqHostsFile(dnsmasq_dir_), RenderDhcpHosts(hosts), 0644));
  if (options_.dns) {
    MC_RETURN_IF_ERROR(file::WriteFileAtomic(
        DnsmasqNamesFile(dnsmasq_dir_), RenderInstanceNames(options_.dns_domain, hosts), 0644));
  }
  const std::string lease_path = DnsmasqLeaseFile(dnsmasq_dir_);
  auto leases = ReadFile(lease_path);
  int stale = 0;
  if (leases.ok()) FilterLeases(*leases, hosts, &stale);
  if (stale == 0) {
    return Annotate(EnsureDhcpServerLocked(/*reload=*/true), "reload dnsmasq");
  }
  // Stop, then filter (dnsmasq writes the lease file as it exits), then start.
  StopDnsmasqPids(FindDnsmasqPids(/*exhaustive=*/true));
  leases = ReadFile(lease_path);
  if (leases.ok()) {
    MC_RETURN_IF_ERROR(
        file::WriteFileAtomic(lease_path, FilterLeases(*leases, hosts, &stale), 0644));
    spdlog::info("network {}: dropped {} stale DHCP lease(s)", options_.bridge, stale);
  }
  return Annotate(EnsureDhcpServerLocked(/*reload=*/false), "restart dnsmasq");
}

// --- dnsmasq ---------------------------------------------------------------------------------

std::vector<std::string> LinuxHostNetwork::DnsmasqArgvLocked() const {
  DnsmasqConfig c;
  c.binary = options_.dnsmasq_binary;
  c.bridge = options_.bridge;
  c.plan = plan_;
  c.dir = dnsmasq_dir_;
  c.lease_time = options_.lease_time;
  c.dns_servers = options_.dns_servers;
  if (dns_address_) c.dns = DnsmasqConfig::Dns{*dns_address_, options_.dns_domain, vpc_};
  c.user = options_.dnsmasq_user;
  c.log_to_file = options_.dnsmasq_log_to_file;
  return DnsmasqArgv(c);
}

// Our dnsmasq is recognised by its --pid-file argument (a path only this network uses); one
// started by an older agent kept its pid file in the state directory (<dir_>/dnsmasq.pid) and is
// ours too, so that it is replaced rather than left running next to the new one.
bool LinuxHostNetwork::IsOurDnsmasq(int pid) const {
  const std::vector<std::string> cmdline = ReadCmdline(pid);
  return HasArg(cmdline, absl::StrCat("--pid-file=", DnsmasqPidFile(dnsmasq_dir_))) ||
         HasArg(cmdline, absl::StrCat("--pid-file=", DnsmasqPidFile(dir_)));
}

// The pid in the pid file, and a scan of /proc when that fails or `exhaustive` (pid file lost, a
// second copy).
std::vector<int> LinuxHostNetwork::FindDnsmasqPids(bool exhaustive) const {
  const std::string pid_file = DnsmasqPidFile(dnsmasq_dir_);
  std::vector<int> pids;
  if (auto text = ReadFile(pid_file); text.ok()) {
    int pid = 0;
    if (absl::SimpleAtoi(absl::StripAsciiWhitespace(*text), &pid) && pid > 1 && !ProcessGone(pid) &&
        IsOurDnsmasq(pid)) {
      pids.push_back(pid);
    }
  }
  if (!pids.empty() && !exhaustive) return pids;
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return pids;
  while (dirent* e = readdir(proc)) {
    int pid = 0;
    if (!absl::SimpleAtoi(e->d_name, &pid) || pid <= 1 || pid == getpid()) continue;
    if (!pids.empty() && pid == pids[0]) continue;
    if (IsOurDnsmasq(pid) && !ProcessGone(pid)) pids.push_back(pid);
  }
  closedir(proc);
  return pids;
}

void LinuxHostNetwork::StopDnsmasqPids(const std::vector<int>& pids) const {
  // Gone means reaped or a zombie (its sockets closed), or the pid now names another program.
  // An exiting dnsmasq shows an empty command line before it closes its sockets (the kernel
  // drops the memory map first): that is not gone yet, or the new copy could find the DNS and
  // DHCP addresses still bound and fail to start.
  auto gone = [&](int pid) {
    if (ProcessGone(pid)) return true;
    const std::vector<std::string> cmdline = ReadCmdline(pid);
    return !cmdline.empty() && !IsOurDnsmasq(pid);
  };
  for (int sig : {SIGTERM, SIGKILL}) {
    bool all_gone = true;
    for (int pid : pids) {
      if (!gone(pid)) {
        kill(pid, sig);
        all_gone = false;
      }
    }
    if (all_gone) return;
    for (int i = 0; i < 250; ++i) {  // up to 5 s
      bool done = true;
      for (int pid : pids) done = done && gone(pid);
      if (done) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (sig == SIGTERM) spdlog::warn("network {}: dnsmasq ignored SIGTERM", options_.bridge);
  }
}

absl::Status LinuxHostNetwork::StartDnsmasqLocked() {
  const std::string pid_file = DnsmasqPidFile(dnsmasq_dir_);
  unlink(pid_file.c_str());
  const std::vector<std::string> argv = DnsmasqArgvLocked();
  // A copy that just exited (ours, or a TCP child of it still answering) may hold the addresses
  // for a moment on a loaded machine: retry that failure for up to 5 s, nothing else.
  for (int attempt = 0;; ++attempt) {
    absl::Status started = Run(argv).status();
    if (started.ok()) break;
    if (attempt >= 50 || !absl::StrContains(started.message(), "Address already in use")) {
      return Annotate(started, absl::StrCat("start ", ArgvToString(argv)));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  // The daemon writes its pid file before its parent exits; allow for slow machines anyway.
  for (int i = 0; i < 100; ++i) {
    std::vector<int> pids = FindDnsmasqPids(/*exhaustive=*/false);
    if (!pids.empty()) {
      spdlog::info("network {}: dnsmasq running (pid {})", options_.bridge, pids[0]);
      return absl::OkStatus();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return absl::InternalError(absl::StrCat(
      "dnsmasq started but is not running (see ",
      options_.dnsmasq_log_to_file ? DnsmasqLogFile(dnsmasq_dir_) : std::string("syslog"), ")"));
}

absl::Status LinuxHostNetwork::EnsureDhcpServerLocked(bool reload) {
  // The hosts (and names) files must exist before dnsmasq starts.
  const std::string hosts_file = DnsmasqHostsFile(dnsmasq_dir_);
  if (access(hosts_file.c_str(), F_OK) != 0) {
    MC_RETURN_IF_ERROR(file::WriteFileAtomic(hosts_file, RenderDhcpHosts(DhcpHostsLocked()), 0644));
  }
  if (options_.dns) {
    const std::string names_file = DnsmasqNamesFile(dnsmasq_dir_);
    if (access(names_file.c_str(), F_OK) != 0) {
      MC_RETURN_IF_ERROR(file::WriteFileAtomic(
          names_file, RenderInstanceNames(options_.dns_domain, DhcpHostsLocked()), 0644));
    }
    MC_RETURN_IF_ERROR(RefreshUpstreamsLocked());
  }
  std::vector<int> pids = FindDnsmasqPids(/*exhaustive=*/false);
  if (pids.size() == 1 && ReadCmdline(pids[0]) == DnsmasqArgvLocked()) {
    if (reload && kill(pids[0], SIGHUP) != 0) {
      return ErrnoError("SIGHUP", absl::StrCat("dnsmasq pid ", pids[0]), errno);
    }
    return absl::OkStatus();
  }
  if (!pids.empty()) {
    spdlog::info("network {}: restarting dnsmasq (pid {}): {}", options_.bridge, pids[0],
                 pids.size() > 1 ? "several copies" : "arguments changed");
    StopDnsmasqPids(pids);
  } else {
    // Died (or first start). A stale pid file is harmless: it is rewritten.
  }
  return StartDnsmasqLocked();
}

// The directory of dnsmasq's files: created here with the owner and mode dnsmasq needs after it
// has dropped privileges (it re-reads its files as dnsmasq_user), independent of the state
// directory's mode.
absl::Status LinuxHostNetwork::PrepareDnsmasqDirLocked() {
  std::error_code ec;
  std::filesystem::create_directories(options_.runtime_dir, ec);
  if (ec) {
    return absl::InternalError(absl::StrCat("create ", options_.runtime_dir, ": ", ec.message()));
  }
  chmod(options_.runtime_dir.c_str(), 0755);
  if (mkdir(dnsmasq_dir_.c_str(), 0700) != 0 && errno != EEXIST) {
    return ErrnoError("create", dnsmasq_dir_, errno);
  }
  const std::string& user = options_.dnsmasq_user;
  uid_t uid = 0;
  if (!user.empty() && user != "root") {
    std::vector<char> buf(16384);
    struct passwd pw {
    }, *found = nullptr;
    if (getpwnam_r(user.c_str(), &pw, buf.data(), buf.size(), &found) != 0 || found == nullptr) {
      return absl::FailedPreconditionError(absl::StrCat(
          "user '", user,
          "' (dnsmasq drops privileges to it) does not exist: install dnsmasq-base, which "
          "creates it"));
    }
    uid = pw.pw_uid;
  }
  if (chown(dnsmasq_dir_.c_str(), uid, 0) != 0) return ErrnoError("chown", dnsmasq_dir_, errno);
  if (chmod(dnsmasq_dir_.c_str(), uid == 0 ? 0700 : 0500) != 0) {
    return ErrnoError("chmod", dnsmasq_dir_, errno);
  }
  return absl::OkStatus();
}

std::string LinuxHostNetwork::ResolvConfPath() const {
  if (!options_.resolv_conf.empty()) return options_.resolv_conf;
  if (!options_.netns.empty()) {
    const std::string per_netns = absl::StrCat("/etc/netns/", options_.netns, "/resolv.conf");
    if (access(per_netns.c_str(), F_OK) == 0) return per_netns;
  }
  return "/etc/resolv.conf";
}

// Writes upstream.conf (which dnsmasq watches) from the configured servers or the machine's
// resolv.conf; logs only when the choice changes.
absl::Status LinuxHostNetwork::RefreshUpstreamsLocked() {
  const std::string& br = options_.bridge;
  std::vector<std::string> servers = options_.dns_upstream;
  std::string source = "the agent's configuration";
  std::vector<std::string> dropped;
  if (servers.empty()) {
    source = ResolvConfPath();
    auto text = ReadFile(source);
    if (text.ok()) {
      const bool loopback_ok = options_.netns.empty() && InInitialNetns();
      UpstreamChoice choice = ChooseUpstreams(ParseResolvConfNameservers(*text), loopback_ok);
      servers = std::move(choice.servers);
      dropped = std::move(choice.dropped);
    }
  }
  const std::string rendered = RenderUpstreamResolvConf(servers);
  const std::string path = DnsmasqUpstreamFile(dnsmasq_dir_);
  if (rendered == upstream_text_ && access(path.c_str(), F_OK) == 0) return absl::OkStatus();
  MC_RETURN_IF_ERROR(file::WriteFileAtomic(path, rendered, 0644));
  upstream_text_ = rendered;
  if (!servers.empty()) {
    spdlog::info("network {}: guests' DNS forwarded to {} (from {}){}", br,
                 absl::StrJoin(servers, ", "), source,
                 dropped.empty()
                     ? ""
                     : absl::StrCat("; loopback resolver(s) ", absl::StrJoin(dropped, ", "),
                                    " left out (unreachable from this namespace)"));
  } else {
    spdlog::warn(
        "network {}: no usable upstream DNS server in {}{}: guests resolve instance names only. "
        "Set network.dns_upstream (--dns-upstream){}",
        br, source,
        dropped.empty() ? ""
                        : absl::StrCat(" (loopback resolver(s) ", absl::StrJoin(dropped, ", "),
                                       " are unreachable from this network namespace)"),
        options_.netns.empty()
            ? " or give the agent's namespace its own resolv.conf"
            : absl::StrCat(" or write /etc/netns/", options_.netns, "/resolv.conf"));
  }
  return absl::OkStatus();
}

}  // namespace minicloud::network
