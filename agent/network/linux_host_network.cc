#include "agent/network/linux_host_network.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "agent/network/command.h"
#include "agent/network/dnsmasq.h"
#include "agent/network/nftables.h"
#include "agent/network/proc_files.h"
#include "agent/network/resolv_conf.h"
#include "common/file/file_util.h"
#include "common/logging.h"
#include "common/status_macros.h"

namespace minicloud::network {
namespace {

using proc_files::ErrnoError;
using proc_files::ReadFile;

constexpr char kStateHeader[] = "# minicloud host network instances v1";

// FNV-1a, 64 bits: a stable short name for a state directory (the dnsmasq directory must be
// found again by the next agent process, so no std::hash).
std::string StableHash(absl::string_view s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return absl::StrCat(absl::Hex(h >> 32, absl::kZeroPad8));
}

// A DNS domain: dot-separated labels (IsValidHostname each), 1-253 characters.
bool IsValidDomain(absl::string_view domain) {
  if (domain.empty() || domain.size() > 253) return false;
  for (absl::string_view label : absl::StrSplit(domain, '.')) {
    if (!IsValidHostname(label)) return false;
  }
  return true;
}

template <typename T>
absl::StatusOr<T> AnnotateOr(absl::StatusOr<T> v, absl::string_view context) {
  if (v.ok()) return v;
  return Annotate(v.status(), context);
}

}  // namespace

absl::StatusOr<std::unique_ptr<LinuxHostNetwork>> LinuxHostNetwork::Create(
    HostNetworkOptions options) {
  const std::string where = absl::StrCat("host network ", options.bridge);
  if (!IsValidInterfaceName(options.bridge)) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": bridge name must be 1-15 characters of [A-Za-z0-9._-]"));
  }
  auto plan = SubnetPlan::FromCidr(options.subnet);
  if (!plan.ok()) return Annotate(plan.status(), where);
  if (options.state_dir.empty() || options.state_dir[0] != '/') {
    return absl::InvalidArgumentError(absl::StrCat(where, ": state_dir must be an absolute path"));
  }
  if (options.netns.find('/') != std::string::npos || options.netns == "." ||
      options.netns == "..") {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": bad netns name '", options.netns, "'"));
  }
  if (!options.egress_interface.empty() && !IsValidInterfaceName(options.egress_interface)) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": bad egress interface '", options.egress_interface, "'"));
  }
  for (const std::string& dns : options.dns_servers) {
    if (!Ipv4Address::Parse(dns).ok()) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": bad DNS server '", dns, "'"));
    }
  }
  for (const std::string& dest : options.blocked_destinations) {
    if (!Ipv4Address::Parse(dest).ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": blocked destination '", dest, "' is not an IPv4 address"));
    }
  }
  Ipv4Cidr vpc = plan->subnet;
  if (!options.vpc_cidr.empty()) {
    auto parsed = Ipv4Cidr::Parse(options.vpc_cidr);
    if (!parsed.ok() || parsed->Masked() != *parsed) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": bad VPC CIDR '", options.vpc_cidr, "'"));
    }
    if (parsed->prefix_length > plan->subnet.prefix_length ||
        !parsed->Contains(plan->subnet.Network())) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": subnet ", plan->subnet.ToString(),
                                                     " is not inside VPC ", options.vpc_cidr));
    }
    vpc = *parsed;
  }
  if (options.dns) {
    if (!IsValidDomain(options.dns_domain)) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": bad DNS domain '", options.dns_domain, "'"));
    }
    if (!options.dns_upstream.empty()) {
      MC_RETURN_IF_ERROR(Annotate(ValidateUpstreams(options.dns_upstream), where));
    }
  }
  if (options.runtime_dir.empty() || options.runtime_dir[0] != '/') {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": runtime_dir must be an absolute path"));
  }
  for (int port : options.open_tcp_ports) {
    if (port < 1 || port > 65535) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": bad TCP port ", port));
    }
  }
  if (options.lease_time < absl::Minutes(2)) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": lease_time must be >= 2m"));
  }
  if (options.command_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": command_timeout must be positive"));
  }
  return std::unique_ptr<LinuxHostNetwork>(new LinuxHostNetwork(std::move(options), *plan, vpc));
}

