#include "tests/unit/network/netns_fixture.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <future>
#include <random>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace minicloud::network::testing {

bool CanRunNetworkTests(std::string* why) {
  if (geteuid() != 0) {
    *why = "not root";
    return false;
  }
  for (const char* tool : {"ip", "nft", "dnsmasq", "busybox"}) {
    if (Exec({"sh", "-c", absl::StrCat("command -v ", tool)}).exit_code != 0) {
      *why = absl::StrCat(tool, " is not installed");
      return false;
    }
  }
  const std::string probe = absl::StrCat("mc-test-probe-", RandomSuffix());
  ScopedNetns ns(probe);
  if (!ns.ok()) {
    *why = "cannot create network namespaces";
    return false;
  }
  CommandResult r = ns.Run({"nft", "add", "table", "bridge", "probe"});
  if (r.exit_code != 0) {
    *why = absl::StrCat("nftables bridge family unusable: ", r.err);
    return false;
  }
  return true;
}

std::string RandomSuffix() {
  std::random_device rd;
  return absl::StrFormat("%08x", rd());
}

CommandResult Exec(const std::vector<std::string>& argv, absl::Duration timeout,
                   std::string stdin_data) {
  auto r =
      RunCommand(argv, CommandOptions{.timeout = timeout, .stdin_data = std::move(stdin_data)});
  if (r.ok()) return *r;
  CommandResult failed;
  failed.exit_code = -1;
  failed.err = std::string(r.status().message());
  return failed;
}

ScopedNetns::ScopedNetns(std::string name) : name_(std::move(name)) {
  ok_ = Exec({"ip", "netns", "add", name_}).exit_code == 0 &&
        Run({"ip", "link", "set", "lo", "up"}).exit_code == 0;
}

ScopedNetns::~ScopedNetns() {
  // Whatever still runs in the namespace was started by this test (dnsmasq, udhcpc).
  CommandResult pids = Exec({"ip", "netns", "pids", name_});
  for (absl::string_view p : absl::StrSplit(pids.out, '\n', absl::SkipEmpty())) {
    int pid = 0;
    if (absl::SimpleAtoi(p, &pid) && pid > 1 && pid != getpid()) kill(pid, SIGKILL);
  }
  Exec({"ip", "netns", "del", name_});
}

CommandResult ScopedNetns::Run(std::vector<std::string> argv, absl::Duration timeout,
                               std::string stdin_data) const {
  std::vector<std::string> full = {"ip", "netns", "exec", name_};
  full.insert(full.end(), argv.begin(), argv.end());
  return Exec(full, timeout, std::move(stdin_data));
}

absl::StatusOr<std::string> HttpGetIn(const std::string& netns, const std::string& url) {
  absl::string_view rest = url;
  if (!absl::ConsumePrefix(&rest, "http://")) return absl::InvalidArgumentError(url);
  const size_t slash = rest.find('/');
  absl::string_view hostport = rest.substr(0, slash);
  const std::string path = slash == absl::string_view::npos ? "/" : std::string(rest.substr(slash));
  std::string host(hostport), port = "80";
  if (const size_t colon = hostport.rfind(':'); colon != absl::string_view::npos) {
    host = std::string(hostport.substr(0, colon));
    port = std::string(hostport.substr(colon + 1));
  }
  CommandResult r =
      Exec({"ip", "netns", "exec", netns, "busybox", "nc", "-w", "2", host, port}, absl::Seconds(6),
           absl::StrCat("GET ", path, " HTTP/1.0\r\nHost: ", host, "\r\n\r\n"));
  const size_t body = r.out.find("\r\n\r\n");
  if (r.exit_code != 0 || !absl::StartsWith(r.out, "HTTP/1.0 200") || body == std::string::npos) {
    return absl::UnavailableError(absl::StrCat("GET ", url, " in ", netns, " failed (exit ",
                                               r.exit_code, "): ", r.err, r.out));
  }
  return r.out.substr(body + 4);
}

Guest::Guest(const std::string& ns_prefix, const std::string& label, const std::string& host_ns,
             const std::string& bridge, std::string tap, std::string mac, std::string work_dir)
    : ns_(absl::StrCat(ns_prefix, "-", label)),
      tap_(std::move(tap)),
      work_dir_(std::move(work_dir)) {
  if (!ns_.ok()) return;
  ok_ = Exec({"ip", "link", "add", tap_, "netns", host_ns, "type", "veth", "peer", "name", "eth0",
              "netns", ns_.name()})
                .exit_code == 0 &&
        Exec({"ip", "-n", host_ns, "link", "set", tap_, "master", bridge, "up"}).exit_code == 0 &&
        ns_.Run({"ip", "link", "set", "eth0", "address", mac}).exit_code == 0 &&
        ns_.Run({"ip", "link", "set", "eth0", "up"}).exit_code == 0;
  // The udhcpc script: configure eth0 and record what DHCP said.
  const std::string lease_file = absl::StrCat(work_dir_, "/lease-", tap_);
  const std::string script = absl::StrCat(work_dir_, "/udhcpc-", tap_, ".sh");
  std::ofstream(script) << "#!/bin/sh\n"
                           "case \"$1\" in\n"
                           "  deconfig) ip -4 addr flush dev \"$interface\" ;;\n"
                           "  bound|renew)\n"
                           "    ip -4 addr flush dev \"$interface\"\n"
                           "    ip addr add \"$ip/${mask:-24}\" dev \"$interface\"\n"
                           "    [ -n \"$router\" ] && ip route replace default via \"$router\" "
                           "dev \"$interface\"\n"
                           "    { echo \"ip=$ip\"; echo \"mask=$mask\"; echo \"router=$router\";"
                           " echo \"dns=$dns\"; echo \"domain=$domain\";"
                           " echo \"hostname=$hostname\";"
                           " echo \"serverid=$serverid\"; echo \"lease=$lease\"; } > "
                        << lease_file << "\n    ;;\nesac\nexit 0\n";
  chmod(script.c_str(), 0755);
}

