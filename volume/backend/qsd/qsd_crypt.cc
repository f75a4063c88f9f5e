// QsdVolumeBackend's LUKS formatting of a new encrypted volume, and QMP job waiting.
//
// The volume's first layer (a qcow2 file, node "l<n>") receives a LUKS image as its content:
// blockdev-create with driver=luks writes the header (key slots wrapping a random master key)
// and grows the node to header + payload. Nothing in the daemon ever opens the luks driver on
// the volume afterwards: it stores and exports the ciphertext as it is; the host that attaches
// the volume decrypts in its own QEMU.
//
// The passphrase is the controller's random per-volume key (256 bits of entropy). A secret
// object holds it in the daemon's memory for the duration of the blockdev-create job only
// (object-del afterwards, on every path). iter-time is short (10 ms): PBKDF2 stretching protects
// guessable passwords; a 256-bit random key needs none, and every attach pays it again.
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "volume/backend/qsd/qsd_volume_backend.h"

namespace minicloud::volume {
namespace {

constexpr int kLuksIterTimeMs = 10;

}  // namespace

absl::Status QsdVolumeBackend::WaitJobLocked(const std::string& job_id) {
  const auto deadline = std::chrono::steady_clock::now() + options_.qmp_timeout;
  while (true) {
    MC_ASSIGN_OR_RETURN(nlohmann::json jobs, qsd_->qmp().Execute("query-jobs"));
    bool found = false;
    for (const auto& job : jobs) {
      if (job.value("id", "") != job_id) continue;
      found = true;
      if (job.value("status", "") != "concluded") break;
      std::string error = job.value("error", "");
      (void)qsd_->qmp().Execute("job-dismiss", {{"id", job_id}});
      if (!error.empty()) return absl::FailedPreconditionError(absl::StrCat(job_id, ": ", error));
      return absl::OkStatus();
    }
    if (!found) return absl::InternalError(absl::StrCat("job ", job_id, " vanished"));
    if (std::chrono::steady_clock::now() > deadline) {
      return absl::DeadlineExceededError(absl::StrCat("job ", job_id, " did not conclude"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

absl::StatusOr<uint64_t> QsdVolumeBackend::FormatLuksLocked(int64_t n, uint64_t payload_bytes,
                                                            const std::string& key) {
  const std::string node = absl::StrCat("l", n);
  const std::string secret = absl::StrCat("key-l", n);
  const std::string job = absl::StrCat("luks-l", n);
  // The key's bytes are passed as "data" of a secret object; QMP errors never echo them.
  MC_RETURN_IF_ERROR(
      Annotate(qsd_->qmp()
                   .Execute("object-add", {{"qom-type", "secret"}, {"id", secret}, {"data", key}})
                   .status(),
               "add the volume key to the daemon"));
  absl::Status s = qsd_->qmp()
                       .Execute("blockdev-create", {{"job-id", job},
                                                    {"options",
                                                     {{"driver", "luks"},
                                                      {"file", node},
                                                      {"size", payload_bytes},
                                                      {"key-secret", secret},
                                                      {"iter-time", kLuksIterTimeMs}}}})
                       .status();
  if (s.ok()) s = WaitJobLocked(job);
  absl::Status dropped = qsd_->qmp().Execute("object-del", {{"id", secret}}).status();
  if (!dropped.ok()) spdlog::error("drop the key object of layer {}: {}", n, dropped.ToString());
  MC_RETURN_IF_ERROR(Annotate(s, "write the LUKS header"));
  // The header's size: what the node grew to beyond the payload.
  MC_ASSIGN_OR_RETURN(nlohmann::json nodes,
                      qsd_->qmp().Execute("query-named-block-nodes", {{"flat", true}}));
  for (const auto& entry : nodes) {
    if (entry.value("node-name", "") != node || !entry.contains("image")) continue;
    const uint64_t size = entry["image"].value("virtual-size", uint64_t{0});
    if (size <= payload_bytes) break;
    return size - payload_bytes;
  }
  return absl::InternalError(absl::StrCat("layer ", n, ": no LUKS header after formatting"));
}

}  // namespace minicloud::volume
