// QsdVolumeBackend's LUKS formatting of a new encrypted volume, the re-encrypting copy of a
// plain snapshot into one, and QMP job waiting.
//
// The volume's first layer (a qcow2 file, node "l<n>") receives a LUKS image as its content:
// blockdev-create with driver=luks writes the header (key slots wrapping a random master key)
// and grows the node to header + payload. Nothing in the daemon ever opens the luks driver on
// the volume afterwards: it stores and exports the ciphertext as it is; the host that attaches
// the volume decrypts in its own QEMU.
//
// The passphrase is the controller's random per-volume key (256 bits of entropy). A secret
// object holds it in the daemon's memory for the duration of the blockdev-create job (and of the
// copy job of a volume made from a plain snapshot) only (object-del afterwards, on every path).
// iter-time is short (10 ms): PBKDF2 stretching protects guessable passwords; a 256-bit random key
// needs none, and every attach pays it again.
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "volume/backend/qsd/qsd_volume_backend.h"

namespace minicloud::volume {
namespace {

constexpr int kLuksIterTimeMs = 10;

// QEMU sizes the LUKS key slots' PBKDF2 by timing a first round on the thread's CPU clock and
// gives up with "Unable to get accurate CPU usage" when that clock did not move (QEMU 7.2,
// crypto/pbkdf.c: the round is short on a fast CPU, and the clock has tick granularity). Nothing
// has been written then; formatting again is the cure. On a loaded 2-core machine three tries in
// a row failed now and then (the same preemption pattern each time), so the tries are spread
// over about a second.
constexpr int kLuksFormatAttempts = 10;
constexpr std::chrono::milliseconds kLuksFormatBackoff{20};  // times the attempt number
bool IsPbkdfTimingGlitch(const absl::Status& s) {
  return absl::StrContains(s.message(), "Unable to get accurate CPU usage");
}

// How long a full copy may take: the QMP timeout plus one second per 16 MiB (a disk slower than
// 16 MiB/s is broken, not slow).
std::chrono::milliseconds CopyTimeout(std::chrono::milliseconds qmp_timeout, uint64_t bytes) {
  return qmp_timeout + std::chrono::seconds(bytes >> 24);
}

// A secret object holding `key` in the daemon, deleted again when this goes out of scope.
class ScopedKey {
 public:
  ScopedKey(QmpClient& qmp, std::string id) : qmp_(qmp), id_(std::move(id)) {}
  ScopedKey(const ScopedKey&) = delete;
  ScopedKey& operator=(const ScopedKey&) = delete;
  ~ScopedKey() {
    if (!added_) return;
    absl::Status s = qmp_.Execute("object-del", {{"id", id_}}).status();
    if (!s.ok()) spdlog::error("drop the key object {}: {}", id_, s.ToString());
  }
  // The key's bytes are passed as "data" of a secret object; QMP errors never echo them.
  absl::Status Add(const std::string& key) {
    MC_RETURN_IF_ERROR(Annotate(
        qmp_.Execute("object-add", {{"qom-type", "secret"}, {"id", id_}, {"data", key}}).status(),
        "add the volume key to the daemon"));
    added_ = true;
    return absl::OkStatus();
  }
  const std::string& id() const { return id_; }

 private:
  QmpClient& qmp_;
  const std::string id_;
  bool added_ = false;
};

}  // namespace

absl::Status QsdVolumeBackend::WaitJobLocked(const std::string& job_id,
                                             std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
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
  const std::string job = absl::StrCat("luks-l", n);
  {
    ScopedKey secret(qsd_->qmp(), absl::StrCat("key-l", n));
    MC_RETURN_IF_ERROR(secret.Add(key));
    absl::Status s;
    for (int attempt = 1; attempt <= kLuksFormatAttempts; ++attempt) {
      s = qsd_->qmp()
              .Execute("blockdev-create", {{"job-id", job},
                                           {"options",
                                            {{"driver", "luks"},
                                             {"file", node},
                                             {"size", payload_bytes},
                                             {"key-secret", secret.id()},
                                             {"iter-time", kLuksIterTimeMs}}}})
              .status();
      if (s.ok()) s = WaitJobLocked(job, options_.qmp_timeout);
      if (s.ok() || !IsPbkdfTimingGlitch(s)) break;
      spdlog::warn("volume layer {}: {}; formatting again ({} of {})", n, s.message(), attempt,
                   kLuksFormatAttempts);
      std::this_thread::sleep_for(kLuksFormatBackoff * attempt);
    }
    MC_RETURN_IF_ERROR(Annotate(s, "write the LUKS header"));
  }
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

absl::StatusOr<uint64_t> QsdVolumeBackend::CopyEncryptedLocked(int64_t n, int64_t source,
                                                               uint64_t source_bytes,
                                                               uint64_t payload_bytes,
                                                               const std::string& key) {
  // A backup job copies only between nodes of equal size: the payload starts at the source's
  // size and grows afterwards.
  MC_ASSIGN_OR_RETURN(const uint64_t header, FormatLuksLocked(n, source_bytes, key));
  const std::string plain = absl::StrCat("c", n);
  const std::string job = absl::StrCat("copy-l", n);
  {
    ScopedKey secret(qsd_->qmp(), absl::StrCat("key-c", n));
    MC_RETURN_IF_ERROR(secret.Add(key));
    MC_RETURN_IF_ERROR(Annotate(qsd_->qmp()
                                    .Execute("blockdev-add", {{"driver", "luks"},
                                                              {"node-name", plain},
                                                              {"file", absl::StrCat("l", n)},
                                                              {"key-secret", secret.id()}})
                                    .status(),
                                "open the new layer through the luks driver"));
    absl::Status s = qsd_->qmp()
                         .Execute("blockdev-backup", {{"job-id", job},
                                                      {"device", absl::StrCat("l", source)},
                                                      {"target", plain},
                                                      {"sync", "full"},
                                                      {"auto-dismiss", false}})
                         .status();
    if (s.ok()) s = WaitJobLocked(job, CopyTimeout(options_.qmp_timeout, source_bytes));
    absl::Status closed = qsd_->qmp().Execute("blockdev-del", {{"node-name", plain}}).status();
    if (s.ok()) s = closed;
    MC_RETURN_IF_ERROR(Annotate(s, "copy the snapshot into the encrypted layer"));
  }
  if (payload_bytes > source_bytes) {
    MC_RETURN_IF_ERROR(Annotate(qsd_->qmp()
                                    .Execute("block_resize", {{"node-name", absl::StrCat("l", n)},
                                                              {"size", header + payload_bytes}})
                                    .status(),
                                "grow the encrypted layer"));
  }
  return header;
}

}  // namespace minicloud::volume