LinuxHostNetwork::LinuxHostNetwork(HostNetworkOptions options, SubnetPlan plan, Ipv4Cidr vpc)
    : options_(std::move(options)),
      plan_(plan),
      dir_(absl::StrCat(absl::StripSuffix(options_.state_dir, "/"), "/network-", options_.bridge)),
      bridge_mac_(BridgeMac(options_.bridge)),
      vpc_(vpc),
      dns_address_(options_.dns ? std::optional<Ipv4Address>(VpcDnsAddress(vpc)) : std::nullopt),
      dnsmasq_dir_(absl::StrCat(absl::StripSuffix(options_.runtime_dir, "/"), "/dnsmasq-",
                                options_.bridge, "-", StableHash(dir_))) {}

std::vector<std::string> LinuxHostNetwork::InNetns(std::vector<std::string> argv) const {
  if (options_.netns.empty()) return argv;
  std::vector<std::string> out = {"ip", "netns", "exec", options_.netns};
  out.insert(out.end(), argv.begin(), argv.end());
  return out;
}

absl::StatusOr<std::string> LinuxHostNetwork::Run(std::vector<std::string> argv,
                                                  std::string stdin_data) const {
  CommandOptions opts;
  opts.timeout = options_.command_timeout;
  opts.stdin_data = std::move(stdin_data);
  return RunCommandOk(InNetns(std::move(argv)), opts);
}

absl::Status LinuxHostNetwork::Nft(const std::string& script) const {
  auto out = Run({"nft", "-f", "-"}, script);
  if (!out.ok()) {
    SPDLOG_DEBUG("nft script that failed:\n{}", script);
    return out.status();
  }
  return absl::OkStatus();
}

// /proc/sys/net is per network namespace, resolved for the thread that opens the file: a
// short-lived thread joins the target namespace, so no sysctl(8) and no shell are needed.
absl::Status LinuxHostNetwork::WriteSysctl(const std::string& key, const std::string& value) const {
  const std::string path = absl::StrCat("/proc/sys/", absl::StrReplaceAll(key, {{".", "/"}}));
  auto write_it = [&]() -> absl::Status {
    int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return ErrnoError("open", path, errno);
    ssize_t n = write(fd, value.data(), value.size());
    int e = errno;
    close(fd);
    if (n != static_cast<ssize_t>(value.size())) return ErrnoError("write", path, e);
    return absl::OkStatus();
  };
  if (options_.netns.empty()) return write_it();
  absl::Status status;
  std::thread t([&] {
    const std::string ns = absl::StrCat("/run/netns/", options_.netns);
    int fd = open(ns.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      status = ErrnoError("open", ns, errno);
      return;
    }
    if (setns(fd, CLONE_NEWNET) != 0) {
      status = ErrnoError("setns", ns, errno);
      close(fd);
      return;
    }
    close(fd);
    status = write_it();
  });
  t.join();
  return status;
}

absl::StatusOr<bool> LinuxHostNetwork::LinkExists(const std::string& name,
                                                  std::string* kind) const {
  auto out = RunCommand(InNetns({"ip", "-d", "-j", "link", "show", "dev", name}),
                        CommandOptions{.timeout = options_.command_timeout, .stdin_data = {}});
  if (!out.ok()) return out.status();
  if (out->exit_code != 0) {
    if (absl::StrContains(out->err, "does not exist")) return false;
    return absl::InternalError(
        absl::StrCat(absl::StripAsciiWhitespace(out->err), " (exit status ", out->exit_code, ")"));
  }
  kind->clear();
  try {
    nlohmann::json j = nlohmann::json::parse(out->out);
    if (j.is_array() && !j.empty() && j[0].contains("linkinfo")) {
      *kind = j[0]["linkinfo"].value("info_kind", "");
    }
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("cannot parse `ip -j link` output: ", e.what()));
  }
  return true;
}

