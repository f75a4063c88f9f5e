// QsdVolumeBackend: starting the daemon, recovering the state directory, collecting garbage,
// and the small helpers every operation uses. The operations are in qsd_volume_backend.cc.

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/file/file_util.h"
#include "common/file/state_path.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "common/storage/nbd_tls.h"
#include "volume/backend/qsd/qsd_volume_backend.h"

namespace minicloud::volume {
namespace {

// The daemon's tls-creds-x509 object for its NBD server.
constexpr char kNbdTlsCreds[] = "nbdtls0";
// The daemon's authz-list object: which client certificates its NBD server lets in.
constexpr char kNbdAuthz[] = "nbdauthz0";

// object-add arguments of the authz-list that admits storage::NbdServerClientRules() only.
nlohmann::json NbdAuthzObject() {
  nlohmann::json rules = nlohmann::json::array();
  for (const storage::QemuAuthzRule& r : storage::NbdServerClientRules()) {
    rules.push_back(
        {{"match", r.match}, {"policy", "allow"}, {"format", r.glob ? "glob" : "exact"}});
  }
  return {{"qom-type", "authz-list"}, {"id", kNbdAuthz}, {"policy", "deny"}, {"rules", rules}};
}

}  // namespace

absl::StatusOr<std::unique_ptr<QsdVolumeBackend>> QsdVolumeBackend::Open(
    QsdBackendOptions options) {
  if (options.state_dir.empty()) return absl::InvalidArgumentError("qsd backend: no state dir");
  options.state_dir = std::filesystem::absolute(options.state_dir).lexically_normal().string();
  if (options.nbd_advertise_host.empty()) options.nbd_advertise_host = options.nbd_listen_host;
  std::unique_ptr<QsdVolumeBackend> b(new QsdVolumeBackend(std::move(options)));
  const std::string& dir = b->options_.state_dir;
  MC_RETURN_IF_ERROR(file::EnsureDirectoryMode(dir, 0700));
  MC_ASSIGN_OR_RETURN(const std::string layers, file::PathUnder(dir, {"layers"}));
  MC_RETURN_IF_ERROR(file::EnsureDirectoryMode(layers, 0700));
  MC_ASSIGN_OR_RETURN(b->manifest_path_, file::PathUnder(dir, {"manifest.json"}));
  std::ifstream in(b->manifest_path_);
  if (in) {
    std::stringstream text;
    text << in.rdbuf();
    MC_ASSIGN_OR_RETURN(b->manifest_, ParseManifest(text.str()));
  }
  if (b->options_.nbd_tls) {
    MC_ASSIGN_OR_RETURN(const std::string tls_dir, file::PathUnder(dir, {"nbd-tls"}));
    MC_RETURN_IF_ERROR(
        storage::WriteQemuTlsDir(tls_dir, storage::QemuTlsEndpoint::kServer, *b->options_.nbd_tls));
  }
  // A daemon an earlier run left behind still holds the NBD port: end it before binding.
  MC_ASSIGN_OR_RETURN(const std::string pid_file, file::PathUnder(dir, {"qsd.pid"}));
  EndStaleDaemon(pid_file);
  MC_ASSIGN_OR_RETURN(b->nbd_listener_,
                      ListenNbd(b->options_.nbd_listen_host, b->options_.nbd_listen_port));
  std::lock_guard lock(b->mu_);
  MC_RETURN_IF_ERROR(b->StartDaemonLocked());
  return b;
}

QsdVolumeBackend::~QsdVolumeBackend() {
  std::lock_guard lock(mu_);
  qsd_.reset();  // quits the daemon; the manifest keeps which volumes are exported
}

absl::Status QsdVolumeBackend::StartDaemonLocked() {
  qsd_.reset();
  file_aio_ = options_.file_aio;
  const std::string& dir = options_.state_dir;
  QsdLaunch launch{.binary = options_.qsd_binary};
  MC_ASSIGN_OR_RETURN(launch.qmp_socket, file::PathUnder(dir, {"qsd.qmp"}));
  MC_ASSIGN_OR_RETURN(launch.pid_file, file::PathUnder(dir, {"qsd.pid"}));
  MC_ASSIGN_OR_RETURN(launch.log_file, file::PathUnder(dir, {"qsd.log"}));
  // The NBD server starts from the command line: only there does QEMU 7.2 take a listening
  // socket by descriptor number (qemu-storage-daemon has no QMP getfd). JSON arguments, so no
  // path needs QemuOpts escaping.
  nlohmann::json server = {{"addr", {{"type", "fd"}, {"str", "3"}}}};
  if (options_.nbd_tls) {
    MC_ASSIGN_OR_RETURN(const std::string tls_dir, file::PathUnder(dir, {"nbd-tls"}));
    const nlohmann::json creds = {{"qom-type", "tls-creds-x509"},
                                  {"id", kNbdTlsCreds},
                                  {"dir", tls_dir},
                                  {"endpoint", "server"},
                                  {"verify-peer", true}};
    launch.args = {"--object", creds.dump(), "--object", NbdAuthzObject().dump()};
    server["tls-creds"] = kNbdTlsCreds;
    server["tls-authz"] = kNbdAuthz;
  }
  launch.args.push_back("--nbd-server");
  launch.args.push_back(server.dump());
  launch.fd3 = nbd_listener_.fd.get();
  absl::StatusOr<QsdProcess> process = QsdProcess::Start(launch, options_.qmp_timeout);
  if (!process.ok()) {
    return Annotate(process.status(),
                    absl::StrCat("qemu-storage-daemon with NBD on ", options_.nbd_listen_host, ":",
                                 nbd_listener_.port));
  }
  qsd_.emplace(*std::move(process));
  return RecoverLocked();
}

absl::Status QsdVolumeBackend::EnsureDaemonLocked() {
  if (qsd_ && qsd_->Alive() && !qsd_->qmp().broken()) return absl::OkStatus();
  spdlog::warn("qemu-storage-daemon is gone or does not answer; restarting it and recovering {}",
               options_.state_dir);
  return Annotate(StartDaemonLocked(), "restart qemu-storage-daemon");
}

absl::StatusOr<std::string> QsdVolumeBackend::LayerPath(int64_t n) const {
  return file::PathUnder(options_.state_dir, {"layers", absl::StrCat(n, ".qcow2")});
}

absl::Status QsdVolumeBackend::OpenLayerLocked(int64_t n, int64_t backing) {
  MC_ASSIGN_OR_RETURN(const std::string path, LayerPath(n));
  auto open = [&] {
    nlohmann::json args = {{"driver", "qcow2"},
                           {"node-name", absl::StrCat("l", n)},
                           {"discard", "unmap"},
                           {"file", {{"driver", "file"}, {"filename", path}, {"aio", file_aio_}}}};
    args["backing"] =
        backing == 0 ? nlohmann::json(nullptr) : nlohmann::json(absl::StrCat("l", backing));
    return qsd_->qmp().Execute("blockdev-add", args).status();
  };
  absl::Status s = open();
  if (!s.ok() && file_aio_ != "threads" && absl::StrContains(s.message(), file_aio_)) {
    spdlog::warn("qemu-storage-daemon cannot use aio={} ({}); layer files use its thread pool",
                 file_aio_, s.message());
    file_aio_ = "threads";
    s = open();
  }
  return Annotate(s, absl::StrCat("open layer ", n));
}

absl::Status QsdVolumeBackend::SaveLocked() {
  return file::WriteFileAtomic(manifest_path_, SerializeManifest(manifest_), 0600);
}

absl::Status QsdVolumeBackend::SaveOrRestoreLocked(LayerManifest before) {
  absl::Status s = SaveLocked();
  if (!s.ok()) manifest_ = std::move(before);
  return s;
}

absl::Status QsdVolumeBackend::RecoverLocked() {
  // Undo a snapshot whose new top layer never came to be (crash before or during
  // blockdev-snapshot-sync): the volume's top goes back to the frozen layer, the snapshot goes.
  auto undo_pending = [&](int64_t n) {
    const int64_t below = manifest_.layers[n].backing;
    for (auto& [id, v] : manifest_.volumes) {
      if (v.top == n) v.top = below;
    }
    std::erase_if(manifest_.snapshots, [&](const auto& kv) { return kv.second.layer == below; });
    manifest_.layers.erase(n);
    spdlog::warn("undid an unfinished snapshot (layer {} over {})", n, below);
  };
  // Layers in number order: a backing layer is always older than what it backs.
  std::vector<int64_t> order;
  for (const auto& [n, l] : manifest_.layers) order.push_back(n);
  for (int64_t n : order) {
    auto it = manifest_.layers.find(n);
    if (it == manifest_.layers.end()) continue;
    MC_ASSIGN_OR_RETURN(const std::string path, LayerPath(n));
    const bool exists = std::filesystem::exists(path);
    if (it->second.pending) {
      if (exists && OpenLayerLocked(n, it->second.backing).ok()) {
        it->second.pending = false;
      } else {
        undo_pending(n);
        std::error_code ec;
        std::filesystem::remove(path, ec);
      }
      continue;
    }
    MC_RETURN_IF_ERROR(Annotate(OpenLayerLocked(n, it->second.backing),
                                absl::StrCat("recover ", options_.state_dir)));
  }
  // A grow whose manifest write was lost: the file's size is the truth.
  absl::StatusOr<nlohmann::json> nodes =
      qsd_->qmp().Execute("query-named-block-nodes", {{"flat", true}});
  if (nodes.ok()) {
    std::map<std::string, uint64_t> sizes;
    for (const auto& node : *nodes) {
      if (node.contains("node-name") && node.contains("image")) {
        sizes[node["node-name"].get<std::string>()] =
            node["image"].value("virtual-size", uint64_t{0});
      }
    }
    for (auto& [id, v] : manifest_.volumes) {
      auto s = sizes.find(absl::StrCat("l", v.top));
      if (s != sizes.end() && s->second > v.size_bytes + v.crypt_header_bytes) {
        v.size_bytes = s->second - v.crypt_header_bytes;
      }
    }
  }
  CollectGarbageLocked();
  for (auto& [id, v] : manifest_.volumes) {
    if (!v.exported) continue;
    absl::Status s = AddExportLocked(id, v.top);
    if (!s.ok()) {
      spdlog::error("re-export of {} failed: {}", id, s.ToString());
      v.exported = false;
    }
  }
  return SaveLocked();
}

void QsdVolumeBackend::CollectGarbageLocked() {
  const std::map<int64_t, bool> live = LiveLayers(manifest_);
  // Newest first: whatever backs onto a dead layer is newer and dead too, so it goes first.
  std::vector<int64_t> dead;
  for (auto it = manifest_.layers.rbegin(); it != manifest_.layers.rend(); ++it) {
    if (!live.contains(it->first)) dead.push_back(it->first);
  }
  for (int64_t n : dead) {
    absl::Status s =
        qsd_->qmp().Execute("blockdev-del", {{"node-name", absl::StrCat("l", n)}}).status();
    if (!s.ok() && !absl::IsNotFound(s)) spdlog::warn("close layer {}: {}", n, s.ToString());
    absl::StatusOr<std::string> path = LayerPath(n);
    std::error_code ec;
    if (path.ok()) std::filesystem::remove(*path, ec);
    manifest_.layers.erase(n);
  }
  // Files no layer owns: a create that crashed before its manifest write.
  absl::StatusOr<std::string> dir = file::PathUnder(options_.state_dir, {"layers"});
  if (!dir.ok()) return;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(*dir, ec)) {
    absl::string_view name = entry.path().filename().native();
    int64_t n = 0;
    if (absl::ConsumeSuffix(&name, ".qcow2") && absl::SimpleAtoi(name, &n) &&
        manifest_.layers.contains(n)) {
      continue;
    }
    spdlog::info("removing stray file {}", entry.path().string());
    std::error_code rm_ec;
    std::filesystem::remove(entry.path(), rm_ec);
  }
}

