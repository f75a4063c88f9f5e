#pragma once

#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/hypervisor/hypervisor.h"
#include "agent/hypervisor/qemu_account.h"
#include "agent/metadata/instance_metadata.h"
#include "agent/network/host_network.h"
#include "agent/runtime/console_log.h"
#include "agent/runtime/controller_link.h"
#include "agent/runtime/plan.h"
#include "common/clock.h"
#include "common/storage/image_cache.h"
#include "minicloud/v1/host.pb.h"

namespace minicloud::agent {

struct AgentConfig {
  std::string state_dir;  // instances/, images/ live here
  std::string hostname;
  v1::Topology topology;
  v1::Capacity capacity;  // what this host offers
  hypervisor::Accelerator accelerator = hypervisor::Accelerator::kTcg;
  std::string accelerator_reason;
  int watch_wait_ms = 10'000;  // long-poll length
  int retry_ms = 1'000;        // pause after a failed controller call
  // StopInstances without Force: how long the guest gets to shut down after the ACPI power
  // button before it is powered off.
  int stop_timeout_ms = 120'000;
  int64_t console_log_max_bytes = kConsoleLogMaxBytes;
  // The account QEMU runs under: instance directories, root overlays and AMI blobs get its
  // group (qemu_account.h). The default (root) shares nothing.
  hypervisor::QemuAccount qemu_account;
  // Instance-profile credentials: fetched once an instance with a profile is published, and
  // again this long before they expire; checked every credentials_poll_ms.
  absl::Duration credentials_refresh_before = absl::Minutes(15);
  int credentials_poll_ms = 2'000;
  // Hibernation (hibernation.h): where a guest's saved RAM passes through on its way to or from
  // its volume (tmpfs, never this host's disk), and the qemu-img that carries it.
  std::string hibernation_scratch_dir = "/run/minicloud/hibernation";
  std::string qemu_img = "qemu-img";
};

// Creates the host network for a subnet (of the VPC `vpc_cidr`, "" when unknown) the first time
// an instance needs it.
using NetworkFactory = std::function<absl::StatusOr<std::unique_ptr<network::HostNetwork>>(
    const std::string& subnet, const std::string& vpc_cidr)>;

// The host agent: registers with the controller, follows its desired state (launching and
// tearing down domains through the Hypervisor), and reports what it observes. Domains keep
// running when the agent stops; a new agent re-adopts them.
class Agent {
 public:
  Agent(AgentConfig config, hypervisor::Hypervisor& hypervisor, ControllerLink& controller,
        const Clock& clock, NetworkFactory network_factory = nullptr);
  ~Agent();

  // Opens local state and starts the background threads. Returns at once.
  absl::Status Start();
  // Stops the threads (waits for in-flight launches). Domains are left running.
  void Stop();

  // The address the controller dials; set before Start() once the server is bound.
  void set_advertise_endpoint(std::string endpoint) { advertise_endpoint_ = std::move(endpoint); }
  std::string host_id() const;
  // The tail of an instance's serial console; NotFound for an instance this host does not have.
  absl::StatusOr<std::string> ConsoleOutput(const std::string& instance_id, int64_t max_bytes);
  // The directory of an instance under the state directory (exposed for tests and cleanup
  // tools); InvalidArgument for a malformed id or one that would lead outside the state
  // directory. Every filesystem operation on an instance goes through it.
  absl::StatusOr<std::string> InstanceDir(const std::string& instance_id) const;
  // What the metadata service serves to the guest with this private address (null = nobody).
  // Works while the controller is away: the data is kept in each instance's directory.
  std::shared_ptr<const metadata::InstanceMetadata> MetadataFor(const std::string& ip) const;

 private:
  void RegisterLocked();
  bool EnsureRegistered();
  void WatchLoop();
  void ReportLoop();
  void ReconcileLoop();
  void ReconcileOnce();
  // Brings each existing domain's EBS disks to its desired ones (hot-plug, hot-unplug; the
  // definition of a shut-off domain) and records what it has for the report (ebs_sync.cc).
  void SyncEbsDisks();
  void RunLaunch(v1::DesiredInstance want);
  void RunStop(v1::DesiredInstance want);
  void RunReboot(v1::DesiredInstance want);
  // Remembers (in memory and next to the disk) that reboots up to `count` are done.
  void RecordRebooted(const std::string& id, int count);
  void RunTeardown(std::string instance_id);
  // The host's re-check (admission.h); on success the boot counts as admitted.
  absl::Status Admit(const v1::DesiredInstance& want);
  absl::Status Launch(const v1::DesiredInstance& want, v1::LaunchTimeline& timeline);
  absl::StatusOr<std::string> EnsureBlob(const std::string& sha256, int64_t size);
  absl::StatusOr<network::HostNetwork*> EnsureNetwork(const std::string& subnet,
                                                      const std::string& vpc_cidr);
  // Publishes (or refreshes) what the metadata service serves for an instance. A record that
  // fails metadata::ValidateInstanceMetadata is refused (InvalidArgument naming the field) and
  // the previous record, if any, stays published.
  absl::Status PublishMetadataLocked(const v1::DesiredInstance& want);
  void ForgetMetadataLocked(const std::string& instance_id);
  // Fetches credentials for every published instance with a profile whose credentials are
  // missing or due, and republishes its record with them (credentials.cc).
  void CredentialsLoop();
  void RefreshCredentialsOnce();
  v1::ReportStatusRequest BuildReportLocked(
      const std::map<std::string, hypervisor::DomainInfo>& domains);
  // `failure` says what kind of failure a FAILED state is.
  void Finish(const std::string& id, v1::ObservedState state, std::string message,
              v1::BootFailure failure = v1::BOOT_FAILURE_UNSPECIFIED);
  void Wake();
  void SpawnWorkerLocked(std::function<void()> fn);
  bool Sleep(std::chrono::milliseconds d);  // false when stopping

  const AgentConfig config_;
  hypervisor::Hypervisor& hypervisor_;
  ControllerLink& controller_;
  const Clock& clock_;
  std::unique_ptr<storage::ImageCache> images_;
  std::string advertise_endpoint_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool reconcile_due_ = true;  // something changed: reconcile now
  bool report_due_ = true;     // observed state may have changed: report now
  int report_interval_ms_ = 2000;
  int inflight_ = 0;  // launch/teardown workers still running
  std::string host_id_;
  bool registered_ = false;
  v1::DesiredState desired_;
  bool have_desired_ = false;
  std::map<std::string, LocalInstance> local_;
  std::map<std::string, hypervisor::DomainInfo> domains_;  // last List()
  std::vector<std::thread> threads_;
  std::mutex blob_mu_;  // one download at a time per agent

  NetworkFactory network_factory_;
  std::mutex network_mu_;
  std::unique_ptr<network::HostNetwork> network_;  // created on first use
  std::string network_subnet_;
  // Metadata by private IP, and the IP of each instance.
  std::map<std::string, std::shared_ptr<const metadata::InstanceMetadata>> metadata_by_ip_;
  std::map<std::string, std::string> ip_by_instance_;
  // The last credentials fetched per instance (attached to its record at every publish).
  std::map<std::string, metadata::IamCredentials> credentials_;
};

}  // namespace minicloud::agent