absl::Status LinuxHostNetwork::EnsureBridgeLink() {
  const std::string& br = options_.bridge;
  std::string kind;
  MC_ASSIGN_OR_RETURN(bool exists, LinkExists(br, &kind));
  if (exists && kind != "bridge") {
    return absl::FailedPreconditionError(
        absl::StrCat("interface ", br, " exists and is not a bridge (kind '", kind, "')"));
  }
  if (!exists) {
    MC_RETURN_IF_ERROR(Annotate(Run({"ip", "link", "add", "name", br, "address",
                                     bridge_mac_.ToString(), "type", "bridge", "stp_state", "0"})
                                    .status(),
                                absl::StrCat("create bridge ", br)));
    spdlog::info("network {}: created bridge ({})", br, bridge_mac_.ToString());
  } else {
    MC_RETURN_IF_ERROR(
        Annotate(Run({"ip", "link", "set", "dev", br, "address", bridge_mac_.ToString()}).status(),
                 absl::StrCat("set MAC of bridge ", br)));
  }
  return absl::OkStatus();
}

absl::Status LinuxHostNetwork::EnsureBridgeAddresses(bool ipv6) {
  const std::string& br = options_.bridge;
  std::set<std::pair<std::string, int>> want4 = {
      {plan_.gateway.ToString(), plan_.subnet.prefix_length}, {kMetadataIpv4, 32}};
  if (dns_address_) want4.insert({dns_address_->ToString(), 32});
  std::set<std::pair<std::string, int>> want6;
  if (ipv6) want6.insert({kMetadataIpv6, 128});

  MC_ASSIGN_OR_RETURN(std::string json, AnnotateOr(Run({"ip", "-j", "addr", "show", "dev", br}),
                                                   absl::StrCat("list addresses of ", br)));
  std::set<std::pair<std::string, int>> have4, have6;
  try {
    nlohmann::json j = nlohmann::json::parse(json);
    for (const auto& link : j) {
      if (!link.contains("addr_info")) continue;
      for (const auto& a : link["addr_info"]) {
        const std::string family = a.value("family", "");
        const std::string local = a.value("local", "");
        const int prefix = a.value("prefixlen", 0);
        if (family == "inet") have4.insert({local, prefix});
        if (family == "inet6" && a.value("scope", "") != "link") have6.insert({local, prefix});
      }
    }
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("cannot parse `ip -j addr` output: ", e.what()));
  }
  // Make the address set exact: stale addresses (an old subnet) are removed.
  for (const auto& [addr, len] : have4) {
    if (!want4.contains({addr, len})) {
      const std::string cidr = absl::StrCat(addr, "/", len);
      MC_RETURN_IF_ERROR(Annotate(Run({"ip", "addr", "del", cidr, "dev", br}).status(),
                                  absl::StrCat("remove stale address ", cidr, " from ", br)));
    }
  }
  for (const auto& [addr, len] : have6) {
    if (!want6.contains({addr, len})) {
      const std::string cidr = absl::StrCat(addr, "/", len);
      MC_RETURN_IF_ERROR(Annotate(Run({"ip", "-6", "addr", "del", cidr, "dev", br}).status(),
                                  absl::StrCat("remove stale address ", cidr, " from ", br)));
    }
  }
  for (const auto& [addr, len] : want4) {
    if (have4.contains({addr, len})) continue;
    const std::string cidr = absl::StrCat(addr, "/", len);
    MC_RETURN_IF_ERROR(Annotate(Run({"ip", "addr", "add", cidr, "dev", br}).status(),
                                absl::StrCat("add address ", cidr, " to ", br)));
  }
  for (const auto& [addr, len] : want6) {
    if (have6.contains({addr, len})) continue;
    const std::string cidr = absl::StrCat(addr, "/", len);
    MC_RETURN_IF_ERROR(Annotate(Run({"ip", "-6", "addr", "add", cidr, "dev", br, "nodad"}).status(),
                                absl::StrCat("add address ", cidr, " to ", br)));
  }
  return absl::OkStatus();
}

