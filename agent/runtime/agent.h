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
#include "agent/runtime/controller_link.h"
#include "agent/runtime/plan.h"
#include "agent/storage/image_cache.h"
#include "common/clock.h"
#include "minicloud/v1/host.pb.h"

namespace minicloud::agent {

struct AgentConfig {
  std::string state_dir;           // instances/, images/ live here
  std::string hostname;
  v1::Topology topology;
  v1::Capacity capacity;           // what this host offers
  hypervisor::Accelerator accelerator = hypervisor::Accelerator::kTcg;
  std::string accelerator_reason;
  int watch_wait_ms = 10'000;      // long-poll length
  int retry_ms = 1'000;            // pause after a failed controller call
};

// The host agent: registers with the controller, follows its desired state (launching and
// tearing down domains through the Hypervisor), and reports what it observes. Domains keep
// running when the agent stops; a new agent re-adopts them.
class Agent {
 public:
  Agent(AgentConfig config, hypervisor::Hypervisor& hypervisor, ControllerLink& controller,
        const Clock& clock);
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
  // Paths used for an instance (exposed for tests and cleanup tools).
  std::string InstanceDir(const std::string& instance_id) const;

 private:
  void RegisterLocked();
  bool EnsureRegistered();
  void WatchLoop();
  void ReportLoop();
  void ReconcileLoop();
  void ReconcileOnce();
  void RunLaunch(v1::DesiredInstance want);
  void RunTeardown(std::string instance_id);
  absl::Status Launch(const v1::DesiredInstance& want, v1::LaunchTimeline& timeline);
  absl::StatusOr<std::string> EnsureBlob(const std::string& sha256, int64_t size);
  v1::ReportStatusRequest BuildReportLocked(
      const std::map<std::string, hypervisor::DomainInfo>& domains);
  void Finish(const std::string& id, v1::ObservedState state, std::string message);
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
  int inflight_ = 0;           // launch/teardown workers still running
  std::string host_id_;
  bool registered_ = false;
  v1::DesiredState desired_;
  bool have_desired_ = false;
  std::map<std::string, LocalInstance> local_;
  std::map<std::string, hypervisor::DomainInfo> domains_;  // last List()
  std::vector<std::thread> threads_;
  std::mutex blob_mu_;  // one download at a time per agent
};

}  // namespace minicloud::agent