absl::Status QsdVolumeBackend::AddExportLocked(absl::string_view volume_id, int64_t top) {
  const nlohmann::json args = {{"type", "nbd"},
                               {"id", std::string(volume_id)},
                               {"node-name", absl::StrCat("l", top)},
                               {"name", std::string(volume_id)},
                               {"writable", true}};
  // An export of the same id that is still shutting down refuses the id for a moment.
  absl::Status s;
  for (int attempt = 0; attempt < 100; ++attempt) {
    s = qsd_->qmp().Execute("block-export-add", args).status();
    if (s.ok()) return s;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return s;
}

absl::Status QsdVolumeBackend::RemoveExportLocked(absl::string_view volume_id) {
  absl::Status del =
      qsd_->qmp()
          .Execute("block-export-del", {{"id", std::string(volume_id)}, {"mode", "hard"}})
          .status();
  // Gone once query-block-exports no longer lists it (hard mode cuts clients, which can take a
  // moment); a delete that failed because it was already gone is fine.
  for (int attempt = 0; attempt < 200; ++attempt) {
    MC_ASSIGN_OR_RETURN(const nlohmann::json exports, qsd_->qmp().Execute("query-block-exports"));
    bool present = false;
    for (const auto& e : exports) present = present || e.value("id", "") == volume_id;
    if (!present) return absl::OkStatus();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return del.ok() ? absl::DeadlineExceededError("export still shutting down") : del;
}

uint64_t QsdVolumeBackend::StoredBytes(int64_t layer) const {
  absl::StatusOr<std::string> path = LayerPath(layer);
  struct stat st {};
  if (!path.ok() || stat(path->c_str(), &st) != 0) return 0;
  return static_cast<uint64_t>(st.st_blocks) * 512;
}

int QsdVolumeBackend::DaemonPidForTest() {
  std::lock_guard lock(mu_);
  return qsd_ && qsd_->Alive() ? qsd_->pid() : -1;
}

std::string QsdVolumeBackend::FileAioForTest() {
  std::lock_guard lock(mu_);
  return file_aio_;
}

}  // namespace minicloud::volume