absl::Status LinuxHostNetwork::EnsureBridge() {
  std::lock_guard<std::mutex> lock(mu_);
  const std::string& br = options_.bridge;
  const std::string where = absl::StrCat("ensure network ", br);

  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) return absl::InternalError(absl::StrCat(where, ": create ", dir_, ": ", ec.message()));
  chmod(dir_.c_str(), 0700);
  if (!loaded_) MC_RETURN_IF_ERROR(Annotate(LoadStateLocked(), where));
  MC_RETURN_IF_ERROR(Annotate(PrepareDnsmasqDirLocked(), where));

  MC_RETURN_IF_ERROR(Annotate(EnsureBridgeLink(), where));
  // IPv6 on the bridge: only for the metadata address; never autoconfigure from a (guest) RA.
  bool ipv6 = true;
  const std::string conf6 = absl::StrCat("net.ipv6.conf.", br, ".");
  absl::Status v6 = WriteSysctl(conf6 + "disable_ipv6", "0");
  if (absl::IsNotFound(v6)) {
    ipv6 = false;
    spdlog::warn("network {}: IPv6 unavailable; no {} on the bridge", br, kMetadataIpv6);
  } else {
    MC_RETURN_IF_ERROR(Annotate(v6, where));
    MC_RETURN_IF_ERROR(Annotate(WriteSysctl(conf6 + "accept_ra", "0"), where));
    MC_RETURN_IF_ERROR(Annotate(WriteSysctl(conf6 + "autoconf", "0"), where));
  }
  MC_RETURN_IF_ERROR(Annotate(EnsureBridgeAddresses(ipv6), where));
  MC_RETURN_IF_ERROR(Annotate(Run({"ip", "link", "set", "dev", br, "up"}).status(),
                              absl::StrCat(where, ": bring ", br, " up")));

  // nftables: base tables plus the rules of every known instance, one transaction.
  NftConfig nft{.bridge = br,
                .plan = plan_,
                .guard_host = options_.guard_host,
                .dns_address = dns_address_ ? dns_address_->ToString() : "",
                .open_tcp_ports = options_.open_tcp_ports,
                .blocked_destinations = options_.blocked_destinations,
                .nat_egress = options_.nat_egress,
                .egress_interface = options_.egress_interface,
                .scope_to_bridge = true};
  std::string ports;
  for (const auto& [id, nic] : instances_) {
    ports += RenderNftPort(
        br, PortSpec{id, nic.tap, *MacAddress::Parse(nic.mac), *Ipv4Address::Parse(nic.ip)});
  }
  absl::Status applied = Nft(RenderNftBase(nft) + ports);
  if (!applied.ok() && absl::StrContains(applied.message(), "Operation not supported")) {
    // No `meta ibrname` in this kernel: filter registered taps only (the transaction failed as
    // a whole, so nothing half-applied is left).
    nft.scope_to_bridge = false;
    applied = Nft(RenderNftBase(nft) + ports);
    if (applied.ok() && scope_to_bridge_) {
      spdlog::warn(
          "network {}: kernel lacks nftables `meta ibrname` (CONFIG_NFT_BRIDGE_META); "
          "frames from bridge ports no instance owns are NOT dropped",
          br);
    }
  }
  MC_RETURN_IF_ERROR(Annotate(applied, absl::StrCat(where, ": install nftables rules")));
  scope_to_bridge_ = nft.scope_to_bridge;
  if (options_.nat_egress) {
    MC_RETURN_IF_ERROR(Annotate(WriteSysctl("net.ipv4.ip_forward", "1"),
                                absl::StrCat(where, ": enable IPv4 forwarding")));
  }

  MC_RETURN_IF_ERROR(Annotate(PublishHostsLocked(), where));
  ensured_ = true;
  spdlog::info("network {}: ready ({}, gateway {}, {} instance(s){}{}{})", br,
               plan_.subnet.ToString(), plan_.gateway.ToString(), instances_.size(),
               options_.nat_egress ? ", NAT" : "", options_.netns.empty() ? "" : ", netns ",
               options_.netns);
  return absl::OkStatus();
}

