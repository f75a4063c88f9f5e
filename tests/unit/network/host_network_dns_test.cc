// LinuxHostNetwork's DNS for real (needs root; skipped otherwise): dnsmasq at the VPC base + 2
// answers instance names and other hosts' names and forwards the rest upstream, across
// restarts and upstream changes.

#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "agent/network/linux_host_network.h"
#include "agent/network/nftables.h"
#include "tests/testing/skip.h"
#include "tests/testing/temp_dir.h"
#include "tests/unit/network/host_network_fixture.h"
#include "tests/unit/network/netns_fixture.h"

namespace minicloud::network {
namespace {

using testing::DnsmasqLog;
using testing::Guest;
using testing::Host;
using testing::LinkUplink;
using testing::MakeNetwork;
using testing::Nic;
using testing::PeerEchoServer;
using testing::ProcessAlive;
using testing::ScopedNetns;
using testing::SkipUnlessPossible;

// Guest-side DNS lookup through `server` with busybox nslookup: the IPv4 addresses answered for
// `name`; an error carrying nslookup's output when there are none.
absl::StatusOr<std::vector<std::string>> Lookup(const Guest& g, const std::string& name,
                                                const std::string& server) {
  const CommandResult r =
      g.ns().Run({"busybox", "nslookup", "-type=a", name, server}, absl::Seconds(30));
  std::vector<std::string> addresses;
  bool in_answer = false;
  for (absl::string_view line : absl::StrSplit(r.out, '\n')) {
    if (absl::StartsWith(line, "Name:")) in_answer = true;
    if (in_answer && absl::StartsWith(line, "Address:")) {
      addresses.emplace_back(absl::StripAsciiWhitespace(line.substr(8)));
    }
  }
  if (r.exit_code != 0 || addresses.empty()) {
    return absl::NotFoundError(
        absl::StrCat("nslookup ", name, " ", server, " (exit ", r.exit_code, "): ", r.out, r.err));
  }
  return addresses;
}

std::string OneAddress(const Guest& g, const std::string& name) {
  auto a = Lookup(g, name, "172.31.0.2");
  INFO(name << ": " << a.status().ToString());
  if (!a.ok() || a->size() != 1) return "";
  return (*a)[0];
}

// Polls `lookup` until it returns `want` (dnsmasq notices a rewritten upstream file
// asynchronously); gives up after ~10 s.
bool EventuallyResolves(const Guest& g, const std::string& name, const std::string& want) {
  for (int i = 0; i < 40; ++i) {
    if (OneAddress(g, name) == want) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  return false;
}

TEST_CASE("DNS at the VPC base + 2: instance names, other hosts' names, forwarding upstream") {
  SkipUnlessPossible();
  const std::string prefix = "mc-test-" + testing::RandomSuffix();
  Host host(prefix);
  REQUIRE(host.ns.ok());
  // "Outside": a resolver that knows repo.outside.test, and that would answer names of the
  // private domain wrongly if they were ever forwarded to it.
  ScopedNetns outside(prefix + "-o");
  REQUIRE(outside.ok());
  LinkUplink(host, outside, {"198.51.100.2"});
  const CommandResult upstream = outside.Run(
      {"dnsmasq", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
       "--listen-address=198.51.100.2", "--bind-interfaces", "--user=root",
       "--pid-file=" + host.state.path() + "/outside-dns.pid",
       "--address=/outside.test/198.51.100.80", "--address=/compute.internal/198.51.100.99"});
  REQUIRE(upstream.exit_code == 0);

  // The machine's resolv.conf as the agent sees it: a loopback resolver (unreachable from the
  // host's namespace, left out) and the outside one.
  const std::string resolv = host.state.path() + "/resolv.conf";
  std::ofstream(resolv) << "# test\nnameserver 127.0.0.53\nnameserver 198.51.100.2\n";

  HostNetworkOptions options = host.Options("br-mc0", "172.31.16.0/20");
  options.dns = true;
  options.vpc_cidr = "172.31.0.0/16";
  options.dns_domain = "home-1.compute.internal";
  options.resolv_conf = resolv;
  // A dnsmasq an older agent started, with its pid file still in the state directory.
  const std::string legacy_dir = host.state.path() + "/network-br-mc0";
  std::filesystem::create_directories(legacy_dir);
  REQUIRE(host.ns
              .Run({"dnsmasq", "--conf-file=/dev/null", "--port=0", "--interface=br-mc0",
                    "--bind-dynamic", "--user=root", "--pid-file=" + legacy_dir + "/dnsmasq.pid"})
              .exit_code == 0);
  int legacy_pid = 0;
  {
    std::ifstream in(legacy_dir + "/dnsmasq.pid");
    in >> legacy_pid;
  }
  REQUIRE(legacy_pid > 0);
  auto net = MakeNetwork(options);
  REQUIRE_OK(net->EnsureBridge());
  CHECK_FALSE(ProcessAlive(legacy_pid));  // replaced, not left next to the new one
  REQUIRE(net->dns_address().has_value());
  CHECK(net->dns_address()->ToString() == "172.31.0.2");
  CHECK(absl::StrContains(host.ns.Run({"ip", "addr", "show", "dev", "br-mc0"}).out,
                          "inet 172.31.0.2/32"));
  std::ifstream upstream_in(net->dnsmasq_dir() + "/upstream.conf");
  std::string upstream_text((std::istreambuf_iterator<char>(upstream_in)), {});
  CHECK(upstream_text == "nameserver 198.51.100.2\n");

  // dnsmasq runs as the unprivileged user, and its directory is its own, read-only.
  const std::optional<int> pid = net->DhcpServerPid();
  REQUIRE(pid.has_value());
  struct passwd* pw = getpwnam("dnsmasq");
  REQUIRE(pw != nullptr);
  std::ifstream status_in("/proc/" + std::to_string(*pid) + "/status");
  std::string status_text((std::istreambuf_iterator<char>(status_in)), {});
  const std::string uid = std::to_string(pw->pw_uid);
  CHECK(absl::StrContains(status_text, "Uid:\t" + uid + "\t" + uid + "\t" + uid));
  struct stat dir_stat {};
  REQUIRE(stat(net->dnsmasq_dir().c_str(), &dir_stat) == 0);
  CHECK(dir_stat.st_uid == pw->pw_uid);
  CHECK((dir_stat.st_mode & 07777) == 0500);

  const InstanceNic a = Nic("i-0000000000000000a", "172.31.16.4");
  REQUIRE_OK(net->AddInstance(a));
  Guest ga(prefix, "ga", host.ns.name(), "br-mc0", a.tap, a.mac, host.state.path());
  REQUIRE(ga.ok());
  auto lease = ga.Dhcp();
  INFO(DnsmasqLog(*net));
  REQUIRE_OK(lease.status());
  CHECK((*lease)["ip"] == "172.31.16.4");
  CHECK((*lease)["dns"] == "172.31.0.2");  // DHCP option 6: the VPC resolver, not the gateway
  CHECK((*lease)["domain"] == "home-1.compute.internal");

  // The instance's own names, another host's instance, and an outside name.
  CHECK(OneAddress(ga, "ip-172-31-16-4.home-1.compute.internal") == "172.31.16.4");
  CHECK(OneAddress(ga, "ip-172-31-16-4") == "172.31.16.4");
  CHECK(OneAddress(ga, "ip-172-31-32-9.home-1.compute.internal") == "172.31.32.9");
  CHECK(OneAddress(ga, "repo.outside.test") == "198.51.100.80");
  // Names of the private domain are never forwarded: unknown ones do not exist.
  CHECK_FALSE(Lookup(ga, "nothing.home-1.compute.internal", "172.31.0.2").ok());
  CHECK_FALSE(Lookup(ga, "ip-10-1-2-3.home-1.compute.internal", "172.31.0.2").ok());  // not VPC

  // An instance added later, with a hostname of its own, resolves at once; removed, it is gone.
  InstanceNic web = Nic("i-0000000000000000b", "172.31.16.5");
  web.hostname = "web";
  REQUIRE_OK(net->AddInstance(web));
  CHECK(OneAddress(ga, "web.home-1.compute.internal") == "172.31.16.5");
  CHECK(OneAddress(ga, "web") == "172.31.16.5");
  REQUIRE_OK(net->RemoveInstance(web.instance_id));
  CHECK_FALSE(Lookup(ga, "web.home-1.compute.internal", "172.31.0.2").ok());

  // Only DNS, DHCP and metadata on the host: another port of the DNS address stays closed.
  PeerEchoServer other(host.ns.name(), "172.31.0.2", 8080);
  REQUIRE_OK(other.status());
  CHECK_FALSE(ga.HttpGet("http://172.31.0.2:8080/").ok());

  // The machine's resolvers change: the next EnsureDhcpServer follows them.
  std::ofstream(resolv) << "nameserver 127.0.0.53\n";
  REQUIRE_OK(net->EnsureDhcpServer());
  CHECK(EventuallyResolves(ga, "repo.outside.test", ""));
  CHECK(OneAddress(ga, "ip-172-31-16-4.home-1.compute.internal") == "172.31.16.4");
  std::ofstream(resolv) << "nameserver 198.51.100.2\n";
  REQUIRE_OK(net->EnsureDhcpServer());
  CHECK(EventuallyResolves(ga, "repo.outside.test", "198.51.100.80"));

  // A configured upstream wins over resolv.conf.
  HostNetworkOptions fixed = options;
  fixed.dns_upstream = {"198.51.100.7"};
  auto net2 = MakeNetwork(fixed);
  REQUIRE_OK(net2->EnsureBridge());
  std::ifstream fixed_in(net2->dnsmasq_dir() + "/upstream.conf");
  CHECK(std::string((std::istreambuf_iterator<char>(fixed_in)), {}) == "nameserver 198.51.100.7\n");

  REQUIRE_OK(net2->Teardown());
  CHECK_FALSE(std::filesystem::exists(net2->dnsmasq_dir()));
}

}  // namespace
}  // namespace minicloud::network
