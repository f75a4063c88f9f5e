#include "volume/backend/qsd/layer_manifest.h"

#include <nlohmann/json.hpp>
#include <set>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "volume/backend/volume_backend.h"

namespace minicloud::volume {

std::string SerializeManifest(const LayerManifest& m) {
  nlohmann::json j;
  j["version"] = 1;
  j["next_layer"] = m.next_layer;
  j["layers"] = nlohmann::json::object();
  for (const auto& [n, l] : m.layers) {
    j["layers"][std::to_string(n)] = {{"backing", l.backing}, {"pending", l.pending}};
  }
  j["volumes"] = nlohmann::json::object();
  for (const auto& [id, v] : m.volumes) {
    j["volumes"][id] = {{"top", v.top},
                        {"size_bytes", v.size_bytes},
                        {"snapshot_id", v.snapshot_id},
                        {"exported", v.exported},
                        {"crypt_header_bytes", v.crypt_header_bytes}};
  }
  j["snapshots"] = nlohmann::json::object();
  for (const auto& [id, s] : m.snapshots) {
    j["snapshots"][id] = {{"volume_id", s.volume_id},
                          {"layer", s.layer},
                          {"size_bytes", s.size_bytes},
                          {"crypt_header_bytes", s.crypt_header_bytes}};
  }
  return j.dump(1) + "\n";
}

namespace {

absl::Status CheckLayerRef(const LayerManifest& m, int64_t n, const std::string& where) {
  if (!m.layers.contains(n)) {
    return absl::InvalidArgumentError(
        absl::StrCat("manifest: ", where, " names layer ", n, ", which is not in the manifest"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<LayerManifest> ParseManifest(const std::string& text) {
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::InvalidArgumentError("manifest: not a JSON object");
  }
  LayerManifest m;
  try {
    if (j.at("version").get<int>() != 1) {
      return absl::InvalidArgumentError("manifest: unknown version");
    }
    m.next_layer = j.at("next_layer").get<int64_t>();
    for (const auto& [key, l] : j.at("layers").items()) {
      size_t used = 0;
      const int64_t n = std::stoll(key, &used);
      if (used != key.size() || n <= 0 || n >= m.next_layer) {
        return absl::InvalidArgumentError(absl::StrCat("manifest: bad layer number ", key));
      }
      m.layers[n] = {l.at("backing").get<int64_t>(), l.at("pending").get<bool>()};
    }
    for (const auto& [id, v] : j.at("volumes").items()) {
      MC_RETURN_IF_ERROR(Annotate(CheckBackendId(id, "volume id"), "manifest"));
      m.volumes[id] = {v.at("top").get<int64_t>(), v.at("size_bytes").get<uint64_t>(),
                       v.at("snapshot_id").get<std::string>(), v.at("exported").get<bool>(),
                       // absent in manifests written before encryption: a plain volume
                       v.value("crypt_header_bytes", uint64_t{0})};
    }
    for (const auto& [id, s] : j.at("snapshots").items()) {
      MC_RETURN_IF_ERROR(Annotate(CheckBackendId(id, "snapshot id"), "manifest"));
      m.snapshots[id] = {s.at("volume_id").get<std::string>(), s.at("layer").get<int64_t>(),
                         s.at("size_bytes").get<uint64_t>(),
                         s.value("crypt_header_bytes", uint64_t{0})};
    }
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("manifest: ", e.what()));
  }
  for (const auto& [n, l] : m.layers) {
    if (l.backing != 0) {
      MC_RETURN_IF_ERROR(CheckLayerRef(m, l.backing, absl::StrCat("layer ", n)));
    }
    // Backing links go to older layers only, so there is no cycle.
    if (l.backing >= n) {
      return absl::InvalidArgumentError(
          absl::StrCat("manifest: layer ", n, " backed by newer layer ", l.backing));
    }
  }
  for (const auto& [id, v] : m.volumes) {
    MC_RETURN_IF_ERROR(CheckLayerRef(m, v.top, absl::StrCat("volume ", id)));
  }
  for (const auto& [id, s] : m.snapshots) {
    MC_RETURN_IF_ERROR(CheckLayerRef(m, s.layer, absl::StrCat("snapshot ", id)));
  }
  return m;
}

std::map<int64_t, bool> LiveLayers(const LayerManifest& m) {
  std::map<int64_t, bool> live;
  auto mark = [&](int64_t n) {
    while (n != 0 && !live[n]) {
      live[n] = true;
      auto it = m.layers.find(n);
      n = it == m.layers.end() ? 0 : it->second.backing;
    }
  };
  for (const auto& [id, v] : m.volumes) mark(v.top);
  for (const auto& [id, s] : m.snapshots) mark(s.layer);
  return live;
}

}  // namespace minicloud::volume