absl::Status LinuxHostNetwork::AddInstance(const InstanceNic& requested) {
  std::lock_guard<std::mutex> lock(mu_);
  const std::string where =
      absl::StrCat("add instance ", requested.instance_id, " to ", options_.bridge);
  if (!ensured_) {
    return absl::FailedPreconditionError(absl::StrCat(where, ": EnsureBridge has not run"));
  }
  MC_ASSIGN_OR_RETURN(InstanceNic nic,
                      AnnotateOr(NormalizeInstanceNic(requested, plan_, options_.bridge), where));
  std::vector<InstanceNic> others;
  for (const auto& [id, n] : instances_) others.push_back(n);
  MC_RETURN_IF_ERROR(CheckNoConflict(others, nic));

  std::optional<InstanceNic> old;
  if (auto it = instances_.find(nic.instance_id); it != instances_.end()) old = it->second;

  std::string script;
  if (old && old->tap != nic.tap) script += RenderNftRemovePort(options_.bridge, old->tap);
  script += RenderNftPort(
      options_.bridge,
      PortSpec{nic.instance_id, nic.tap, *MacAddress::Parse(nic.mac), *Ipv4Address::Parse(nic.ip)});
  MC_RETURN_IF_ERROR(Annotate(
      Nft(script), absl::StrCat(where, ": install anti-spoofing rules for tap ", nic.tap)));

  instances_[nic.instance_id] = nic;
  absl::Status st = SaveStateLocked();
  if (st.ok()) st = PublishHostsLocked();
  if (!st.ok()) {
    // Put things back as they were: rules, memory, files (best effort).
    std::string undo = RenderNftRemovePort(options_.bridge, nic.tap);
    if (old) {
      instances_[nic.instance_id] = *old;
      undo += RenderNftPort(options_.bridge,
                            PortSpec{old->instance_id, old->tap, *MacAddress::Parse(old->mac),
                                     *Ipv4Address::Parse(old->ip)});
    } else {
      instances_.erase(nic.instance_id);
    }
    Nft(undo).IgnoreError();
    SaveStateLocked().IgnoreError();
    return Annotate(st, where);
  }
  if (!old || !(*old == nic)) {
    spdlog::info("network {}: instance {} on tap {} ({} {})", options_.bridge, nic.instance_id,
                 nic.tap, nic.mac, nic.ip);
  }
  return absl::OkStatus();
}

absl::Status LinuxHostNetwork::RemoveInstance(absl::string_view instance_id) {
  std::lock_guard<std::mutex> lock(mu_);
  const std::string where =
      absl::StrCat("remove instance ", instance_id, " from ", options_.bridge);
  if (!loaded_) MC_RETURN_IF_ERROR(Annotate(LoadStateLocked(), where));
  auto it = instances_.find(std::string(instance_id));
  if (it == instances_.end()) return absl::OkStatus();
  if (!ensured_) {
    return absl::FailedPreconditionError(absl::StrCat(where, ": EnsureBridge has not run"));
  }
  const InstanceNic nic = it->second;
  MC_RETURN_IF_ERROR(Annotate(Nft(RenderNftRemovePort(options_.bridge, nic.tap)),
                              absl::StrCat(where, ": remove rules for tap ", nic.tap)));
  instances_.erase(it);
  MC_RETURN_IF_ERROR(Annotate(SaveStateLocked(), where));
  MC_RETURN_IF_ERROR(Annotate(PublishHostsLocked(), where));
  spdlog::info("network {}: removed instance {} (tap {})", options_.bridge, nic.instance_id,
               nic.tap);
  return absl::OkStatus();
}

