#include "agent/config/agent_settings.h"

#include <unistd.h>

#include <filesystem>

#include "absl/strings/str_cat.h"

namespace minicloud::agent {

AgentSettings DefaultAgentSettings() {
  AgentSettings s;
  char buf[256] = {};
  s.hostname = gethostname(buf, sizeof(buf) - 1) == 0 ? buf : "localhost";
  return s;
}

void AddAgentFlags(CLI::App& app, AgentSettings& s) {
  app.add_option("--controller", s.controller,
                 "address:port of the controller's agent listener (its --agent-listen)")
      ->capture_default_str();
  app.add_option("--join-token", s.join_token,
                 "join token (only needed until the agent holds its certificate; visible in ps: "
                 "prefer --join-token-file)");
  app.add_option("--join-token-file", s.join_token_file, "file holding the join token");
  app.add_option("--listen", s.listen,
                 "address:port of the agent's own gRPC service (port 0 = any)")
      ->capture_default_str();
  app.add_option("--advertise", s.advertise, "address:port the controller dials (default: listen)");
  app.add_option("--state-dir", s.state_dir, "instances, AMI cache, embedded libvirt")
      ->capture_default_str();
  app.add_option("--libvirt-uri", s.libvirt_uri,
                 "libvirt connection (default qemu:///embed?root=<state-dir>/libvirt)");
  app.add_option("--accel", s.accel, "accelerator: auto probes KVM and falls back to TCG")
      ->check(CLI::IsMember({"auto", "kvm", "tcg"}))
      ->capture_default_str();
  app.add_option("--probe-seconds", s.probe_seconds, "time budget of the KVM probe")
      ->check(CLI::Range(0.5, 120.0));
  app.add_option("--region", s.region)->capture_default_str();
  app.add_option("--az", s.availability_zone, "availability zone")->capture_default_str();
  app.add_option("--rack", s.rack)->capture_default_str();
  app.add_option("--hostname", s.hostname)->capture_default_str();
  app.add_option("--vcpus", s.vcpus, "vCPUs offered (default: host CPUs)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--memory-mib", s.memory_mib, "memory offered (default: host memory)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--bridge", s.bridge, "Linux bridge for guests (<= 15 characters)")
      ->capture_default_str();
  app.add_flag("--nat", s.nat, "masquerade guest traffic leaving the host (internet egress)");
  app.add_option("--dns-upstream", s.dns_upstream,
                 "resolvers that guests' DNS questions go to, when not about instance names "
                 "(default: those of /etc/resolv.conf)")
      ->delimiter(',');
  app.add_option("--metadata-listen", s.metadata_listen,
                 "addresses of the instance metadata service, bound to the bridge")
      ->capture_default_str();
  app.add_option("--query-relay-listen", s.query_relay_listen,
                 "where guests reach the EC2 Query API (relayed to the controller; empty: off)")
      ->capture_default_str();
  app.add_option("--query-relay-upstream", s.query_relay_upstream,
                 "the controller's EC2 Query API host:port (default: the --controller host, "
                 "port 8773)");
  app.add_option("--instance-store-gb", s.instance_store_gb,
                 "disk offered for instance store (default: free space of --state-dir)");
  app.add_option("--stop-timeout", s.stop_timeout_s,
                 "seconds a guest gets to shut down on stop-instances before it is powered off")
      ->check(CLI::Range(1, 3600))
      ->capture_default_str();
  app.add_option("--qemu-user", s.qemu_user,
                 "account QEMU runs under (its group gets each guest's disk and AMI files); "
                 "root runs QEMU unconfined")
      ->capture_default_str();
  app.add_option("--cfn-bootstrap-archive", s.cfn_bootstrap_archive,
                 "file guests download as http://169.254.169.254/minicloud/cfn-bootstrap.tar.gz "
                 "(missing: 404)")
      ->capture_default_str();
  app.add_option("--config", s.config_file,
                 "YAML file with these settings (topology, capacity, network, ...); flags win");
}

void MergeFileConfig(const AgentFileConfig& file,
                     const std::function<bool(const std::string& flag)>& flag_given,
                     AgentSettings& s) {
  auto take = [&](const char* flag, const auto& from, auto& to) {
    if (from.has_value() && !flag_given(flag)) to = *from;
  };
  take("--controller", file.controller, s.controller);
  take("--join-token", file.join_token, s.join_token);
  take("--join-token-file", file.join_token_file, s.join_token_file);
  take("--listen", file.listen, s.listen);
  take("--advertise", file.advertise, s.advertise);
  take("--state-dir", file.state_dir, s.state_dir);
  take("--hostname", file.hostname, s.hostname);
  take("--accel", file.accel, s.accel);
  take("--region", file.region, s.region);
  take("--az", file.availability_zone, s.availability_zone);
  take("--rack", file.rack, s.rack);
  take("--vcpus", file.vcpus, s.vcpus);
  take("--memory-mib", file.memory_mib, s.memory_mib);
  take("--instance-store-gb", file.instance_store_gb, s.instance_store_gb);
  take("--bridge", file.bridge, s.bridge);
  take("--nat", file.nat, s.nat);
  take("--dns-upstream", file.dns_upstream, s.dns_upstream);
  take("--stop-timeout", file.stop_timeout_seconds, s.stop_timeout_s);
  take("--qemu-user", file.qemu_user, s.qemu_user);
  take("--cfn-bootstrap-archive", file.cfn_bootstrap_archive, s.cfn_bootstrap_archive);
}

absl::Status ApplyConfigFile(const CLI::App& app, AgentSettings& s) {
  if (s.config_file.empty()) return absl::OkStatus();
  auto file = LoadAgentConfig(s.config_file);
  if (!file.ok()) return file.status();
  MergeFileConfig(
      *file, [&](const std::string& flag) { return app.count(flag) > 0; }, s);
  return absl::OkStatus();
}

void ResolveDerived(AgentSettings& s) {
  s.state_dir = std::filesystem::absolute(s.state_dir).lexically_normal().string();
  if (s.libvirt_uri.empty()) {
    s.libvirt_uri = absl::StrCat("qemu:///embed?root=", s.state_dir, "/libvirt");
  }
}

}  // namespace minicloud::agent