absl::StatusOr<std::map<std::string, std::string>> Guest::Dhcp(int tries) const {
  const std::string lease_file = absl::StrCat(work_dir_, "/lease-", tap_);
  const std::string script = absl::StrCat(work_dir_, "/udhcpc-", tap_, ".sh");
  unlink(lease_file.c_str());
  CommandResult r = ns_.Run({"busybox", "udhcpc", "-i", "eth0", "-f", "-q", "-n", "-t",
                             std::to_string(tries), "-T", "1", "-A", "1", "-s", script},
                            absl::Seconds(tries * 2 + 10));
  if (r.exit_code != 0) {
    return absl::UnavailableError(
        absl::StrCat("udhcpc on ", tap_, " failed (", r.exit_code, "): ", r.err));
  }
  std::ifstream in(lease_file);
  if (!in) return absl::InternalError(absl::StrCat("udhcpc on ", tap_, " wrote no lease"));
  std::map<std::string, std::string> vars;
  std::string line;
  while (std::getline(in, line)) {
    const size_t eq = line.find('=');
    if (eq != std::string::npos) vars[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return vars;
}

absl::StatusOr<std::string> Guest::HttpGet(const std::string& url) const {
  return HttpGetIn(ns_.name(), url);
}

absl::Status Guest::SetIp(const std::string& cidr, const std::string& gateway) const {
  for (const std::vector<std::string>& argv : std::vector<std::vector<std::string>>{
           {"ip", "-4", "addr", "flush", "dev", "eth0"},
           {"ip", "-4", "neigh", "flush", "dev", "eth0"},
           {"ip", "addr", "add", cidr, "dev", "eth0"},
           {"ip", "route", "replace", "default", "via", gateway, "dev", "eth0"}}) {
    CommandResult r = ns_.Run(argv);
    if (r.exit_code != 0) return absl::InternalError(absl::StrCat(ArgvToString(argv), ": ", r.err));
  }
  return absl::OkStatus();
}

absl::Status Guest::SetMac(const std::string& mac) const {
  // Changing the MAC keeps addresses but drops routes when the link goes down: callers SetIp after.
  for (const std::vector<std::string>& argv :
       std::vector<std::vector<std::string>>{{"ip", "link", "set", "eth0", "down"},
                                             {"ip", "link", "set", "eth0", "address", mac},
                                             {"ip", "link", "set", "eth0", "up"}}) {
    CommandResult r = ns_.Run(argv);
    if (r.exit_code != 0) return absl::InternalError(absl::StrCat(ArgvToString(argv), ": ", r.err));
  }
  return absl::OkStatus();
}

PeerEchoServer::PeerEchoServer(const std::string& netns, const std::string& ip, int port) {
  std::promise<std::pair<absl::Status, int>> bound;
  auto ready = bound.get_future();
  thread_ = std::thread([this, netns, ip, port, &bound] {
    auto fail = [&](absl::string_view what) {
      bound.set_value({absl::InternalError(absl::StrCat(what, ": ", strerror(errno))), -1});
    };
    const std::string path = absl::StrCat("/run/netns/", netns);
    int nsfd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (nsfd < 0 || setns(nsfd, CLONE_NEWNET) != 0) return fail(absl::StrCat("enter ", netns));
    close(nsfd);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);  // created in the netns
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET, ip.c_str(), &addr.sin_addr);
    if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || listen(fd, 16) != 0) {
      close(fd);
      return fail(absl::StrCat("bind ", ip, ":", port));
    }
    bound.set_value({absl::OkStatus(), fd});
    Serve(fd);
    close(fd);
  });
  auto [status, fd] = ready.get();
  status_ = status;
}

PeerEchoServer::~PeerEchoServer() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void PeerEchoServer::Serve(int fd) {
  while (!stop_) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    sockaddr_in peer{};
    socklen_t len = sizeof(peer);
    int c = accept4(fd, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_CLOEXEC);
    if (c < 0) continue;
    std::string request;
    char buf[2048];
    for (int i = 0; i < 20 && request.find("\r\n\r\n") == std::string::npos; ++i) {
      pollfd cp{c, POLLIN, 0};
      if (poll(&cp, 1, 100) <= 0) continue;
      ssize_t n = read(c, buf, sizeof(buf));
      if (n <= 0) break;
      request.append(buf, static_cast<size_t>(n));
    }
    char ipbuf[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &peer.sin_addr, ipbuf, sizeof(ipbuf));
    const std::string body = ipbuf;
    const std::string response =
        absl::StrCat("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ", body.size(),
                     "\r\nConnection: close\r\n\r\n", body);
    ssize_t ignored = send(c, response.data(), response.size(), MSG_NOSIGNAL);
    (void)ignored;
    close(c);
  }
}

}  // namespace minicloud::network::testing