absl::Status LinuxHostNetwork::Teardown() {
  std::lock_guard<std::mutex> lock(mu_);
  const std::string& br = options_.bridge;
  const std::string where = absl::StrCat("tear down network ", br);
  absl::Status first;
  auto note = [&](absl::Status s) {
    if (!s.ok()) {
      spdlog::warn("{}: {}", where, s.message());
      if (first.ok()) first = Annotate(s, where);
    }
  };
  StopDnsmasqPids(FindDnsmasqPids(/*exhaustive=*/true));
  if (std::vector<int> left = FindDnsmasqPids(/*exhaustive=*/true); !left.empty()) {
    note(absl::InternalError(absl::StrCat("dnsmasq pid ", left[0], " did not exit")));
  }
  note(Annotate(Nft(RenderNftTeardown(br)), "delete nftables tables"));
  std::string kind;
  auto exists = LinkExists(br, &kind);
  if (!exists.ok()) {
    note(exists.status());
  } else if (*exists) {
    if (kind != "bridge") {
      note(absl::FailedPreconditionError(absl::StrCat(br, " is not a bridge; left alone")));
    } else {
      note(Annotate(Run({"ip", "link", "del", "dev", br}).status(),
                    absl::StrCat("delete bridge ", br)));
    }
  }
  for (const std::string& d : {dir_, dnsmasq_dir_}) {
    std::error_code ec;
    std::filesystem::remove_all(d, ec);
    if (ec) note(absl::InternalError(absl::StrCat("remove ", d, ": ", ec.message())));
  }
  upstream_text_.clear();
  instances_.clear();
  loaded_ = true;
  ensured_ = false;
  if (first.ok()) spdlog::info("network {}: torn down", br);
  return first;
}

std::vector<InstanceNic> LinuxHostNetwork::Instances() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<InstanceNic> out;
  for (const auto& [id, nic] : instances_) out.push_back(nic);
  return out;
}

bool LinuxHostNetwork::drops_unknown_ports() const {
  std::lock_guard<std::mutex> lock(mu_);
  return ensured_ && scope_to_bridge_;
}

// --- state -----------------------------------------------------------------------------------

// <dir>/instances: a header line, then "id<TAB>tap<TAB>mac<TAB>ip<TAB>hostname" per instance.
absl::Status LinuxHostNetwork::LoadStateLocked() {
  const std::string path = absl::StrCat(dir_, "/instances");
  auto text = ReadFile(path);
  instances_.clear();
  if (!text.ok()) {
    if (absl::IsNotFound(text.status())) {
      loaded_ = true;
      return absl::OkStatus();
    }
    return text.status();
  }
  for (absl::string_view line : absl::StrSplit(*text, '\n', absl::SkipEmpty())) {
    if (absl::StartsWith(line, "#")) continue;
    std::vector<std::string> f = absl::StrSplit(line, '\t');
    if (f.size() != 5) {
      spdlog::warn("network {}: ignoring malformed line in {}: '{}'", options_.bridge, path, line);
      continue;
    }
    InstanceNic nic{f[0], f[2], f[3], f[1], f[4]};
    auto normalized = NormalizeInstanceNic(nic, plan_, options_.bridge);
    if (!normalized.ok()) {
      spdlog::warn("network {}: dropping recorded instance: {}", options_.bridge,
                   normalized.status().message());
      continue;
    }
    instances_[normalized->instance_id] = *normalized;
  }
  loaded_ = true;
  return absl::OkStatus();
}

absl::Status LinuxHostNetwork::SaveStateLocked() const {
  std::string text = absl::StrCat(kStateHeader, "\n");
  for (const auto& [id, n] : instances_) {
    absl::StrAppend(&text, n.instance_id, "\t", n.tap, "\t", n.mac, "\t", n.ip, "\t", n.hostname,
                    "\n");
  }
  return file::WriteFileAtomic(absl::StrCat(dir_, "/instances"), text, 0600);
}

}  // namespace minicloud::network
